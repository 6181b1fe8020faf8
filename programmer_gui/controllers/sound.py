"""The alarm tones aloud: a :class:`~programmer_gui.tone_player.TonePlayer` driven by a
:class:`~programmer_gui.core.audio.ToneScheduler`, shown on a
:class:`~programmer_gui.views.sound_panel.SoundPanel`.

The educator's window calls :meth:`SoundController.follow` with every sample (the
pattern sounding, pump time, speed); the programmer's alarm test calls
:meth:`SoundController.play_once`. Without a sound device the panel says so, and
both keep showing the pattern, its next repeat and the skips.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from programmer_gui.core.audio import (
    ToneDecision,
    ToneScheduler,
    next_repeat_text,
    skipped_text,
)
from programmer_gui.tone_player import TonePlayer
from programmer_gui.views.sound_panel import SoundPanel
from protocol.tones import TonePattern


class SoundController(QObject):
    """Drives one sound panel; ``player`` and ``wall`` are injectable (tests)."""

    def __init__(
        self,
        panel: SoundPanel,
        *,
        player: TonePlayer | None = None,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(panel)
        self.panel = panel
        self.player = player or TonePlayer(self)
        self.scheduler = ToneScheduler(wall=wall)
        self.last: ToneDecision | None = None
        panel.mute.toggled.connect(self.set_muted)
        if player is None:
            # Finding the sound output starts Qt Multimedia (tens of ms): once the event
            # loop runs, not before the programmer's first window.
            QTimer.singleShot(0, self, self._show_device)
        else:
            self._show_device()
        panel.next_text.setText("No alarm tone due.")

    def _show_device(self) -> None:
        self.panel.device_text.setText(self.player.status_text)

    def set_muted(self, muted: bool) -> None:
        self.scheduler.muted = muted
        if muted:
            self.player.stop()
        if self.panel.mute.isChecked() != muted:
            self.panel.mute.setChecked(muted)

    def follow(
        self,
        pattern: TonePattern | None,
        *,
        pump_s: int,
        speed: float,
        first_due_pump_s: int | None = None,
    ) -> ToneDecision:
        """One step of a running simulation: play the pattern when a repeat is due."""
        decision = self.scheduler.update(
            pattern, pump_s=pump_s, speed=speed, first_due_pump_s=first_due_pump_s
        )
        if decision.play is not None:
            self.player.play(decision.play)
        if pattern is None:
            self.player.stop()
        self.last = decision
        self.panel.next_text.setText(next_repeat_text(decision, pump_s=pump_s))
        self.panel.skipped_text.setText(skipped_text(decision))
        return decision

    def play_once(self, pattern: TonePattern) -> bool:
        """Play one pattern now (the alarm test), unless muted; True when it is heard."""
        if self.scheduler.muted:
            self.panel.device_text.setText(f"{self.player.status_text} (muted)")
            return False
        heard = self.player.play(pattern)
        self.panel.device_text.setText(
            f"{self.player.status_text}: playing {pattern.label.lower()}."
            if heard
            else self.player.status_text
        )
        return heard

    def stop(self) -> None:
        self.player.stop()
