"""The event log page: the model checked by qtmodeltester, sort, filter, CSV export."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from programmer_gui.controllers.eventlog import install
from programmer_gui.link import PumpLink
from programmer_gui.views.eventlog import EventLogPage
from protocol.enums import StopReason
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import WAIT_MS, connect, ui


def test_log_model_filter_sort_and_csv(
    qtbot: QtBot, qtmodeltester: ModelTester, link: PumpLink, demo_world: DemoWorld, tmp_path: Path
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        page = controller.page
        connect(qtbot, link, demo_world.url)
        qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT_MS)
        first_count = page.model.rowCount()
        qtmodeltester.check(page.model)
        qtmodeltester.check(page.proxy)
        # Newest first by default; a stop and resume then appear on the next read.
        link.submit(lambda client: client.stop(StopReason.MRI), on_done=lambda _r: None)
        link.submit(lambda client: client.resume(), on_done=lambda _r: None)
        page.read_button.click()
        qtbot.waitUntil(lambda: page.model.rowCount() >= first_count + 2, timeout=WAIT_MS)
        assert page.shown_rows()[0].index == page.model.rowCount() - 1
        page.search_edit.setText("mri")
        assert [r.event for r in page.shown_rows()] == ["Stopped"]
        page.search_edit.setText("")
        for name, check in page.group_checks.items():
            check.setChecked(name == "Therapy")
        assert {r.category for r in page.shown_rows()} == {"Therapy"}
        assert page.count_label.text().startswith(f"{len(page.shown_rows())} of")
        page.table.sortByColumn(
            0, page.table.horizontalHeader().sortIndicatorOrder().AscendingOrder
        )
        ordered = [r.index for r in page.shown_rows()]
        assert ordered == sorted(ordered)
        target = tmp_path / "log.csv"
        controller.choose_path = lambda: str(target)
        page.export_button.click()
        lines = list(csv.reader(target.open(encoding="utf-8")))
        assert lines[0][0] == "index" and len(lines) == 1 + len(ordered)
        assert {line[3] for line in lines[1:]} == {"Therapy"}
        assert "Saved" in page.message.text


def test_the_sort_order_is_said_in_words(qtbot: QtBot) -> None:
    page = EventLogPage()
    qtbot.addWidget(page)
    header = page.proxy.headerData(0, Qt.Orientation.Horizontal)
    assert header.endswith("(last to first)")  # newest first, as the rows are
    qtbot.mouseClick(
        page.table.horizontalHeader().viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(page.table.horizontalHeader().sectionViewportPosition(1) + 5, 5),
    )
    assert page.proxy.headerData(1, Qt.Orientation.Horizontal).endswith("(oldest first)")
    assert "(" not in page.proxy.headerData(0, Qt.Orientation.Horizontal)
