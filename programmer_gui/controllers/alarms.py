"""Alarms: the list refreshed with every snapshot, silence and clear, the alarm volume, the
tone test.

A clear the pump refuses (its condition persists) shows the pump's own reason.
The tone test steps a visible lamp through the pattern's timing with a timer.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.controllers.sound import SoundController
from programmer_gui.core import InputError
from programmer_gui.core.alarms import (
    ALARM_VOLUME,
    GUIDE,
    TONES,
    AlarmRow,
    alarm_rows,
    build_alarm_volume_review,
    plan_alarm_volume,
    segment_at,
)
from programmer_gui.core.audio import format_pump_clock, next_repeat_at
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import describe_error
from programmer_gui.views.alarms import AlarmsPage, without_symbol
from programmer_gui.views.widgets import Severity, ask_confirmation, connect_clicked
from protocol import units
from protocol.client import PumpClient
from protocol.enums import AlarmClass, AlarmCode, ErrorCode
from protocol.errors import NakError
from protocol.tones import TonePattern, pattern_for
from protocol.units import format_duration

TONE_TICK_MS = 50
PAST = {"silence": "silenced", "clear": "cleared"}


class AlarmsController(Workflow):
    """Drives the alarms page."""

    page = WorkflowPage("alarms", "Alarms", AlarmsPage, at_start=True)
    """Built with the window: its tones sound whichever page shows."""

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.pattern: TonePattern | None = None
        self.clock = QElapsedTimer()
        self.elapsed_ms: Callable[[], int] = self.clock.elapsed
        """The tone test's clock (tests replace it)."""
        self.timer = QTimer(self)
        self.timer.setInterval(TONE_TICK_MS)
        self.timer.timeout.connect(self.tone_tick)
        self.confirm: Callable[[str, str], bool] = lambda action, text: ask_confirmation(
            self.page,
            action.replace("&", ""),
            text,
            yes_text=action,
            no_text="&Go back (do nothing)",
        )
        """Asks before an alarm is silenced or cleared, naming it: ``confirm(action, text)``,
        the action (with its mnemonic) being the button that goes ahead and, without the
        mnemonic, the dialog's title (tests replace it)."""
        self.link.snapshot.connect(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        connect_clicked(page.silence_button, lambda: self._alarm_job("silence"))
        connect_clicked(page.clear_button, lambda: self._alarm_job("clear"))
        page.volume_edit.textEdited.connect(lambda _t: self._update_volume())
        page.volume_edit.returnPressed.connect(self.open_volume_review)
        connect_clicked(page.volume_button, self.open_volume_review)
        connect_clicked(page.critical_button, lambda: self.play(AlarmClass.CRITICAL))
        connect_clicked(page.noncritical_button, lambda: self.play(AlarmClass.NON_CRITICAL))
        self.sound = SoundController(page.sound)
        """Plays the tone test aloud (when there is a sound device) and shows the next repeat
        of the tone the pump is sounding."""
        page.table.itemSelectionChanged.connect(self._update_buttons)
        self._update_volume()

    # -- the list -----------------------------------------------------------------------------

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        before = self.snapshot
        self.snapshot = snapshot
        selected = self.selected_code()
        rows = alarm_rows(snapshot)
        known = set() if before is None else {a.code for a in before.alarms}
        raised_critical = [
            r
            for r, row in enumerate(rows)
            if row.alarm_class is AlarmClass.CRITICAL and row.code not in known
        ]
        self.page.set_alarms(rows)
        on_noncritical = any(
            row.code is selected and row.alarm_class is AlarmClass.NON_CRITICAL for row in rows
        )
        if raised_critical and (selected is None or on_noncritical):
            # A new critical alarm takes the selection: a click or key meant for the row that
            # was selected must not act on a less urgent alarm.
            self.page.table.selectRow(raised_critical[0])
        else:
            for r, row in enumerate(rows):
                if row.code is selected:
                    self.page.table.selectRow(r)
        self.page.volume_now.setText(units.format_volume_nl(snapshot.status.alarm_volume_nl))
        self.page.sound.next_text.setText(pump_tone_text(snapshot))
        self._update_buttons()
        self._update_volume()

    def selected_code(self) -> AlarmCode | None:
        item = self.page.table.item(self.page.table.currentRow(), 0)
        if item is None:
            return None
        return AlarmCode(int(item.data(Qt.ItemDataRole.UserRole)))

    def _update_buttons(self) -> None:
        has = self.selected_code() is not None
        self.page.silence_button.setEnabled(has)
        self.page.clear_button.setEnabled(has)

    def _alarm_job(self, what: str) -> None:
        code = self.selected_code()
        if code is None:
            return
        title = GUIDE[code].title
        row = self._row(code)
        raised = "" if row is None else f", raised {row.raised}"
        kind = "" if row is None else f"{without_symbol(row.class_text).lower()} "
        question = f"{what.capitalize()} the {kind}alarm \u201c{title}\u201d{raised}?" + (
            "\n\nThe tone stops; the alarm stays in the list until its condition is gone."
            if what == "silence"
            else "\n\nThe pump clears it only if its condition is gone."
        )
        if not self.confirm(f"&{what.capitalize()} \u201c{title}\u201d", question):
            return

        def job(client: PumpClient) -> None:
            if what == "silence":
                client.silence_alarm(code)
            else:
                client.clear_alarm(code)

        def done(_result: None) -> None:
            latest = self.link.latest
            action = "Alarm silenced" if what == "silence" else "Alarm cleared"
            self.record.record(
                action,
                title,
                pump_clock_s=None if latest is None else latest.pump_clock_s,
                wall_s=self.link.wall(),
            )
            self.page.message.set_status(Severity.OK, f"{action}: {title}.")

        def failed(error: Exception) -> None:
            if isinstance(error, NakError) and error.code is ErrorCode.CONDITION_PERSISTS:
                self.page.message.set_status(
                    Severity.CRITICAL,
                    f"The pump refused to {what} \u201c{title}\u201d: its condition is still "
                    f"present. {GUIDE[code].what_to_do}",
                )
            else:
                self.page.message.set_status(
                    Severity.CRITICAL,
                    f"\u201c{title}\u201d was not {PAST[what]}: {describe_error(error)}",
                )

        self.link.submit(job, on_done=done, on_error=failed, refresh=True)

    def _row(self, code: AlarmCode) -> AlarmRow | None:
        if self.snapshot is None:
            return None
        return next((r for r in alarm_rows(self.snapshot) if r.code is code), None)

    # -- alarm volume ---------------------------------------------------------------------------

    def _volume_plan(self) -> tuple[int, str] | None:
        snapshot = self.snapshot
        text = self.page.volume_edit.text()
        if snapshot is None or snapshot.prescription is None or not text.strip():
            return None
        volume_nl = units.ml_to_nl(ALARM_VOLUME.parse(text))
        plan = plan_alarm_volume(volume_nl, snapshot=snapshot)
        effect = (
            f"{format_pump_date(snapshot, plan.alarm_at_before_s)} → "
            f"{format_pump_date(snapshot, plan.alarm_at_after_s)}"
        )
        return volume_nl, effect

    def _update_volume(self) -> None:
        page = self.page
        page.volume_button.setEnabled(False)
        try:
            found = self._volume_plan()
        except InputError as exc:
            page.volume_effect.setText(exc.message)
            return
        if found is None:
            page.volume_effect.setText("— (type a new volume to see its alarm date)")
            return
        page.volume_effect.setText(found[1])
        page.volume_button.setEnabled(True)

    def open_volume_review(self) -> None:
        snapshot = self.snapshot
        try:
            found = self._volume_plan()
        except InputError:
            return
        if snapshot is None or found is None:
            return
        review = build_alarm_volume_review(plan_alarm_volume(found[0], snapshot=snapshot), snapshot)

        def programmed(after: PumpSnapshot) -> None:
            self.page.volume_edit.clear()
            self.on_snapshot(after)
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)

    # -- tone test ------------------------------------------------------------------------------

    def play(self, alarm_class: AlarmClass) -> None:
        """Show (and describe) one play of the class's tone pattern, of the connected pump's
        model, and play it aloud when there is a sound device and it is not muted."""
        device = self.link.device
        self.pattern = (
            TONES[alarm_class] if device is None else pattern_for(device.model, alarm_class)
        )
        self.sound.play_once(self.pattern)
        self.page.tone_text.setText(f"{self.pattern.label}: {self.pattern.describe()}.")
        self.clock.start()
        self.timer.start()
        self.tone_tick()

    def tone_tick(self) -> None:
        """Light the lamp for the segment sounding now; stop after the pattern."""
        pattern = self.pattern
        if pattern is None:
            self.timer.stop()
            return
        segment = segment_at(pattern, int(self.elapsed_ms()))
        self.page.lamp.set_tone(None if segment is None else segment.frequency_hz)
        if segment is None:
            self.timer.stop()
            self.pattern = None


def pump_tone_text(snapshot: PumpSnapshot) -> str:
    """The tone the pump is sounding now and when it next repeats (pump clock)."""
    sounding = [a for a in snapshot.alarms if not a.silenced]
    if not sounding:
        return "The pump is sounding no alarm tone."
    loudest = max(sounding, key=lambda a: (a.alarm_class, -a.raised_at_s))
    pattern = pattern_for(snapshot.device.model, loudest.alarm_class)
    due = next_repeat_at(
        raised_at_s=loudest.raised_at_s, repeat_s=pattern.repeat_s, now_s=snapshot.pump_clock_s
    )
    wait_s = due - snapshot.pump_clock_s
    return (
        f"Sounding on the pump: {GUIDE[loudest.code].title}, {pattern.describe()}. "
        f"Next repeat due at {format_pump_clock(due)} pump time "
        f"({'now' if wait_s == 0 else f'in {format_duration(wait_s)}'})."
    )


install = AlarmsController.install
"""The alarms page."""
