"""A clinician's session with the programmer GUI, captured, recorded as a scenario file
(``pump-emulator record``) and replayed green: the regression test docs/qa.md describes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from emulator.capture import CaptureWriter
from emulator.emulator import Emulator
from emulator.recorder import record
from emulator.scenarios import parse_scenario, run_scenario
from programmer_gui.controllers.flex import install
from programmer_gui.link import PumpLink
from protocol.enums import Mode
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, ui
from tests.programmer_gui.test_ui_flex import set_cell
from tests.support import T0


@pytest.fixture
def captured_world(tmp_path: Path) -> Iterator[DemoWorld]:
    emulator = Emulator.single(
        preset="demo", manual_clock=True, start_pump_s=T0, random_bytes=random.Random(5).randbytes
    )
    writer = CaptureWriter(
        tmp_path / "visit.jsonl",
        pump_clock=emulator.clock.now,
        pump_serial=emulator.pumps[0].setup.serial,
    )
    emulator.pumps[0].capture_to(writer)
    url = emulator.register_inproc()
    emulator.start()
    try:
        yield DemoWorld(emulator=emulator, url=url)
        emulator.check()
    finally:
        emulator.close()
        writer.close()


def test_a_programmer_session_recorded_and_replayed(
    qtbot: QtBot, link: PumpLink, captured_world: DemoWorld, tmp_path: Path
) -> None:
    with ui(qtbot, link, captured_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        connect(qtbot, link, captured_world.url)
        app.window.show_page("flex")  # a hidden page follows the pump only once shown
        page = controller.page
        assert page.cell_texts()[1] == ("07:00", "22:00", "425")
        set_cell(page.table, 1, 2, "450")  # the day step: 425 -> 450 mcg/day
        page.review_button.click()
        app.program(qtbot)
        snapshot = app.refresh(qtbot)
        assert snapshot.mode is Mode.FLEX
        link.close()
    text = record(tmp_path / "visit.jsonl")
    assert '{at: "07:00", dose: 450 mcg/day}' in text
    assert "program: {flex: [" in text
    assert 'serial: "VP40-DEMO01"' in text and "concentration: 2000 mcg/mL" in text
    result = run_scenario(parse_scenario(text, "programmer-visit.scenario.yaml"))
    assert result.passed, result.failure_report()
    assert any(step.verb == "program" for step in result.steps)
