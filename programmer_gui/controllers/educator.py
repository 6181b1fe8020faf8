"""The educator's window: wiring between an :class:`EducatorBackend` and its widgets.

In demo mode :class:`EducatorLauncher` (built by ``app.py``) opens the window
with :func:`open_educator_window` beside the programmer as soon as a demo pump
starts, re-opens it from the programmer's "Demo" menu, and closes it with the
programmer; a clinical (non-demo) session never shows it. A ``QTimer`` samples
the true state at :data:`REFRESH_INTERVAL_MS` (one :meth:`EducatorBackend.sample`
per tick, so the GUI thread stays free) and redraws the figures and the rolling
plot; the wire feed arrives on the simulation's thread and reaches the GUI thread
through a queued signal, where it is decoded into inspector rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, TypeVar, cast

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton, QWidget

from programmer_gui.controllers.sound import SoundController
from programmer_gui.core.audio import sounding_pattern
from programmer_gui.core.educator import (
    BRIDGE_BOLUS,
    DAY_S,
    HOUR_S,
    LOW_RESERVOIR,
    MRI_WITH_CHECK,
    MRI_WITHOUT_CHECK,
    SCENARIOS,
    TITRATING_A_DOSE,
    BridgeComparison,
    EducatorBackend,
    EducatorError,
    PatientRisk,
    SampleHistory,
    Scenario,
    SpeedSetting,
    TrueSample,
    WireChunk,
    WireDecoder,
    auto_window_s,
    bridge_lesson,
    describe_elapsed,
    format_pump_time,
    low_reservoir_jump_s,
)
from programmer_gui.core.response import (
    describe_tone,
    response_markers,
    risk_detail,
    titration_lesson,
)
from programmer_gui.views.main_window import PROGRAMMER_PREFERRED_SIZE, MainWindow
from programmer_gui.views.widgets import Severity, tile_side_by_side
from protocol.enums import AlarmClass, AlarmCode
from protocol.mri_lesson import mri_lesson_numbers
from protocol.units import (
    format_concentration_ug_per_ml,
    format_dose_ug_per_day,
    format_fixed,
    format_volume_nl,
)

if TYPE_CHECKING:
    # pyqtgraph and numpy load with the window, when a demo pump first opens it.
    from programmer_gui.views.educator import EducatorWindow

__all__ = [
    "REFRESH_INTERVAL_MS",
    "EducatorController",
    "EducatorLauncher",
    "open_educator_window",
]

REFRESH_INTERVAL_MS = 200
"""The figures and the plot refresh at 5 Hz."""

HOUR_STEP_SAMPLES = 12
"""+1 hour is taken in 5-minute parts, so the plot shows what happened inside it."""
DAY_STEP_SAMPLES = 48
"""+1 day in 30-minute parts."""
MAX_JUMP_SAMPLES = 150
"""A jump to an alarm months away is plotted about once a day (and stays quick)."""

T = TypeVar("T")

_RISK_SEVERITY = {
    PatientRisk.NORMAL: Severity.OK,
    PatientRisk.WITHDRAWAL_RISK: Severity.CRITICAL,
    PatientRisk.OVERDOSE_RISK: Severity.CRITICAL,
}


MRI_SCAN_S = 45 * 60
"""The educator's MRI scan: 45 min of pump time in the field."""


class _WireRelay(QObject):
    """Carries chunks from the simulation's thread to the GUI thread."""

    chunk = Signal(object)


