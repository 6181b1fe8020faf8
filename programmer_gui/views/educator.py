"""The educator's window: layout only (the controller decides and fills in every figure).

A separate top-level window, never a page of the clinician's main window. Left: the pump
time with the speed control, the fault buttons, the alarm tone and the two lessons.
Right: the true state the programmer cannot see (figures and the fluid path), the live
plot and the protocol inspector.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.educator import (
    DAY_S,
    HOUR_S,
    SCENARIOS,
    SPEED_FACTORS,
    PathSegment,
    PlotSeries,
    Scenario,
    TonePattern,
)
from programmer_gui.core.response import MarkerKind, ResponseMarker
from programmer_gui.views.inspector import InspectorView
from programmer_gui.views.sound_panel import SoundPanel
from programmer_gui.views.widgets import (
    BASE_POINT_SIZE,
    FIGURE_POINT_SIZE,
    Columns,
    FlowLayout,
    PageScrollArea,
    Severity,
    StatusBadge,
    figure_font,
    flow_row,
    open_at,
    section,
)

__all__ = [
    "SHOW_EDUCATOR_SHORTCUT",
    "EducatorWindow",
    "FluidPathBar",
    "LivePlot",
    "PumpTimeAxis",
    "ToneStrip",
    "add_educator_menu",
]

SHOW_EDUCATOR_SHORTCUT = "Ctrl+Shift+E"
"""Re-opens (or raises) the educator's window in demo mode."""

_WITHDRAWAL_BRUSH = (70, 120, 200, 60)
_OVERDOSE_BRUSH = (200, 50, 40, 60)
_TICK_STEPS_DAYS = (
    *(minutes / (24 * 60) for minutes in (5, 10, 15, 30, 60, 120, 180, 360, 720)),
    *(1.0, 2.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0, 365.0),
)
"""Tick intervals that read well on a clock and a calendar, in days."""
_TOP_FILL = 1e9
"""The overdose band is filled from its threshold up to here (beyond any y range shown)."""


class PumpTimeAxis(pg.AxisItem):  # type: ignore[misc]
    """x in days since the start, labelled ``day 3`` or, zoomed in, ``d3 14:00``."""

    def tickSpacing(  # noqa: N802 - pyqtgraph's name
        self,
        min_value: float,
        max_value: float,
        size: float,
    ) -> list[tuple[float, float]]:
        span = max(max_value - min_value, 1e-9)
        wanted = max(2.0, size / 110)
        for step in _TICK_STEPS_DAYS:
            if span / step <= wanted:
                return [(step, 0.0)]
        return [(_TICK_STEPS_DAYS[-1], 0.0)]

    def tickStrings(  # noqa: N802 - pyqtgraph's name
        self, values: list[float], scale: float, spacing: float
    ) -> list[str]:
        out = []
        for value in values:
            seconds = round(value * DAY_S)
            days, rest = divmod(seconds, DAY_S)
            if spacing >= 1:
                out.append(f"day {days}")
            else:
                out.append(f"d{days} {rest // HOUR_S:02d}:{rest % HOUR_S // 60:02d}")
        return out


