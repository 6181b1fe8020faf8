"""The protocol inspector on real frames: a clinician session through the emulator (with link
noise for a while) decoded into the table; a selected row shows its fields beside its hex."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QTabWidget, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from emulator.emulator import Emulator
from programmer_gui.core.educator import EntryKind, WireDecoder, WireEntry
from programmer_gui.demo.educator_backend import EmulatorEducatorBackend
from programmer_gui.views.inspector import COLUMNS, InspectorView, WireTableModel
from protocol.client import PumpClient
from protocol.enums import Role
from tests.support import DEMO_KEYS, T0


@pytest.fixture(scope="module", autouse=True)
def _qt_started(qapp: QApplication) -> None:
    """Show a tabbed window before the leak check's snapshot: Qt keeps the event descriptors
    it opens for the first one for the life of the process."""
    first = QTabWidget()
    first.addTab(QWidget(), "warm-up")
    first.show()
    qapp.processEvents()
    first.close()
    first.deleteLater()
    qapp.processEvents()


@pytest.fixture(scope="module")
def entries() -> tuple[WireEntry, ...]:
    """A real session: handshake, reads, a prescription read, then STATUS under link noise."""
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(3).randbytes
    )
    backend = EmulatorEducatorBackend(emulator)
    url = emulator.register_inproc()
    with emulator:
        with PumpClient(
            url,
            key=DEMO_KEYS[Role.CLINICIAN],
            timeout_s=0.1,
            retries=8,
            random_bytes=random.Random(5).randbytes,
        ) as pump:
            pump.device_info()
            pump.read_prescription()
            pump.alarms()
            backend.set_link_noise(True)
            for _ in range(6):
                pump.status()
            backend.set_link_noise(False)
        return tuple(WireDecoder(tz=UTC).feed_all(backend.wire_history()))


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[InspectorView]:
    widget = InspectorView(start_pump_s=T0, tz=UTC)
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    yield widget


def test_the_model_passes_qt_model_tester(
    qtmodeltester: ModelTester, entries: tuple[WireEntry, ...]
) -> None:
    model = WireTableModel(start_pump_s=T0)
    model.append(entries)
    qtmodeltester.check(model)


def test_rows_show_time_direction_op_seq_length_and_a_one_liner(
    view: InspectorView, entries: tuple[WireEntry, ...]
) -> None:
    view.add_entries(entries)
    model = view.model
    assert model.rowCount() == len(entries)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(7)] == list(COLUMNS)

    def row(r: int) -> list[object]:
        return [model.data(model.index(r, c)) for c in range(len(COLUMNS))]

    assert row(0) == [
        "1",
        "d0 00:00:00",
        "prog \u2192 pump",
        "SESSION_OPEN",
        "1",
        "17",
        "open a CLINICIAN session: here is my fresh nonce",
    ]
    assert row(5)[2:4] == ["prog \u2190 pump", "DEVICE_INFO"]
    assert row(5)[6] == "VP40-DEMO01: 40 mL model, firmware 1.0.0"
    dropped = [r for r in range(model.rowCount()) if model.entry(r).kind is EntryKind.DROPPED]
    assert dropped, "the link noise shows"
    first = row(dropped[0])
    assert first[3] == "(dropped)" and str(first[6]).startswith("\u2716 ")
    assert model.data(model.index(dropped[0], 6), Qt.ItemDataRole.BackgroundRole) is not None
    assert view.counts.text().endswith(f"{len(dropped)} dropped")


def test_selecting_a_row_shows_its_fields_beside_its_hex(
    qtbot: QtBot, view: InspectorView, entries: tuple[WireEntry, ...]
) -> None:
    view.add_entries(entries)
    status_row = next(
        r
        for r in range(view.model.rowCount())
        if view.model.entry(r).op_name == "STATUS"
        and view.model.entry(r).kind is EntryKind.RESPONSE
    )
    with qtbot.waitSignal(view.entry_selected) as selected:
        view.select_row(status_row)
    entry = selected.args[0]
    assert isinstance(entry, WireEntry) and entry is view.selected_entry()
    details = view.details.toPlainText()
    assert "pump to programmer" in details and "MAC present" in details
    assert "reservoir_nl" in details and "30 mL" in details
    hex_lines = view.hex_view.toPlainText().splitlines()
    assert hex_lines[0] == "SYNC     a5 5a  frame start"
    assert hex_lines[2] == "FLAGS    03  RESPONSE, MAC"
    assert any(line.startswith("MAC      ") for line in hex_lines)
    assert hex_lines[-1].startswith("CRC      " + entry.data[-2:].hex(" "))
    view.table.clearSelection()
    assert view.details.toPlainText() == "" and view.hex_view.toPlainText() == ""


def test_routine_polling_can_be_hidden_and_the_table_cleared(
    qtbot: QtBot, view: InspectorView, entries: tuple[WireEntry, ...]
) -> None:
    view.add_entries(entries)
    everything = view.proxy.rowCount()
    view.hide_routine.setChecked(True)
    shown = [
        view.proxy.data(view.proxy.index(r, 3)) for r in range(view.proxy.rowCount(QModelIndex()))
    ]
    assert 0 < len(shown) < everything
    assert "STATUS" not in shown and "DEVICE_INFO" not in shown
    assert {"SESSION_OPEN", "SESSION_AUTH", "(dropped)"} <= set(shown)
    view.hide_routine.setChecked(False)
    assert view.proxy.rowCount() == everything
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 0 and view.counts.text() == "0 frames, 0 NAK, 0 dropped"


def test_the_oldest_rows_go_first_beyond_the_limit(entries: tuple[WireEntry, ...]) -> None:
    model = WireTableModel(start_pump_s=T0, max_rows=5)
    model.append(entries[:4])
    model.append(entries[4:8])
    assert model.rowCount() == 5
    assert [e.number for e in model.entries] == [4, 5, 6, 7, 8]