class EducatorController(QObject):
    """Runs one educator window: the refresh timer, the controls and the wire feed."""

    def __init__(
        self,
        backend: EducatorBackend,
        view: EducatorWindow,
        *,
        tz: tzinfo | None = None,
        refresh_interval_ms: int = REFRESH_INTERVAL_MS,
    ) -> None:
        super().__init__(view)
        self.backend = backend
        self.view = view
        self.facts = backend.facts
        self.tz = tz
        self.history = SampleHistory(start_pump_s=self.facts.start_pump_s)
        self.decoder = WireDecoder(tz=tz)
        self.scenario: Scenario | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_interval_ms)
        self.timer.timeout.connect(self.refresh)
        self._relay = _WireRelay(self)
        self._relay.chunk.connect(self._on_chunk, Qt.ConnectionType.QueuedConnection)
        self._subscribed = False
        self._seen: set[WireChunk] = set()
        self._last_chunk: WireChunk | None = None
        self._wire_callback: Callable[[WireChunk], None] = self._relay.chunk.emit
        self._plot_dirty = True
        self._shown_span_s = 0
        """Pump time the plot keeps in view after steps, beyond the speed's own window."""
        self.sound = SoundController(view.sound_panel)
        """Plays the sounding alarm's pattern as pump time reaches each repeat."""
        self._wire()
        view.show_scenario(None)
        view.shown.connect(self.start)
        view.closed.connect(self.stop)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the wire, take the frames recorded so far, start refreshing."""
        if not self._subscribed:
            self.backend.subscribe_wire(self._wire_callback)
            self._subscribed = True
            history = self.backend.wire_history()
            if self._last_chunk in history:  # open before: only what came while closed
                history = history[history.index(self._last_chunk) + 1 :]
            # Chunks recorded between the subscription and this read arrive twice.
            self._seen = set(history)
            self._feed(history)
        first = not self.timer.isActive() and self.history.latest is None
        if not self.timer.isActive():
            self.timer.start()
        sample = self.refresh()
        if first and sample is not None:
            self.view.battery_spin.setValue(round(sample.faults.battery_permille / 10))

    def stop(self) -> None:
        """Stop refreshing and leave the wire (the window was closed)."""
        self.timer.stop()
        self.sound.stop()
        if self._subscribed:
            self.backend.unsubscribe_wire(self._wire_callback)
            self._subscribed = False

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def _on_chunk(self, chunk: object) -> None:
        if not isinstance(chunk, WireChunk) or not self._subscribed:
            return
        if self._seen:
            if chunk in self._seen:
                self._seen.discard(chunk)
                return
            self._seen.clear()
        self._feed((chunk,))

    def _feed(self, chunks: Sequence[WireChunk]) -> None:
        if chunks:
            self._last_chunk = chunks[-1]
            self.view.inspector.add_entries(self.decoder.feed_all(chunks))

    # -- controls -----------------------------------------------------------------------------

    def _wire(self) -> None:
        view = self.view
        view.speed_group.idClicked.connect(self._speed_clicked)
        view.step_hour.clicked.connect(lambda: self.step(HOUR_S, samples=HOUR_STEP_SAMPLES))
        view.step_day.clicked.connect(lambda: self.step(DAY_S, samples=DAY_STEP_SAMPLES))
        view.motor_stall.clicked.connect(self.backend_call(self.backend.set_motor_stall))
        view.link_drop.clicked.connect(self.backend_call(self.backend.set_link_dropped))
        view.link_noise.clicked.connect(self.backend_call(self.backend.set_link_noise))
        view.memory_non_critical.clicked.connect(
            lambda: self._run(lambda: self.backend.inject_memory_error(critical=False))
        )
        view.memory_critical.clicked.connect(
            lambda: self._run(lambda: self.backend.inject_memory_error(critical=True))
        )
        view.low_battery_reset.clicked.connect(lambda: self._run(self.backend.low_battery_reset))
        view.mri_scan.clicked.connect(
            lambda: self._run(lambda: self.backend.mri_scan(MRI_SCAN_S, telemetry_trap=False))
        )
        view.mri_scan_trap.clicked.connect(
            lambda: self._run(lambda: self.backend.mri_scan(MRI_SCAN_S, telemetry_trap=True))
        )
        view.battery_button.clicked.connect(
            lambda: self._run(lambda: self.backend.set_battery_percent(view.battery_spin.value()))
        )
        view.jump_to_alarm.clicked.connect(self.jump_to_low_reservoir_alarm)
        for key, button in view.scenario_buttons.items():
            button.clicked.connect(lambda _checked=False, key=key: self.select_scenario(key))

    def backend_call(self, action: Callable[[bool], None]) -> Callable[[bool], None]:
        """A slot for a toggle button: ``action(checked)``, then a refresh."""
        return lambda checked: self._run(lambda: action(bool(checked)))

    def _run(self, action: Callable[[], T]) -> T | None:
        try:
            result = action()
        except EducatorError as exc:
            self.view.show_error(f"The simulation refused: {exc}")
            self.refresh()
            return None
        self.view.show_error(None)
        self.refresh()
        return result

    def _speed_clicked(self, button_id: int) -> None:
        current = self.backend.speed()
        if button_id == 0:
            self.set_speed(SpeedSetting.stopped(current.factor))
        else:
            self.set_speed(SpeedSetting.running(button_id))

    def set_speed(self, setting: SpeedSetting) -> None:
        self._plot_dirty = True
        self._shown_span_s = 0
        self._run(lambda: self.backend.set_speed(setting))

    def step(self, seconds: int, *, samples: int = 1) -> None:
        """Move pump time forward, plotting the samples taken inside the step."""

        def go() -> None:
            self.history.extend(self.backend.step(seconds, samples=samples))
            # Keep what the step showed in view (plus the hours before it).
            self._shown_span_s = max(self._shown_span_s, seconds + 6 * HOUR_S)

        self._plot_dirty = True
        self._run(go)

    def jump_to_low_reservoir_alarm(self) -> None:
        """Step to just after the pump's own forecast of the low-reservoir alarm."""
        sample = self.backend.sample()
        seconds = low_reservoir_jump_s(sample)
        if seconds is None:
            reason = (
                "the low-reservoir alarm is already on"
                if AlarmCode.LOW_RESERVOIR in sample.alarms_active
                else "the pump forecasts no low-reservoir alarm (is it delivering?)"
            )
            self.view.show_error(f"Nothing to jump to: {reason}.")
            return
        days, rest = divmod(seconds, DAY_S)
        if days >= 2:
            # Whole days first, sampled at the same time of day, so the daily flex profile
            # does not alias into a false wave on the plot; then the rest, hourly.
            self.step(days * DAY_S, samples=min(MAX_JUMP_SAMPLES, days))
            seconds = rest
        if seconds:
            self.step(seconds, samples=max(1, min(MAX_JUMP_SAMPLES, seconds // HOUR_S)))

    def select_scenario(self, key: str | None) -> None:
        self.scenario = next((s for s in SCENARIOS if s.key == key), None)
        self.view.show_scenario(self.scenario)
        if self.scenario is not None:
            self.view.scenario_buttons[self.scenario.key].setChecked(True)
        sample = self.refresh()
        if self.scenario is BRIDGE_BOLUS:
            self.show_bridge_cases(sample)

    def show_bridge_cases(self, sample: TrueSample | None = None) -> BridgeComparison | None:
        """Compute and draw the three cases: from the old drug still in the catheter to the
        reservoir's (after a refill), else from the reservoir's to another commercial one."""
        sample = sample or self.backend.sample()
        reservoir = sample.reservoir_concentration_ug_per_ml
        older = [
            s.concentration_ug_per_ml for s in sample.path if s.concentration_ug_per_ml != reservoir
        ]
        if older:
            old, new = older[0], reservoir
        else:
            old, new = reservoir, 500 if reservoir != 500 else 2000
        try:
            lesson = self.backend.bridge_comparison(
                old_concentration_ug_per_ml=old, new_concentration_ug_per_ml=new
            )
        except EducatorError as exc:
            self.view.show_error(str(exc))
            return None
        band = (lesson.withdrawal_percent, lesson.overdose_percent)
        cases = [
            (
                case.title,
                list(case.hours),
                list(case.level_percent),
                lesson.summary(case.kind),
                band[0] <= case.min_percent and case.max_percent <= band[1],
            )
            for case in lesson.cases
        ]
        dose = format_dose_ug_per_day(lesson.dose_ug_per_day)
        self.view.bridge_cases.show_cases(
            heading=f"A refill from {old} to {new} mcg/mL at {dose}: what reaches the "
            f"patient, and the spinal-fluid level (the band: {band[0]:.0f}-{band[1]:.0f} % of "
            "the established level).",
            cases=cases,
            band=band,
        )
        return lesson

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> TrueSample | None:
        """Sample once and show it (the timer calls this at 5 Hz)."""
        try:
            sample = self.backend.sample()
        except EducatorError as exc:
            self.view.show_error(f"The simulation could not be read: {exc}")
            return None
        if self.history.add(sample) or self._plot_dirty:
            self._draw_plot(sample)
        self._show(sample)
        return sample

    def _draw_plot(self, sample: TrueSample) -> None:
        self._plot_dirty = False
        window_s = max(auto_window_s(sample.speed), self._shown_span_s)
        series = self.history.series(window_s=window_s)
        last = (sample.pump_time_s - self.facts.start_pump_s) / DAY_S
        first = series.x_days[0] if len(series) else last
        self.view.plot.show_series(series, x_range=(max(first, last - window_s / DAY_S), last))
        self.view.plot.show_markers(
            response_markers(sample.response_changes, start_pump_s=self.facts.start_pump_s)
        )

    def _show(self, sample: TrueSample) -> None:
        view = self.view
        facts = self.facts
        view.clock_label.setText(format_pump_time(sample.clock_s, self.tz))
        view.elapsed_label.setText(describe_elapsed(sample.pump_time_s, facts.start_pump_s))
        view.speed_label.setText(sample.speed.describe())
        button: QPushButton | None = (
            view.pause_button
            if sample.speed.paused
            else view.speed_buttons.get(sample.speed.factor)
        )
        if button is not None and not button.isChecked():
            button.setChecked(True)

        faults = sample.faults
        _set_toggle(view.motor_stall, "Motor stall", faults.motor_stall)
        _set_toggle(view.link_drop, "Link drop", faults.link_dropped)
        _set_toggle(view.link_noise, "Link noise", faults.link_noise)
        memory = [
            name
            for name, on in (
                ("non-critical", faults.memory_error_non_critical),
                ("critical (the pump does not deliver)", faults.memory_error_critical),
            )
            if on
        ]
        view.memory_state.setText(
            "Memory error: "
            + (
                " and ".join(memory) + " ON \u2014 a clinician clears it on the Alarms page"
                if memory
                else "none"
            )
        )
        view.battery_state.setText(f"now {format_fixed(faults.battery_permille / 10, 1)} %")

        self._show_tone(sample)

        view.truth_reservoir.setText(format_volume_nl(sample.reservoir_nl))
        view.truth_tip.setText(
            "empty (unprimed)"
            if sample.tip_concentration_ug_per_ml is None
            else format_concentration_ug_per_ml(sample.tip_concentration_ug_per_ml)
        )
        reaching = sample.tip_dose_rate_ug_per_day
        view.truth_reaching.setText(
            "nothing" if reaching is None else format_dose_ug_per_day(reaching)
        )
        share = (
            sample.patient_level_ng_per_ml / sample.reference_ng_per_ml
            if sample.reference_ng_per_ml
            else 0.0
        )
        view.truth_level.setText(
            f"{sample.patient_level_ng_per_ml:.0f} ng/mL ({share * 100:.0f} %)"
        )
        view.truth_tone.setText(describe_tone(sample.muscle_tone))
        view.patient_badge.set_status(
            _RISK_SEVERITY[sample.patient_risk],
            f"Patient: {sample.patient_risk.words}\n{risk_detail(sample)}",
        )
        view.fluid_path.set_path(sample.path, facts.dead_volume_nl)

        if self.scenario is BRIDGE_BOLUS:
            view.scenario_numbers.setText("\n".join(bridge_lesson(sample, facts)))
        elif self.scenario is LOW_RESERVOIR:
            view.scenario_numbers.setText(self._low_reservoir_numbers(sample))
        elif self.scenario is TITRATING_A_DOSE:
            view.scenario_numbers.setText(
                "\n".join(titration_lesson(sample, start_pump_s=facts.start_pump_s))
            )
        elif self.scenario in (MRI_WITH_CHECK, MRI_WITHOUT_CHECK):
            view.scenario_numbers.setText(
                mri_lesson_numbers(
                    self.backend.mri_comparison(), with_check=self.scenario is MRI_WITH_CHECK
                )
            )
        else:
            view.scenario_numbers.setText("")

    def _show_tone(self, sample: TrueSample) -> None:
        view = self.view
        tone = sample.tone
        sounding = [a for a in sample.alarms_active if a not in sample.silenced_alarms]
        if tone is not None:
            critical = any(a.alarm_class is AlarmClass.CRITICAL for a in sounding)
            view.tone_badge.set_status(
                Severity.CRITICAL if critical else Severity.WARNING,
                f"\u266a SOUNDING: {tone.describe()}\n("
                + ", ".join(_alarm_words(a) for a in sounding)
                + ")",
            )
        elif sample.alarms_active:
            view.tone_badge.set_status(
                Severity.INFO,
                "Silent: alarms silenced ("
                + ", ".join(_alarm_words(a) for a in sample.alarms_active)
                + ")",
            )
        else:
            view.tone_badge.set_status(Severity.OK, "Silent: no alarm")
        view.tone_strip.set_pattern(tone, sounding=tone is not None)
        speed = sample.speed
        self.sound.follow(
            None
            if tone is None
            else sounding_pattern(
                tones=tone.tones,
                duration_s=tone.duration_s,
                repeat_s=tone.repeat_s,
                alarm_classes=[a.alarm_class for a in sounding],
            ),
            pump_s=sample.pump_time_s,
            speed=0 if speed.paused else speed.factor,
        )

    def _low_reservoir_numbers(self, sample: TrueSample) -> str:
        if AlarmCode.LOW_RESERVOIR in sample.alarms_active:
            return (
                f"The low-reservoir alarm is ON: {format_volume_nl(sample.reservoir_nl)} left "
                f"(alarm volume {format_volume_nl(sample.alarm_volume_nl)})."
            )
        at = sample.low_reservoir_at_clock_s
        if at is None:
            return "The pump forecasts no low-reservoir alarm."
        days = (at - sample.clock_s) / DAY_S
        return (
            f"The pump forecasts it for {format_pump_time(at, self.tz)} "
            f"(in {days:.1f} days), when {format_volume_nl(sample.alarm_volume_nl)} are left."
        )


def _alarm_words(code: AlarmCode) -> str:
    return code.name.replace("_", " ").lower() + (
        " (critical)" if code.alarm_class is AlarmClass.CRITICAL else ""
    )


def _set_toggle(button: QPushButton, name: str, on: bool) -> None:
    """A fault button shows its state in its text (and a mark) as well as pressed/unpressed."""
    mnemonic = button.text().find("&")
    text = f"\u25cf {name}: ON" if on else f"{name}: off"
    if mnemonic >= 0:
        # Keep the button's keyboard mnemonic on the same letter.
        letter = button.text()[mnemonic + 1]
        at = text.find(letter)
        if at >= 0:
            text = text[:at] + "&" + text[at:]
    if button.text() != text:
        button.setText(text)
    if button.isChecked() != on:
        button.setChecked(on)
    button.setAccessibleDescription("on" if on else "off")


def open_educator_window(
    backend: EducatorBackend,
    parent: QWidget | None = None,
    *,
    tz: tzinfo | None = None,
) -> EducatorWindow:
    """Open the educator's window over ``backend`` (demo mode) and return it, shown.

    The window is a top-level window even with a ``parent``; it refreshes while shown,
    and closing it stops its timer and leaves the wire feed (the backend stays open: the
    caller owns it). ``tz`` is the time zone dates are shown in (local by default).
    """
    from programmer_gui.views.educator import EducatorWindow  # noqa: PLC0415 - pyqtgraph now

    window = EducatorWindow(start_pump_s=backend.facts.start_pump_s, tz=tz, parent=parent)
    EducatorController(backend, window, tz=tz)
    window.show()
    return window


BESIDE_GAP_PX = 8
PROGRAMMER_LEAST_BESIDE_PX = 760
"""The programmer is tiled beside the educator only if it keeps at least this width (a
page beside the page list: so on a 1920 px projector, at 125 % too, not on a 1366 px
laptop)."""
"""Space between the programmer's window and the educator's, placed to its right."""


class EducatorLauncher(QObject):
    """Demo mode's educator window beside the programmer's ``window``.

    When the window's ``demo_started`` signal brings a demo pump (it carries the
    ``educator_backend`` it created before any link opened), the educator's window
    opens beside the programmer. Closing it leaves the programmer running; the "Demo"
    menu's "Show the educator's window" re-opens it (with its inspector history).
    When the programmer closes, the educator's window closes too. Nothing happens in
    a session without a demo pump: no window and no menu.
    """

    def __init__(
        self,
        window: MainWindow,
        *,
        tz: tzinfo | None = None,
        opener: Callable[..., EducatorWindow] = open_educator_window,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.tz = tz
        self.opener = opener
        """Opens the window (``open_educator_window``'s signature)."""
        self.backend: EducatorBackend | None = None
        self.educator_window: EducatorWindow | None = None
        self.show_action: QAction | None = None
        """The "Demo" menu's action, made when the first demo pump starts."""
        window.demo_started.connect(self.on_demo_started)
        window.closing.connect(self.close)

    def on_demo_started(self, demo: object) -> None:
        """A demo pump started: open the window over its backend."""
        backend = getattr(demo, "educator_backend", None)
        if backend is None:  # not a demo pump of ours: nothing to show
            return
        self.attach(cast(EducatorBackend, backend))

    def attach(self, backend: EducatorBackend) -> EducatorWindow:
        """Open the educator's window over ``backend`` (a new backend replaces the old
        window; the same one just shows it again)."""
        if self.backend is not backend:
            self._discard_window()
            self.backend = backend
        if self.show_action is None:
            from programmer_gui.views.educator import add_educator_menu  # noqa: PLC0415

            self.show_action = add_educator_menu(self.window)
            self.show_action.triggered.connect(self.show_window)
        window = self.show_window()
        assert window is not None
        return window

    def show_window(self) -> EducatorWindow | None:
        """Show (or raise) the educator's window; None when no demo pump runs."""
        if self.backend is None:
            return None
        window = self.educator_window
        if window is None:
            window = self.opener(self.backend, self.window, tz=self.tz)
            self.educator_window = window
            self._place_beside(window)
        else:
            window.show()
        window.raise_()
        window.activateWindow()
        return window

    def _place_beside(self, educator: QWidget) -> None:
        # Both windows side by side over the screen when it has room for both (a 1920 px
        # projector): the educator never covers the programmer. Else to the programmer's
        # right when there is room for it there; else where the system put it.
        main = self.window.frameGeometry()
        screen = self.window.screen()
        if screen is None:
            return
        room = screen.availableGeometry()
        if self.window.isVisible() and tile_side_by_side(
            self.window,
            educator,
            room,
            left_preferred=PROGRAMMER_PREFERRED_SIZE.width(),
            left_least=PROGRAMMER_LEAST_BESIDE_PX,
            gap=BESIDE_GAP_PX,
        ):
            return
        # Not both: the educator at the right edge, as narrow as its layout allows (it
        # covers the programmer's right part, never all of it; a click brings either up).
        least = educator.minimumSizeHint().width()
        width = max(least, room.right() - main.right() - BESIDE_GAP_PX)
        if width >= room.width():
            return  # not even the educator alone fits: where the system put it
        frame_extra = educator.frameGeometry().width() - educator.width()
        educator.resize(width, max(educator.height(), 1))
        educator.move(room.right() + 1 - width - frame_extra, main.top())

    @property
    def is_open(self) -> bool:
        """The educator's window is showing."""
        return self.educator_window is not None and self.educator_window.isVisible()

    def _discard_window(self) -> None:
        window = self.educator_window
        self.educator_window = None
        if window is not None:
            window.close()
            window.deleteLater()

    def close(self) -> None:
        """Close the educator's window for good (the programmer is closing); idempotent."""
        self._discard_window()
        self.backend = None
