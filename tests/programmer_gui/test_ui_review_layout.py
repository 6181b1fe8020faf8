"""#14 item 6: the review page's layout. Every review opens at its title; the settings table
is as tall as its rows (it never scrolls inside the scrolling page); the mouse wheel over
the chart scrolls the page; "Program pump" stays in view, and a hint says when warnings to
acknowledge are below the visible part."""

from __future__ import annotations

from pyqtgraph import PlotWidget
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.app import Programmer
from programmer_gui.controllers.flex import FlexController


def _flex(programmer: Programmer) -> FlexController:
    flex = programmer.controllers["flex"]
    assert isinstance(flex, FlexController)
    return flex


def _open_flex_review(qtbot: QtBot, programmer: Programmer, day_dose: str) -> None:
    window = programmer.window
    window.show_page("flex")
    flex = _flex(programmer)
    item = flex.page.table.item(1, 2)
    assert item is not None
    item.setText(day_dose)
    assert flex.page.review_button.isEnabled(), flex.page.message.text
    qtbot.mouseClick(flex.page.review_button, Qt.MouseButton.LeftButton)
    assert window.current_page() == "review"


def _wheel_down(target: QWidget) -> None:
    centre = QPointF(target.width() / 2, target.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(target.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(target, event)


def test_the_review_fits_its_rows_scrolls_from_its_title_and_keeps_program_in_view(
    qtbot: QtBot, programmer: Programmer
) -> None:
    window = programmer.window
    window.resize(1000, 560)
    _open_flex_review(qtbot, programmer, "450")
    page = programmer.review.page
    QApplication.processEvents()  # Qt lays out item views after the events in hand
    bar = page.scroll_area.verticalScrollBar()
    assert bar.value() == 0 and bar.maximum() > 0  # the page is taller than the window
    # The table is as tall as its rows: nothing scrolls inside it.
    table = page.table

    def fitted() -> bool:
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        return table.height() == table.horizontalHeader().height() + 2 * table.frameWidth() + rows

    qtbot.waitUntil(fitted, timeout=2_000)
    assert table.verticalScrollBar().maximum() == 0
    # Each row is as tall as its text needs at the columns' width now (none stretched from
    # a narrower layout): measuring again changes nothing.
    heights = [table.rowHeight(r) for r in range(table.rowCount())]
    table.resizeRowsToContents()
    assert [table.rowHeight(r) for r in range(table.rowCount())] == heights
    assert max(heights) < 2 * min(heights)  # one line each at this width
    # The wheel over the chart scrolls the page.
    chart = page.chart
    assert chart is not None and chart.isVisible()
    page.scroll_area.ensureWidgetVisible(chart)
    before = bar.value()
    target = getattr(chart, "viewport", lambda: chart)()
    _wheel_down(target)
    assert bar.value() > before
    # "Program pump" stays in view below the scrolling part, whatever the scroll.
    for value in (0, bar.maximum()):
        bar.setValue(value)
        button = page.program_button
        corner = button.mapTo(window, QPoint(button.width(), button.height()))
        assert button.isVisible() and window.rect().contains(corner)
    # Back, then a new review: it opens at its title, not where the last one was left.
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    _open_flex_review(qtbot, programmer, "440")
    assert bar.value() == 0


def test_a_hint_says_the_warnings_are_below(qtbot: QtBot, programmer: Programmer) -> None:
    window = programmer.window
    window.resize(1000, 560)
    flex = _flex(programmer)
    window.show_page("flex")
    # A one-hour step at 60 mcg/h: the review warns (flex-step-outlier).
    flex.page.table.setCurrentCell(1, 0)
    flex.add_step()
    for row, column, text in ((1, 1, "08:00"), (1, 2, "1440"), (2, 0, "08:00")):
        item = flex.page.table.item(row, column)
        if item is None:
            flex.page.table.setItem(row, column, QTableWidgetItem(text))
        else:
            item.setText(text)
    qtbot.mouseClick(flex.page.review_button, Qt.MouseButton.LeftButton)
    page = programmer.review.page
    QApplication.processEvents()  # Qt lays out item views after the events in hand
    assert page.warning_checks and not page.program_button.isEnabled()
    assert "below: scroll down" in page.program_hint.text()
    bar = page.scroll_area.verticalScrollBar()
    bar.setValue(bar.maximum())
    assert "more warning" in page.program_hint.text()
    assert "below" not in page.program_hint.text()
    for check in page.warning_checks:
        check.setFocus()
        qtbot.keyClick(check, Qt.Key.Key_Space)
    assert page.program_button.isEnabled() and page.program_hint.text() == ""
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)


def test_no_stray_auto_range_glyph_on_the_flex_charts(qtbot: QtBot, programmer: Programmer) -> None:
    """#14 item 12: the "A" (pyqtgraph's auto-range button) showed in the flex review chart."""
    _open_flex_review(qtbot, programmer, "450")
    chart = programmer.review.page.chart
    assert isinstance(chart, PlotWidget)
    item = chart.getPlotItem()
    assert item.buttonsHidden and not item.autoBtn.isVisible()
    flex = _flex(programmer)
    assert flex.page.chart.getPlotItem().buttonsHidden
    qtbot.mouseClick(programmer.review.page.cancel_button, Qt.MouseButton.LeftButton)