class BridgeCasesPanel(QWidget):
    """The bridge lesson's three cases side by side: the patient's spinal-fluid level (percent
    of the established level) over the days after the refill, with the safe band drawn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.heading = QLabel("Pick the bridge lesson to compare the three cases.", self)
        self.heading.setWordWrap(True)
        self.heading.setFont(figure_font(BASE_POINT_SIZE + 1))
        layout.addWidget(self.heading)
        row = Columns(self, columns=3)
        self.plots: list[pg.PlotWidget] = []
        self.titles: list[QLabel] = []
        self.summaries: list[QLabel] = []
        for _ in range(3):
            case = QWidget(self)
            column = QVBoxLayout(case)
            column.setContentsMargins(0, 0, 0, 0)
            title = QLabel(self)
            title.setFont(figure_font(BASE_POINT_SIZE + 1))
            title.setWordWrap(True)
            plot = pg.PlotWidget(self)
            plot.setBackground("w")
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("bottom", "hours after the refill")
            plot.setLabel("left", "spinal-fluid level, % of established")
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMinimumHeight(260)
            plot.setMinimumWidth(220)
            summary = QLabel(self)
            summary.setWordWrap(True)
            summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            column.addWidget(title)
            column.addWidget(plot, 1)
            column.addWidget(summary)
            row.add(case)
            self.plots.append(plot)
            self.titles.append(title)
            self.summaries.append(summary)
        layout.addWidget(row, 1)

    def show_cases(
        self,
        *,
        heading: str,
        cases: list[tuple[str, list[float], list[float], str, bool]],
        band: tuple[float, float],
    ) -> None:
        """Each case as (title, hours, level percents, summary, in band throughout)."""
        self.heading.setText(heading)
        top = max(
            [band[1] * 1.15, *(max(levels, default=0) * 1.05 for _, _, levels, _, _ in cases)]
        )
        for plot, title, summary, (name, hours, levels, text, ok) in zip(
            self.plots, self.titles, self.summaries, cases, strict=True
        ):
            plot.clear()
            plot.addItem(
                pg.LinearRegionItem(
                    values=band,
                    orientation="horizontal",
                    movable=False,
                    brush=pg.mkBrush(46, 160, 67, 40),
                    pen=pg.mkPen(46, 160, 67, 120),
                )
            )
            plot.addItem(
                pg.InfiniteLine(100, angle=0, pen=pg.mkPen("#555", style=Qt.PenStyle.DashLine))
            )
            color = "#1b7f3a" if ok else "#b3261e"
            plot.plot(hours, levels, pen=pg.mkPen(color, width=2))
            plot.setYRange(0, top, padding=0)
            plot.setXRange(0, hours[-1] if hours else 1, padding=0.02)
            mark = "\u2714" if ok else "\u26a0"
            title.setText(f"{mark} {name}")
            summary.setText(text)


class LivePlot(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """Three stacked plots sharing the pump-time axis: the reservoir, the drug at the
    catheter tip, the patient's spinal-fluid level with its withdrawal and overdose bands."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setAccessibleName("Live plot of the true state against pump time")
        self.reservoir = self._plot(0, "Reservoir (true volume)", "mL")
        self.tip = self._plot(1, "Drug concentration: reservoir vs catheter tip", "mcg/mL")
        self.patient = self._plot(
            2, "Patient: spinal-fluid level and response (teaching model)", "ng/mL"
        )
        self.patient.setLabel("bottom", "pump time since the start")
        self.tip.setXLink(self.reservoir)
        self.patient.setXLink(self.reservoir)
        # The patient plot carries two curves and the change / onset / full-effect lines:
        # it gets the room of the other two together.
        self.ci.layout.setRowStretchFactor(0, 1)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.ci.layout.setRowStretchFactor(2, 2)

        dash = Qt.PenStyle.DashLine
        self.reservoir_curve = self.reservoir.plot(
            name="reservoir", pen=pg.mkPen("#1f5fa0", width=2)
        )
        self.alarm_curve = self.reservoir.plot(
            name="low-reservoir alarm volume", pen=pg.mkPen("#b07d00", width=2, style=dash)
        )
        self.reservoir_conc_curve = self.tip.plot(
            name="in the reservoir", pen=pg.mkPen("#777777", width=2, style=dash)
        )
        self.tip_conc_curve = self.tip.plot(
            name="at the catheter tip (reaching the spine)", pen=pg.mkPen("#7a2a8c", width=3)
        )
        self.withdrawal_band = self.patient.plot(
            name="withdrawal band (below 40 % of established)",
            pen=pg.mkPen((70, 120, 200), width=1),
            fillLevel=0,
            brush=pg.mkBrush(*_WITHDRAWAL_BRUSH),
        )
        self.overdose_band = self.patient.plot(
            name="overdose band (above 200 % of established)",
            pen=pg.mkPen((200, 50, 40), width=1),
            fillLevel=_TOP_FILL,
            brush=pg.mkBrush(*_OVERDOSE_BRUSH),
        )
        self.level_curve = self.patient.plot(name="level", pen=pg.mkPen("#111111", width=3))
        self.response_curve = self.patient.plot(
            name="response (what the tone reflects; lags the level)",
            pen=pg.mkPen("#1e8a3c", width=3),
        )
        self.markers: list[pg.InfiniteLine] = []
        """The change / onset / full-effect lines now drawn on the patient plot."""
        for plot in (self.reservoir, self.tip, self.patient):
            plot.enableAutoRange(axis="y", enable=False)
        self.reservoir.enableAutoRange(axis="x", enable=False)

    def _plot(self, row: int, title: str, unit: str) -> pg.PlotItem:
        axis = PumpTimeAxis(orientation="bottom")
        axis.enableAutoSIPrefix(False)  # days are days, never "x0.001"
        plot = self.addPlot(row=row, col=0, axisItems={"bottom": axis})
        plot.setTitle(title, color="#222222", size=f"{BASE_POINT_SIZE}pt")
        plot.setLabel("left", unit, color="#222222")
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.addLegend(
            offset=(10, 2),
            colCount=3,
            labelTextSize=f"{BASE_POINT_SIZE - 2}pt",
            labelTextColor="#222222",
            brush=pg.mkBrush(255, 255, 255, 215),
            pen=pg.mkPen("#bbbbbb"),
        )
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()  # no "A" (auto-range) glyph
        return plot

    def show_series(self, series: PlotSeries, *, x_range: tuple[float, float]) -> None:
        """Draw ``series``; x from ``x_range[0]`` to ``x_range[1]`` days."""
        x = np.asarray(series.x_days, dtype=float)
        self.reservoir_curve.setData(x, np.asarray(series.reservoir_ml, dtype=float))
        self.alarm_curve.setData(x, np.asarray(series.alarm_volume_ml, dtype=float))
        self.reservoir_conc_curve.setData(
            x, np.asarray(series.reservoir_concentration_ug_per_ml, dtype=float)
        )
        self.tip_conc_curve.setData(
            x, np.asarray(series.tip_concentration_ug_per_ml, dtype=float), connect="finite"
        )
        level = np.asarray(series.patient_level_ng_per_ml, dtype=float)
        overdose = np.asarray(series.overdose_above_ng_per_ml, dtype=float)
        self.withdrawal_band.setData(x, np.asarray(series.withdrawal_below_ng_per_ml, dtype=float))
        self.overdose_band.setData(x, overdose)
        self.level_curve.setData(x, level)
        response = np.asarray(series.patient_response_ng_per_ml, dtype=float)
        self.response_curve.setData(
            x if len(response) == len(x) else [], response, connect="finite"
        )
        # Head room above the data keeps the legends (top left) off the curves.
        self.reservoir.setYRange(0, _top(series.reservoir_ml, 1.35), padding=0)
        self.tip.setYRange(
            0,
            _top(
                series.reservoir_concentration_ug_per_ml + series.tip_concentration_ug_per_ml, 1.4
            ),
            padding=0,
        )
        self.patient.setYRange(
            0,
            max(
                _top(overdose, 1.45),
                _top(series.patient_level_ng_per_ml, 1.3),
                _top(series.patient_response_ng_per_ml, 1.3),
            ),
            padding=0,
        )
        low, high = x_range
        if not high > low:
            high = low + 1 / 24
        self.reservoir.setXRange(low, high, padding=0.01)

    def show_markers(self, markers: Sequence[ResponseMarker]) -> None:
        """Vertical lines on the patient plot: each dose change, then its onset and full
        effect (dotted and grey once superseded by a later change)."""
        for line in self.markers:
            self.patient.removeItem(line)
        self.markers = []
        for marker in markers:
            colour = "#8a8a8a" if marker.superseded else _MARKER_COLOURS[marker.kind]
            style = Qt.PenStyle.DotLine if marker.superseded else _MARKER_STYLES[marker.kind]
            anchor = (1.0, 0.5) if marker.label_left else (0.0, 0.5)
            line = pg.InfiniteLine(
                pos=marker.x_days,
                angle=90,
                movable=False,
                pen=pg.mkPen(colour, width=2, style=style),
                label=marker.label,
                labelOpts={
                    "position": _MARKER_LABEL_HEIGHTS[marker.kind],
                    "color": colour,
                    "fill": pg.mkBrush(255, 255, 255, 200),
                    "anchors": [anchor, anchor],
                },
            )
            self.patient.addItem(line)
            self.markers.append(line)


