"""Small widgets and display helpers shared by every page.

Layout and presentation only: a page's controller decides *what* to show
(texts, severities); these widgets decide how it looks. Severity is never
shown by colour alone: every badge carries an icon and a word too.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QPen,
    QRawFont,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from protocol import units

_ML = units.Quantity.VOLUME
"""Volumes on the reservoir gauge follow the one precision rule (protocol.units)."""

BASE_POINT_SIZE = 11
"""The application's base font size (readable at arm's length)."""
FIGURE_POINT_SIZE = 17
"""Key figures (dose, reservoir volume) stand out from the text around them."""
TITLE_POINT_SIZE = 15


class Severity(enum.Enum):
    """How serious a message is; each has a colour, an icon and a word."""

    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    """Non-critical alarms, soft limits."""
    CRITICAL = "critical"
    """Critical alarms, refusals, a lost link."""


_BACKGROUND = {
    Severity.OK: "#e3f4e1",
    Severity.INFO: "#e4eef9",
    Severity.WARNING: "#fff1c9",
    Severity.CRITICAL: "#fbdad7",
}
_BORDER = {
    Severity.OK: "#3d8b37",
    Severity.INFO: "#3a6ea5",
    Severity.WARNING: "#b07d00",
    Severity.CRITICAL: "#b3261e",
}
_ICON = {
    Severity.OK: QStyle.StandardPixmap.SP_DialogApplyButton,
    Severity.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
    Severity.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Severity.CRITICAL: QStyle.StandardPixmap.SP_MessageBoxCritical,
}


def figure_font(point_size: int = FIGURE_POINT_SIZE, *, bold: bool = True) -> QFont:
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(bold)
    return font


def missing_glyphs(text: str, font: QFont | None = None) -> str:
    """The characters of ``text`` that ``font`` (default: the application's) cannot draw.

    Qt draws such a character as an empty box unless some other installed font has it;
    CI and many clinical PCs have only DejaVu Sans, so the GUI keeps to what it holds.
    """
    raw = QRawFont.fromFont(font if font is not None else QFont())
    return "".join(
        dict.fromkeys(ch for ch in text if not ch.isspace() and not raw.supportsCharacter(ord(ch)))
    )


class StatusBadge(QFrame):
    """An icon, a text and a tinted frame: severity shown three ways at once.

    With ``hide_when_empty`` the badge shows only while it has a text, so a page
    has no empty tinted box when there is nothing to say.
    """

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        point_size: int = BASE_POINT_SIZE,
        wrap: bool = True,
        hide_when_empty: bool = False,
    ):
        super().__init__(parent)
        self.setObjectName("StatusBadge")
        self.severity = Severity.INFO
        self.hide_when_empty = hide_when_empty
        self._icon = QLabel(self)
        self._text = QLabel(self)
        self._text.setWordWrap(wrap)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self._text.font()
        font.setPointSize(point_size)
        self._text.setFont(font)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self._text, 1)
        self._styled: Severity | None = None
        self.set_status(Severity.INFO, "")

    def set_status(self, severity: Severity, text: str) -> None:
        self.severity = severity
        if text != self._text.text():
            self._text.setText(text)
        if severity is not self._styled:
            # A style sheet and an icon cost a restyle: only when the severity changes (every
            # page sets its badges on every poll).
            self._styled = severity
            size = max(16, self._text.fontMetrics().height())
            icon = self.style().standardIcon(_ICON[severity])
            self._icon.setPixmap(icon.pixmap(QSize(size, size)))
            self.setStyleSheet(
                f"#StatusBadge {{ background: {_BACKGROUND[severity]}; "
                f"border: 2px solid {_BORDER[severity]}; border-radius: 4px; }}"
            )
        self.setAccessibleName(f"{severity.value}: {text}")
        if self.hide_when_empty:
            self.setVisible(bool(text))

    @property
    def text(self) -> str:
        return self._text.text()


class ActionBanner(StatusBadge):
    """A badge with a button at its right (e.g. "Reconnect" when the link is lost)."""

    def __init__(self, button_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton(button_text, self)
        layout = self.layout()
        assert isinstance(layout, QHBoxLayout)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)


def section(title: str, parent: QWidget | None = None) -> QGroupBox:
    """A titled group box: the one way pages group related figures."""
    box = QGroupBox(title, parent)
    box.setObjectName("Section")
    return box


def unit_row(parent: QWidget, widget: QWidget, unit: str, *, unit_min_width: int = 0) -> QWidget:
    """``widget`` with its unit after it, left-aligned: a form row's field."""
    box = QWidget(parent)
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    widget.setParent(box)
    row.addWidget(widget)
    unit_label = QLabel(unit, box)
    if unit_min_width:
        unit_label.setMinimumWidth(unit_min_width)
    row.addWidget(unit_label)
    row.addStretch(1)
    return box


def unit_field(
    parent: QWidget, unit: str, *, name: str, example: str | None = None, unit_min_width: int = 0
) -> tuple[QLineEdit, QWidget]:
    """A short entry field named ``name`` (for a screen reader) with its unit after it; the
    entry and the row to put in a form (:func:`unit_row`)."""
    edit = QLineEdit(parent)
    edit.setMaximumWidth(120)
    edit.setAccessibleName(name)
    if example is not None:
        edit.setPlaceholderText(f"e.g. {example}")
    return edit, unit_row(parent, edit, unit, unit_min_width=unit_min_width)


def form_row(
    form: QFormLayout, caption: str, buddy: QWidget, field: QWidget | QLayout | None = None
) -> QLabel:
    """A form row whose caption (with its ``&`` mnemonic) is the label of ``buddy``: Alt+key
    moves the focus there, and a screen reader names the field by it. ``field`` is what the
    row shows when more than the buddy (a field with its unit, a row of widgets)."""
    label = QLabel(caption, form.parentWidget())
    label.setBuddy(buddy)
    form.addRow(label, buddy if field is None else field)
    return label


class ScrollPage(NamedTuple):
    """What :func:`scroll_page` builds: the page's layout, title, body and scroll area."""

    layout: QVBoxLayout
    heading: QLabel
    body: QWidget
    scroll: QScrollArea


class PageScrollArea(QScrollArea):
    """A vertical scroll area that is never narrower than the page it holds: the window's
    minimum width is then the page's own (the page scrolls down, never sideways, and never
    runs off the right edge)."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        body = self.widget()
        if body is None:
            return hint
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = body.minimumSizeHint().width() + bar + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())


def scroll_frame(page: QWidget) -> tuple[QWidget, PageScrollArea]:
    """A frameless vertical scroll area that fills ``page``, and the body widget it scrolls:
    content taller than the window scrolls instead of growing the window; its width follows
    the window (text wraps, never a horizontal scroll bar). :func:`scroll_page` puts the
    standard page frame in it; the patient's handheld window its own large-type layout."""
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    scroll = PageScrollArea(page)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    body = QWidget(scroll)
    scroll.setWidget(body)
    outer.addWidget(scroll)
    return body, scroll


def scroll_page(page: QWidget, title: str) -> ScrollPage:
    """The standard page frame (:func:`page_layout`) inside a :func:`scroll_frame` that fills
    ``page``."""
    body, scroll = scroll_frame(page)
    layout, heading = page_layout(body, title)
    return ScrollPage(layout, heading, body, scroll)


NARROW_COMBO_CHARACTERS = 14
"""A combo box is never narrower than this many characters (its list opens as wide as its
longest entry)."""


def fit_narrow(page: QWidget) -> None:
    """Let a page's combo boxes and forms narrow with the window (a 1280x720 projector at
    125 %): a combo box no longer takes its longest entry's width as its minimum, and a
    form row too wide for two columns puts its field under its label."""
    for combo in page.findChildren(QComboBox):
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(NARROW_COMBO_CHARACTERS)
        combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
    for form in page.findChildren(QFormLayout):
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto the next line when the width runs out (Qt's
    flow layout example): a row of buttons or filters that never widens its window."""

    def __init__(self, parent: QWidget | None = None, *, spacing: int = 8) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt's name
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt's name
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        width = sum(i.sizeHint().width() for i in self._visible()) + self.spacing() * max(
            len(self._visible()) - 1, 0
        )
        height = max((i.sizeHint().height() for i in self._visible()), default=0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), height)

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt's name
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def _place(self, rect: QRect, *, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._visible():
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:
                x, y, line_height = area.x(), y + line_height + self.spacing(), 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint.boundedTo(area.size().expandedTo(hint))))
            x += hint.width() + self.spacing()
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + margins.bottom()


def flow_row(*widgets: QWidget) -> FlowLayout:
    """A :class:`FlowLayout` holding ``widgets``, in order."""
    row = FlowLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row


class Columns(QWidget):
    """Sections side by side while the width allows, one above the other below it.

    Sections are placed in order, ``columns`` to a row (a ``wide`` one takes a row of its
    own). The minimum width is that of the widest section alone, so a narrow window (a
    1280x720 projector at 125 %) stacks the sections instead of clipping them or widening
    the window; from the width the side-by-side rows need, they go side by side again.
    """

    def __init__(
        self, parent: QWidget | None = None, *, columns: int = 2, side_by_side_at: str = "preferred"
    ) -> None:
        """``side_by_side_at``: "preferred" (sections side by side only where each gets its
        preferred width) or "minimum" (as soon as each gets its minimum)."""
        super().__init__(parent)
        self.side_by_side_at = side_by_side_at
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(10)
        self.columns = columns
        self.shown_columns = 0
        """How many columns the sections are in now (0: not laid out yet)."""
        self._sections: list[tuple[QWidget, bool]] = []

    def add(self, widget: QWidget, *, wide: bool = False) -> None:
        """Add a section (``wide``: always the full width, on a row of its own)."""
        widget.setParent(self)
        self._sections.append((widget, wide))
        self._arrange(self.shown_columns or self.columns)

    def _rows(self, columns: int) -> list[list[QWidget]]:
        rows: list[list[QWidget]] = []
        for widget, wide in self._sections:
            if wide or not rows or len(rows[-1]) >= columns or rows[-1][0] in self._wide():
                rows.append([widget])
            else:
                rows[-1].append(widget)
        return rows

    def _wide(self) -> set[QWidget]:
        return {widget for widget, wide in self._sections if wide}

    def width_for(self, columns: int) -> int:
        """The width the sections need ``columns`` to a row: side by side, each its preferred
        width (so that their text is not wrapped word by word); alone, its minimum."""
        spacing = self.grid.horizontalSpacing()

        def width(widget: QWidget) -> int:
            preferred = columns > 1 and self.side_by_side_at == "preferred"
            hint = widget.sizeHint() if preferred else widget.minimumSizeHint()
            return max(hint.width(), widget.minimumSizeHint().width())

        return max(
            (sum(width(w) for w in row) + spacing * (len(row) - 1) for row in self._rows(columns)),
            default=0,
        )

    def _arrange(self, columns: int) -> None:
        for widget, _wide in self._sections:
            self.grid.removeWidget(widget)
        for r, row in enumerate(self._rows(columns)):
            if len(row) == 1 and row[0] in self._wide():
                self.grid.addWidget(row[0], r, 0, 1, columns)
                continue
            for c, widget in enumerate(row):
                self.grid.addWidget(widget, r, c)
        for c in range(self.columns):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self.shown_columns = columns
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.width_for(1), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        columns = self.columns if event.size().width() >= self.width_for(self.columns) else 1
        if columns != self.shown_columns:
            self._arrange(columns)
        super().resizeEvent(event)


class ValueForm(QWidget):
    """Label/value rows; values are keyed so a controller can update them by name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setHorizontalSpacing(14)
        self.values: dict[str, QLabel] = {}

    def add_row(self, key: str, label: str, *, big: bool = False) -> QLabel:
        value = QLabel("—", self)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        value.setWordWrap(True)  # a long value wraps instead of widening the window
        if big:
            value.setFont(figure_font())
        caption = QLabel(f"{label}:", self)
        caption.setBuddy(value)
        self.form.addRow(caption, value)
        self.values[key] = value
        return value

    def set_value(self, key: str, text: str) -> None:
        self.values[key].setText(text)

    def value(self, key: str) -> str:
        return self.values[key].text()


class ReservoirGauge(QWidget):
    """A horizontal gauge of the reservoir, with the low-reservoir alarm volume marked.

    The figures are written on the gauge as well, so it reads without colour.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.volume_ml = 0.0
        self.capacity_ml = 0.0
        self.alarm_ml = 0.0
        self.low = False
        self.setMinimumSize(320, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("reservoir gauge")

    def set_levels(
        self, *, volume_ml: float, capacity_ml: float, alarm_ml: float, low: bool
    ) -> None:
        """Volumes in mL (display only: the figures come formatted from the controller)."""
        self.volume_ml, self.capacity_ml, self.alarm_ml, self.low = (
            volume_ml,
            capacity_ml,
            alarm_ml,
            low,
        )
        self.setAccessibleDescription(
            f"{_ML.text(volume_ml)} of {_ML.text(capacity_ml)}; alarm at {_ML.text(alarm_ml)}"
        )
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(420, 64)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        bar = QRectF(1, 1, self.width() - 2, self.height() - metrics.height() - 8)
        painter.setPen(QPen(QColor("#555555"), 1))
        painter.setBrush(QColor("#f4f4f4"))
        painter.drawRoundedRect(bar, 4, 4)
        if self.capacity_ml > 0:
            share = min(max(self.volume_ml / self.capacity_ml, 0.0), 1.0)
            fill = QRectF(
                bar.left() + 1, bar.top() + 1, (bar.width() - 2) * share, bar.height() - 2
            )
            # Hatched when low, so the state does not depend on telling the colours apart.
            colour = QColor("#e3a21a") if self.low else QColor("#4a90c2")
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRect(fill)
            if self.low:
                painter.setBrush(QColor(0, 0, 0, 90))
                painter.setBrush(Qt.BrushStyle.BDiagPattern)
                painter.drawRect(fill)
            x = bar.left() + bar.width() * min(self.alarm_ml / self.capacity_ml, 1.0)
            painter.setPen(QPen(QColor("#b3261e"), 3))
            painter.drawLine(int(x), int(bar.top()) - 1, int(x), int(bar.bottom()) + 4)
            painter.setPen(QColor("#222222"))
            label = f"alarm {_ML.text(self.alarm_ml)}"
            painter.drawText(
                QRectF(x + 4, bar.bottom() + 2, 200, metrics.height() + 4),
                Qt.AlignmentFlag.AlignLeft,
                label,
            )
            painter.drawText(
                QRectF(bar.right() - 200, bar.bottom() + 2, 200, metrics.height() + 4),
                Qt.AlignmentFlag.AlignRight,
                f"full {_ML.text(self.capacity_ml)}",
            )
            # The figure sits right of a short fill so it never sits on the marker or hatching.
            text_left = max(fill.right(), x) + 8 if share < 0.25 else bar.left() + 8
            painter.setPen(QColor("#111111"))
            painter.drawText(
                QRectF(text_left, bar.top(), 200, bar.height()),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                _ML.text(self.volume_ml),
            )
        painter.end()


def page_title(text: str, parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setFont(figure_font(TITLE_POINT_SIZE))
    label.setObjectName("PageTitle")
    return label


def page_layout(page: QWidget, title: str) -> tuple[QVBoxLayout, QLabel]:
    """The standard page frame: a title, then the page's sections, top-aligned."""
    layout = QVBoxLayout(page)
    layout.setContentsMargins(16, 12, 16, 12)
    layout.setSpacing(10)
    heading = page_title(title, page)
    layout.addWidget(heading)
    return layout, heading


def format_clock(at_s: int | float) -> str:
    """A clock reading as local ``YYYY-MM-DD HH:MM:SS`` (:func:`protocol.units.format_clock`)."""
    return units.format_clock(at_s)


def connect_clicked(button: QPushButton, slot: Callable[[], None]) -> None:
    """Connect a button's ``clicked`` (which passes a bool) to a slot of no arguments."""
    button.clicked.connect(lambda _checked=False: slot())


def ask_confirmation(
    parent: QWidget,
    title: str,
    text: str,
    *,
    yes_text: str,
    no_text: str = "Cancel",
) -> bool:
    """A modal question for anything that changes the pump or acts on an alarm.

    The safe answer (``no_text``) is the default button and has the focus, so Enter and
    Escape both change nothing: only a deliberate click or Alt+mnemonic on ``yes_text``
    confirms (a safety confirmation never defaults to going ahead)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(text)
    yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(no_text, QMessageBox.ButtonRole.RejectRole)
    yes.setAutoDefault(False)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    cancel.setFocus()
    box.exec()
    return box.clickedButton() is yes


Confirm = Callable[[str, str], bool]
"""``confirm(title, text)``: a controller's question before it acts (tests replace it)."""


def confirmer(parent: Callable[[], QWidget], *, yes_text: str, no_text: str = "Cancel") -> Confirm:
    """:func:`ask_confirmation` with these two answers, as a :data:`Confirm`; ``parent()``
    gives its parent when it is asked (a page built only once shown is not built earlier)."""
    return lambda title, text: ask_confirmation(
        parent(), title, text, yes_text=yes_text, no_text=no_text
    )


def value_confirmer(parent: Callable[[], QWidget]) -> Confirm:
    """The question of the magnitude check, when a value typed is ten times (or a tenth of)
    the current one: is it correct, or go back and correct it."""
    return confirmer(
        parent, yes_text="&Yes, the value is correct", no_text="&No, go back and correct it"
    )


TITLE_BAR_ALLOWANCE_PX = 32
"""Height left for a window manager's title bar when a window opens fitted to a screen."""


def fitted_size(preferred: QSize, minimum: QSize, available: QSize) -> QSize:
    """The size to open a window at: ``preferred``, shrunk to the screen's ``available``
    area, but never below the layout's ``minimum`` (the window manager then lets it run
    off the screen rather than clip its content)."""
    return QSize(
        max(min(preferred.width(), available.width()), minimum.width()),
        max(min(preferred.height(), available.height()), minimum.height()),
    )


def open_at(window: QWidget, preferred: QSize) -> None:
    """Size ``window`` to ``preferred``, fitted to the screen it opens on (a 1366x768 laptop
    or a 1280x720 projector). Offscreen (tests, screenshots) there is no real screen: the
    preferred size is kept, so rendered screens stay comparable."""
    screen = QGuiApplication.primaryScreen()
    if screen is None or QGuiApplication.platformName() == "offscreen":
        window.resize(preferred)
        return
    # Less the window manager's title bar (not known before the window is shown).
    available = screen.availableGeometry().size() - QSize(0, TITLE_BAR_ALLOWANCE_PX)
    window.resize(fitted_size(preferred, window.minimumSizeHint(), available))


def _least_width(window: QWidget) -> int:
    return max(window.minimumSizeHint().width(), window.minimumWidth(), 0)


def _frame_margins(window: QWidget) -> tuple[int, int, int, int]:
    """The window manager's frame around ``window``: left, top (the title bar), right,
    bottom (a title bar's allowance on top while the frame is not known yet)."""
    frame, inner = window.frameGeometry(), window.geometry()
    top = inner.top() - frame.top()
    return (
        inner.left() - frame.left(),
        top if top > 0 else TITLE_BAR_ALLOWANCE_PX,
        frame.right() - inner.right(),
        frame.bottom() - inner.bottom(),
    )


def tile_side_by_side(
    left: QWidget,
    right: QWidget,
    room: QRect,
    *,
    left_preferred: int,
    left_least: int = 0,
    gap: int = 8,
) -> bool:
    """Place ``left`` and ``right`` side by side filling ``room`` (a screen's available
    area), neither below its layout's minimum width (nor ``left`` below ``left_least``)
    and ``left`` no wider than ``left_preferred`` or half the room; False (nothing moved)
    when both cannot fit."""
    left_min = max(_least_width(left), left_least)
    right_min = _least_width(right)
    left_margins, right_margins = _frame_margins(left), _frame_margins(right)
    extra_left = left_margins[0] + left_margins[2]
    extra_right = right_margins[0] + right_margins[2]
    usable = room.width() - gap - extra_left - extra_right
    if left_min + right_min > usable:
        return False
    left_width = max(left_min, min(left_preferred, usable // 2))
    left_width = min(left_width, usable - right_min)
    for window, (m_left, m_top, _m_right, m_bottom), x, width in (
        (left, left_margins, room.left(), left_width),
        (right, right_margins, room.left() + extra_left + left_width + gap, usable - left_width),
    ):
        height = room.height() - m_top - m_bottom
        # A window not framed yet is placed by its frame's corner: the title bar goes above.
        framed = window.frameGeometry() != window.geometry()
        window.setGeometry(x + m_left, room.top() + (m_top if framed else 0), width, height)
    return True
