"""Trends: the pump's event log (read on connection, then only the new entries) and every
poll, turned into the reservoir and dose charts with the forecast to the alarm date."""

from __future__ import annotations

import time
from typing import Final

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.eventlog import merge, read_after
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.core.trends import (
    TrendPoint,
    add_poll,
    forecast_line,
    ml,
    poll_point,
    reconstruct,
)
from programmer_gui.views.trends import TrendsChart, TrendsPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import messages as m
from protocol import units
from protocol.enums import EventCode
from protocol.timebase import SECONDS_PER_DAY

_JUMPS: Final = frozenset({EventCode.REFILLED, EventCode.BOLUS_ENDED, EventCode.BOLUS_CANCELLED})
"""Entries after which the reservoir is not where the falling line before them was."""
_MARKER: Final = EventCode.SESSION_OPENED
"""A code the reconstruction passes over (it only integrates up to it and adds a point)."""
MIN_PAST_S: Final = 7 * SECONDS_PER_DAY
"""The chart shows at least a week back ..."""
MIN_AHEAD_S: Final = 30 * SECONDS_PER_DAY
"""... and a month ahead, so a short history or a far alarm still reads as a timeline."""


class TrendsController(Workflow):
    """Collects the log and the polls; redraws the trends page on each."""

    page = WorkflowPage("trends", "Trends", TrendsPage)

    def setup(self) -> None:
        self.entries: list[m.LogEntry] = []
        self.polls: list[TrendPoint] = []
        self.serial: str | None = None
        self.snapshot: PumpSnapshot | None = None
        self.first_snapshot: PumpSnapshot | None = None
        """The first reading of this pump in the session (the therapy before any change)."""
        self.log_read = False
        self.link.connected.connect(self._on_connected)
        self.link.snapshot.connect(self.on_snapshot)
        self.redraw()

    def wire_page(self) -> None:
        connect_clicked(self.page.refresh_button, self.read_log)

    def _on_connected(self, device: m.DeviceInfoResponse) -> None:
        if device.serial != self.serial:
            # Another pump: nothing of the last one's history applies.
            self.serial = device.serial
            self.entries = []
            self.polls = []
            self.snapshot = None
            self.first_snapshot = None
            self.log_read = False
        self.read_log()

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        if self.serial is not None and snapshot.device.serial != self.serial:
            return
        self.snapshot = snapshot
        if self.first_snapshot is None:
            self.first_snapshot = snapshot
        self.polls = add_poll(self.polls, poll_point(snapshot))
        self.redraw()

    def read_log(self) -> None:
        """Read the entries after the last one held (all of them the first time)."""

        def done(new: list[m.LogEntry]) -> None:
            self.entries = merge(self.entries, new)
            self.log_read = True
            self.redraw()

        def failed(error: Exception) -> None:
            self.page.message.set_status(
                Severity.CRITICAL,
                f"The event log was not read: {error}. The chart shows polls only.",
            )

        self.link.submit(read_after(self.entries), on_done=done, on_error=failed, refresh=False)

    def _therapy_before_changes(self, snapshot: PumpSnapshot) -> PumpSnapshot:
        """The reading whose therapy ran before the log's first programming: the log gives
        the volume of each change, not what ran before the first one, which the session's
        first reading knows when it came before that change (else the present reading)."""
        first = self.first_snapshot
        changes = [e.clock_s for e in self.entries if e.code is EventCode.PROGRAMMED]
        if first is not None and changes and first.status.clock_s <= min(changes):
            return first
        return snapshot

    def redraw(self) -> None:
        """Redraw the page: now if it is shown, else when it next is."""
        self.draw_when_shown(self._redraw)

    def _redraw(self) -> None:
        page = self.page
        snapshot = self.snapshot
        if snapshot is None:
            for key in page.figures.values:
                page.figures.set_value(key, "—")
            page.history_label.setText("Connect to a pump to see its trends.")
            page.message.hide()
            return
        status = snapshot.status
        now = poll_point(snapshot)
        history = reconstruct(
            with_levels_before_jumps(self.entries),
            now=now,
            daily_volume_nl_now=round(self._therapy_before_changes(snapshot).daily_volume_nl),
            concentration_now_ug_per_ml=status.concentration_ug_per_ml,
        )
        if not self.log_read:
            history = []
        forecast = forecast_line(snapshot)

        def x(clock_s: int) -> float:
            return float(clock_s)  # every date is pump time

        now_x = x(status.clock_s)
        forecast_x = [x(c) for c, _ in forecast.points]
        alarm_x = None if forecast.alarm_at_s is None else x(forecast.alarm_at_s)
        xs = [x(p.clock_s) for p in history] + [x(p.clock_s) for p in self.polls] + forecast_x
        start = min([*xs, now_x - MIN_PAST_S])
        end = max([*xs, now_x + MIN_AHEAD_S])
        margin = (end - start) * 0.03
        alarm_date = "" if alarm_x is None else time.strftime("%Y-%m-%d", time.localtime(alarm_x))
        chart = TrendsChart(
            reservoir_log=([x(p.clock_s) for p in history], [ml(p.reservoir_nl) for p in history]),
            reservoir_polls=(
                [x(p.clock_s) for p in self.polls],
                [ml(p.reservoir_nl) for p in self.polls],
            ),
            forecast=(forecast_x, [ml(v) for _, v in forecast.points]),
            dose_log=([x(p.clock_s) for p in history], [float(p.dose_ug_per_day) for p in history]),
            dose_polls=(
                [x(p.clock_s) for p in self.polls],
                [float(p.dose_ug_per_day) for p in self.polls],
            ),
            alarm_volume_ml=ml(status.alarm_volume_nl),
            now_x=now_x,
            alarm_x=alarm_x,
            alarm_text=f"low-reservoir alarm {alarm_date}",
            x_range=(start - margin, end + margin),
        )
        page.draw(chart)
        figures = page.figures
        figures.set_value("reservoir", units.format_volume_nl(status.reservoir_nl))
        figures.set_value("dose", units.format_dose_ug_per_day(now.dose_ug_per_day))
        figures.set_value("alarm", format_pump_date(snapshot, forecast.alarm_at_s))
        figures.set_value("empty", format_pump_date(snapshot, forecast.empty_at_s))
        readings = len(self.polls)
        polled = f"{readings} reading{'s' if readings != 1 else ''} from the pump in this session"
        if not self.log_read:
            page.history_label.setText(f"History: the event log is not read yet; {polled}.")
            if page.message.severity is not Severity.CRITICAL or page.message.isHidden():
                page.message.set_status(Severity.INFO, "Reading the pump's event log …")
                page.message.show()
            return
        if self.entries:
            since = format_pump_date(snapshot, min(e.clock_s for e in self.entries))
            page.history_label.setText(
                f"History: the event log since {since}, {len(self.entries)} entries; {polled}."
            )
        else:
            page.history_label.setText(f"History: the event log is empty; {polled}.")
        page.message.hide()


def with_levels_before_jumps(entries: list[m.LogEntry]) -> list[m.LogEntry]:
    """``entries`` plus a marker one second before each refill and bolus end, so the
    reconstruction has a point at the level just before the jump (else the chart would draw
    a slope from the last event to the refilled level)."""
    markers = [
        m.LogEntry(index=e.index, clock_s=e.clock_s - 1, code=_MARKER, a=0, b=0)
        for e in entries
        if e.code in _JUMPS and e.clock_s > 0
    ]
    return [*entries, *markers]


install = TrendsController.install
"""The trends page."""