_MARKER_COLOURS = {
    MarkerKind.CHANGE: "#444444",
    MarkerKind.ONSET: "#1e8a3c",
    MarkerKind.FULL_EFFECT: "#0f5a26",
}
_MARKER_STYLES = {
    MarkerKind.CHANGE: Qt.PenStyle.SolidLine,
    MarkerKind.ONSET: Qt.PenStyle.DashLine,
    MarkerKind.FULL_EFFECT: Qt.PenStyle.DashDotLine,
}
_MARKER_LABEL_HEIGHTS = {
    MarkerKind.CHANGE: 0.55,
    MarkerKind.ONSET: 0.47,
    MarkerKind.FULL_EFFECT: 0.39,
}
"""Labels at different heights (below the legends), so those of lines close together do not
overlap."""


def _top(values: Sequence[float] | np.ndarray, headroom: float) -> float:
    finite = [float(v) for v in values if np.isfinite(v)]
    return max(finite, default=1.0) * headroom or 1.0


class ToneStrip(QWidget):
    """An alarm tone pattern drawn as a schematic (not to scale): the tones as bars of two
    pitches, then the silence with its length written in it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pattern: TonePattern | None = None
        self.sounding = False
        self.setMinimumHeight(42)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_pattern(self, pattern: TonePattern | None, *, sounding: bool) -> None:
        self.pattern = pattern
        self.sounding = sounding
        self.setAccessibleDescription(pattern.describe() if pattern else "no tone")
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(300, 42)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.setPen(QPen(QColor("#999999"), 1))
        painter.setBrush(QColor("#fafafa"))
        painter.drawRect(area)
        pattern = self.pattern
        if pattern is None:
            painter.setPen(QColor("#555555"))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "silent")
            painter.end()
            return
        colour = QColor("#b3261e") if pattern.tones > 1 else QColor("#b07d00")
        repeats = 3
        slot = area.width() / repeats
        tone_w = min(22.0, slot * 0.4 / pattern.tones)
        for r in range(repeats):
            x = area.left() + r * slot + 6
            for i in range(pattern.tones):
                high = i % 2 == 0
                h = area.height() * (0.75 if high else 0.45)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawRect(QRectF(x, area.bottom() - h - 2, tone_w - 2, h))
                x += tone_w
            painter.setPen(QPen(QColor("#444444"), 1, Qt.PenStyle.DotLine))
            gap = QRectF(x + 2, area.top(), area.left() + (r + 1) * slot - x - 4, area.height())
            painter.drawLine(
                int(gap.left()), int(gap.center().y()), int(gap.right()), int(gap.center().y())
            )
            painter.setPen(QColor("#222222"))
            painter.drawText(
                gap, Qt.AlignmentFlag.AlignCenter, _gap_text(pattern.repeat_s - pattern.duration_s)
            )
        painter.end()


def _gap_text(seconds: int) -> str:
    if seconds >= HOUR_S:
        return f"{seconds / HOUR_S:.0f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds} s"


_PATH_COLOURS = ("#7a2a8c", "#2f8f5b", "#c06014", "#1f5fa0", "#8c6d1f")


class FluidPathBar(QWidget):
    """The tubing and catheter as a pipe from the reservoir (left) to the tip (right), each
    plug of fluid drawn with its concentration and volume written on it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.segments: tuple[PathSegment, ...] = ()
        self.dead_volume_nl = 0
        self.setMinimumHeight(54)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Fluid path from reservoir to catheter tip")

    def set_path(self, segments: Sequence[PathSegment], dead_volume_nl: int) -> None:
        """``segments`` tip first, as the sample lists them."""
        self.segments = tuple(segments)
        self.dead_volume_nl = dead_volume_nl
        self.setAccessibleDescription(
            "; ".join(
                f"{s.volume_nl / 1e6:.3f} mL at {s.concentration_ug_per_ml} mcg/mL"
                for s in self.segments
            )
        )
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(420, 54)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        label_w = metrics.horizontalAdvance("reservoir \u25b6") + 6
        tip_w = metrics.horizontalAdvance("\u25b6 tip / spine") + 6
        pipe = QRectF(label_w, 4, self.width() - label_w - tip_w, self.height() - 8)
        painter.setPen(QColor("#222222"))
        painter.drawText(
            QRectF(0, 0, label_w, self.height()), Qt.AlignmentFlag.AlignVCenter, "reservoir \u25b6"
        )
        painter.drawText(
            QRectF(pipe.right() + 4, 0, tip_w, self.height()),
            Qt.AlignmentFlag.AlignVCenter,
            "\u25b6 tip / spine",
        )
        total = max(self.dead_volume_nl, sum(s.volume_nl for s in self.segments), 1)
        x = pipe.right()
        concentrations: list[int] = []
        for segment in self.segments:  # tip first: draw from the right
            if segment.concentration_ug_per_ml not in concentrations:
                concentrations.append(segment.concentration_ug_per_ml)
            colour = QColor(
                _PATH_COLOURS[concentrations.index(segment.concentration_ug_per_ml) % 5]
            )
            width = pipe.width() * segment.volume_nl / total
            box = QRectF(x - width, pipe.top(), width, pipe.height())
            painter.setPen(QPen(QColor("#ffffff"), 1))
            painter.setBrush(colour)
            painter.drawRect(box)
            text = f"{segment.concentration_ug_per_ml} mcg/mL  {segment.volume_nl / 1e6:.3f} mL"
            if metrics.horizontalAdvance(text) + 6 > width:
                text = f"{segment.concentration_ug_per_ml}"
            if metrics.horizontalAdvance(text) + 4 <= width:
                painter.setPen(QColor("#ffffff"))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            x -= width
        painter.setPen(QPen(QColor("#555555"), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(pipe)
        painter.end()


class EducatorWindow(QWidget):
    """The educator's window. Widgets are public attributes so the controller can fill
    them in and tests can press them; it holds no state of the simulation."""

    shown = Signal()
    closed = Signal()

    def __init__(
        self, *, start_pump_s: int, tz: tzinfo | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        # A window of its own even when given a parent (it must never dock into the
        # clinician's main window).
        # No maximise button: maximised, it would cover the programmer it teaches beside.
        self.setWindowFlags(
            Qt.WindowType.Window
            | Qt.WindowType.CustomizeWindowHint
            | Qt.WindowType.WindowTitleHint
            | Qt.WindowType.WindowSystemMenuHint
            | Qt.WindowType.WindowMinimizeButtonHint
            | Qt.WindowType.WindowCloseButtonHint
        )
        self.setWindowTitle(
            "vpump educator \u2014 demo pump (not part of the clinician's programmer)"
        )
        self.setObjectName("EducatorWindow")
        font = self.font()
        font.setPointSize(BASE_POINT_SIZE)
        self.setFont(font)

        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setText(
            "<b>Educator's window (demo mode).</b> It controls the simulated world: time, "
            "faults, and what the programmer cannot see. Clinical actions are made in the "
            "programmer's own window."
        )

        # One scrolling page: the controls beside the true state and the plots while the
        # window is wide, above them when it is narrow (beside the programmer on a projector).
        scroll = PageScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area = scroll
        page = QWidget(scroll)
        scroll.setWidget(page)
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(self.banner)
        left_widget = QWidget(page)
        left = QVBoxLayout(left_widget)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self._build_time())
        left.addWidget(self._build_faults())
        left.addWidget(self._build_scenarios())
        left.addStretch(1)

        self.plot = LivePlot(self)
        self.plot.setMinimumHeight(360)
        self.inspector = InspectorView(start_pump_s=start_pump_s, tz=tz, parent=self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.plot, "Live plo&t")
        self.tabs.setTabToolTip(0, "Rolling; pump time on x")
        self.tabs.addTab(self.inspector, "Protocol &inspector")
        self.tabs.setTabToolTip(1, "Every frame on the link")
        self.bridge_cases = BridgeCasesPanel(self)
        self.tabs.addTab(self.bridge_cases, "&Bridge: three cases")
        right_widget = QWidget(page)
        right = QVBoxLayout(right_widget)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self._build_truth())
        right.addWidget(self.tabs, 1)

        # Side by side as soon as both fit (the plots then stay in view on a projector).
        self.body = Columns(page, side_by_side_at="minimum")
        self.body.add(left_widget)
        self.body.add(right_widget)
        self.body.grid.setColumnStretch(1, 3)
        page_layout.addWidget(self.body, 1)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll, 1)
        self.error = StatusBadge(self)
        self.error.setVisible(False)
        outer.addWidget(self.error)
        open_at(self, QSize(1600, 1000))

    # -- the sections -------------------------------------------------------------------------

    def _build_time(self) -> QGroupBox:
        box = section("Pump time", self)
        self.clock_label = QLabel("\u2014", box)
        self.clock_label.setFont(figure_font(FIGURE_POINT_SIZE + 3))
        self.clock_label.setAccessibleName("Pump date and time")
        self.elapsed_label = QLabel("\u2014", box)
        self.speed_label = QLabel("\u2014", box)
        self.speed_label.setWordWrap(True)
        self.speed_group = QButtonGroup(box)
        self.speed_group.setExclusive(True)
        self.pause_button = QPushButton("&Pause", box)
        self.pause_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.pause_button.setCheckable(True)
        self.speed_group.addButton(self.pause_button, 0)
        self.speed_buttons: dict[int, QPushButton] = {}
        grid = QGridLayout()
        grid.addWidget(self.pause_button, 0, 0)
        for i, factor in enumerate(SPEED_FACTORS, start=1):
            button = QPushButton(f"x{factor:,}", box)
            button.setCheckable(True)
            button.setToolTip(f"Run pump time at {factor:,} times real time")
            self.speed_group.addButton(button, factor)
            self.speed_buttons[factor] = button
            grid.addWidget(button, i // 4, i % 4)
        self.step_hour = QPushButton("+1 &hour", box)
        self.step_day = QPushButton("+1 &day", box)
        steps = QHBoxLayout()
        steps.addWidget(QLabel("Step:", box))
        steps.addWidget(self.step_hour)
        steps.addWidget(self.step_day)
        steps.addStretch(1)
        layout = QVBoxLayout(box)
        layout.addWidget(self.clock_label)
        layout.addWidget(self.elapsed_label)
        layout.addLayout(grid)
        layout.addLayout(steps)
        layout.addWidget(self.speed_label)
        return box

    def _build_faults(self) -> QGroupBox:
        box = section("Faults (one click; press again to undo)", self)
        self.motor_stall = _toggle("&Motor stall", box)
        self.link_drop = _toggle("Link d&rop", box)
        self.link_noise = _toggle("Link &noise", box)
        self.memory_non_critical = QPushButton("Memory error (non-critical)", box)
        self.memory_critical = QPushButton("Memory error (&critical)", box)
        self.memory_state = QLabel("\u2014", box)
        self.memory_state.setWordWrap(True)
        self.battery_spin = QSpinBox(box)
        self.battery_spin.setRange(0, 100)
        self.battery_spin.setSuffix(" %")
        self.battery_spin.setAccessibleName("Battery level to set")
        self.battery_button = QPushButton("Set &battery", box)
        self.battery_state = QLabel("\u2014", box)
        self.battery_state.setWordWrap(True)
        grid = QVBoxLayout(box)
        grid.addLayout(flow_row(self.motor_stall, self.link_drop, self.link_noise))
        grid.addLayout(flow_row(self.memory_non_critical, self.memory_critical))
        grid.addWidget(self.memory_state)
        grid.addLayout(flow_row(QLabel("Battery:", box), self.battery_spin, self.battery_button))
        grid.addWidget(self.battery_state)
        self.low_battery_reset = QPushButton("&Low battery reset (keep-open rate)", box)
        self.low_battery_reset.setToolTip(
            "The pump resets on a low battery and runs only the minimum keep-open rate "
            "(0.006 mL/day) until it is reprogrammed: a critical alarm"
        )
        grid.addWidget(self.low_battery_reset)
        self.mri_scan = QPushButton("MRI &scan (45 min)", box)
        self.mri_scan.setToolTip(
            "The patient has a 45 min MRI: the rotor stalls in the field (critical alarm) "
            "and turns again when the scan ends"
        )
        self.mri_scan_trap = QPushButton("MRI scan, pump &waits for an interrogation", box)
        self.mri_scan_trap.setToolTip(
            "The same scan, but the pump is left in telemetry mode: delivery stays suspended "
            "after the scan until a programmer (or the patient's handheld) interrogates it"
        )
        grid.addLayout(flow_row(self.mri_scan, self.mri_scan_trap))
        return box

    def _build_scenarios(self) -> QGroupBox:
        box = section("Lessons (under a minute each)", self)
        self.scenario_buttons: dict[str, QPushButton] = {}
        self.jump_to_alarm = QPushButton("&Jump to the low-reservoir alarm", box)
        self.jump_to_alarm.setIcon(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward)
        )
        layout = QVBoxLayout(box)
        row = QVBoxLayout()
        for scenario in SCENARIOS:
            button = QPushButton(scenario.title, box)
            button.setCheckable(True)
            self.scenario_buttons[scenario.key] = button
            row.addWidget(button)
        self.scenario_group = QButtonGroup(box)
        self.scenario_group.setExclusive(True)
        for button in self.scenario_buttons.values():
            self.scenario_group.addButton(button)
        self.scenario_title = QLabel(box)
        self.scenario_title.setFont(figure_font(BASE_POINT_SIZE + 1))
        self.scenario_text = QLabel(box)
        self.scenario_text.setWordWrap(True)
        self.scenario_text.setTextFormat(Qt.TextFormat.RichText)
        self.scenario_text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scenario_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scenario_numbers = QLabel(box)
        self.scenario_numbers.setWordWrap(True)
        layout.addLayout(row)
        layout.addWidget(self.scenario_title)
        layout.addWidget(self.scenario_text)
        layout.addWidget(self.jump_to_alarm)
        layout.addWidget(self.scenario_numbers)
        return box

    def _build_truth(self) -> QGroupBox:
        box = section("True state (what the programmer cannot see)", self)
        self.truth_reservoir = _figure(box)
        self.truth_tip = _figure(box)
        self.truth_reaching = _figure(box)
        self.truth_level = _figure(box)
        self.truth_tone = _figure(box)
        self.truth_tone.setToolTip(
            "Ashworth-like muscle tone of the patient model, 0 (normal or low) to 4 (rigid): "
            "a teaching aid, not a clinical score"
        )
        self.patient_badge = StatusBadge(box)
        self.patient_badge.setMinimumWidth(200)
        self.fluid_path = FluidPathBar(box)
        grid = QGridLayout(box)
        tiles = FlowLayout(spacing=14)
        captions = (
            "Reservoir (true)",
            "Drug at the catheter tip",
            "Reaching the patient",
            "Spinal-fluid level",
            "Tone (teaching aid)",
        )
        figures = (
            self.truth_reservoir,
            self.truth_tip,
            self.truth_reaching,
            self.truth_level,
            self.truth_tone,
        )
        for caption, figure in zip(captions, figures, strict=True):
            tile = QWidget(box)
            tile_layout = QVBoxLayout(tile)
            tile_layout.setContentsMargins(0, 0, 0, 0)
            label = QLabel(caption, tile)
            label.setBuddy(figure)
            tile_layout.addWidget(label)
            tile_layout.addWidget(figure)
            tiles.addWidget(tile)
        grid.addLayout(tiles, 0, 0, 1, 2)
        grid.addWidget(self.patient_badge, 1, 0, 1, 2)
        grid.addWidget(QLabel("Tubing and catheter now:", box), 2, 0, 1, 2)
        grid.addWidget(self.fluid_path, 3, 0, 1, 2)
        # The alarm tone: what the patient hears, in words and as a drawn pattern.
        self.tone_badge = StatusBadge(box)
        self.tone_strip = ToneStrip(box)
        self.tone_strip.setToolTip("The tone pattern, not to scale: tones, then the silence")
        grid.addWidget(QLabel("Alarm tone (patient hears):", box), 4, 0, 1, 2)
        grid.addWidget(self.tone_badge, 5, 0)
        grid.addWidget(self.tone_strip, 5, 1)
        # ... and heard: the mute, the sound device, the next repeat, the skipped repeats.
        self.sound_panel = SoundPanel(box)
        grid.addWidget(self.sound_panel, 6, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        return box

    # -- filling in ---------------------------------------------------------------------------

    def show_scenario(self, scenario: Scenario | None) -> None:
        """The steps of ``scenario`` (None hides the lesson text)."""
        if scenario is None:
            self.scenario_title.setText("Pick a lesson to see its steps.")
            self.scenario_text.setText("")
            self.jump_to_alarm.setVisible(False)
            return
        self.scenario_title.setText(scenario.title)
        items = "".join(f"<li>{step}</li>" for step in scenario.steps)
        self.scenario_text.setText(f"<ol style='margin-left:-20px'>{items}</ol>")
        self.jump_to_alarm.setVisible(scenario.key == "low_reservoir")

    def show_error(self, text: str | None) -> None:
        """A refusal from the simulation (None hides it)."""
        self.error.setVisible(text is not None)
        if text is not None:
            self.error.set_status(Severity.CRITICAL, text)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.closed.emit()
        super().closeEvent(event)


def _toggle(text: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    button.setCheckable(True)
    return button


def _figure(parent: QWidget) -> QLabel:
    label = QLabel("\u2014", parent)
    label.setFont(figure_font())
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def add_educator_menu(window: QMainWindow) -> QAction:
    """A "Demo" menu on the programmer's window with one action, "Show the educator's
    window" (it re-opens the window after the educator closed it). Added only in demo mode,
    so a clinical session has no such menu."""
    # No menu mnemonic: every letter of "Demo" is taken by the pages; the action has its
    # own shortcut instead.
    menu = window.menuBar().addMenu("Demo")
    action = QAction("Show the &educator's window", window)
    action.setShortcut(QKeySequence(SHOW_EDUCATOR_SHORTCUT))
    action.setStatusTip("The simulated world: time, faults, the true state and the wire")
    menu.addAction(action)
    return action
