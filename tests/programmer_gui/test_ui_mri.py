"""The programmer's MRI workflow and emergency summary (issue 19), driven as a clinician
would: the pre-MRI page records the decision and warns for a valve pump; the post-MRI check
interrogates, finds the stall and its recovery in the log, the missed volume and the alarm
date, and prompts to interrogate again until the recovery is logged; the valve reset; the
emergency summary in one click from connect, in the patient role too, on one PDF page."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from emulator.clock import PumpClock
from emulator.emulator import Emulator
from emulator.mri import MriExit
from emulator.presets import PRESETS
from programmer_gui.controllers import emergency as emergency_controller
from programmer_gui.controllers import mri as mri_controller
from programmer_gui.controllers.connect import install as install_connect
from programmer_gui.core.mri import PRE_MRI_STEPS
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.link import PumpLink
from protocol.emergency import OVERDOSE_SIGNS, WITHDRAWAL_SIGNS
from protocol.enums import Role, ValveModel
from protocol.keys import DEMO_KEY_FILE, load_keys
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import connect, type_into, ui
from tests.support import DEMO_KEYS, T0

WAIT_MS = 5_000
HOUR = 3_600


def click(qtbot: QtBot, widget: QWidget) -> None:
    """A left click, as a clinician would (pytest-qt's mouseClick is untyped)."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _actions(record: SessionRecord) -> list[tuple[str, str]]:
    return [(a.action, a.detail) for a in record.actions]


@pytest.fixture
def flow_world() -> Iterator[DemoWorld]:
    """The demo patient on a flow-activated valve pump."""
    setup = dataclasses.replace(PRESETS["demo"], valve=ValveModel.VALVE_FLOW_ACTIVATED)
    clock = PumpClock(start_pump_s=T0, wall=lambda: 1000.0)
    clock.set_manual()
    emulator = Emulator(
        [setup],
        keys=load_keys(DEMO_KEY_FILE),
        clock=clock,
        random_bytes=random.Random(11).randbytes,
    )
    url = emulator.register_inproc()
    emulator.start()
    try:
        yield DemoWorld(emulator=emulator, url=url)
        emulator.check()
    finally:
        emulator.close()


def test_pre_mri_check_recorded_then_the_post_mri_check_until_recovery_is_logged(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = mri_controller.install(app.window, link, app.record, app.review)
        connect(qtbot, link, demo_world.url)
        page = controller.page
        app.window.show_page("mri")
        qtbot.waitUntil(lambda: controller.plan is not None, timeout=WAIT_MS)
        assert page.pump_kind_label.text() == "Pump kind: motor-driven."
        assert page.valve_warning.isHidden()
        assert all(step.split(":")[0][:30] in page.steps_label.text() for step in PRE_MRI_STEPS)
        click(qtbot, page.can_go_without_check)
        type_into(qtbot, page.note_edit, "brain MRI 10:00")
        with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
            click(qtbot, page.record_button)
        qtbot.waitUntil(lambda: "recorded" in page.message.text, timeout=WAIT_MS)
        action, detail = _actions(app.record)[-1]
        assert action == "Pre-MRI check"
        assert detail.startswith("the patient can go without drug for the scan; before the scan")
        assert "delivering" in detail and detail.endswith("note: brain MRI 10:00")

        # The scan: 45 min, telemetry mode, the recovery logged at the second interrogation.
        demo_world.emulator.mri(
            2700, MriExit(telemetry_trap=True, recovery_logged_at_second_interrogation=True)
        )
        demo_world.emulator.advance(3 * HOUR)
        click(qtbot, page.check_button)
        qtbot.waitUntil(lambda: controller.check is not None, timeout=WAIT_MS)
        check = controller.check
        assert check is not None
        # This interrogation (a new session) ended telemetry mode: delivery resumed now.
        assert check.delivering and check.since_s == T0 + 3 * HOUR
        assert check.interruption is not None and check.interruption.clock_s == T0
        assert check.recovery is None and check.interrogate_again
        assert check.missed_s == 3 * HOUR
        latest = link.latest
        assert latest is not None
        # 3 h at the prescription's 24-h volume, to the nanolitre (rounded down).
        assert check.missed_nl == int(latest.daily_volume_nl * 3 * HOUR / 86_400) == 24_804
        assert "INTERROGATE AGAIN" in page.findings_label.text()
        assert "Missed: 3 h without delivery, 0.0248 mL" in page.findings_label.text()
        assert not page.again_badge.isHidden()
        assert _actions(app.record)[-1][0] == "Post-MRI check"

        # Interrogate again ten minutes later: the recovery is logged now.
        demo_world.emulator.advance(600)
        controller.check = None
        click(qtbot, page.check_button)
        qtbot.waitUntil(lambda: controller.check is not None, timeout=WAIT_MS)
        again = controller.check
        assert again is not None and again.recovery is not None
        assert again.recovery.a == 3 * HOUR and not again.interrogate_again
        assert again.missed_s == 3 * HOUR  # the stall's length, not the second log's time
        assert again.verdict.startswith("Delivery resumed at")
        assert page.again_badge.isHidden()
        assert (
            "New low-reservoir alarm date: 2027-02-09 19:30:59 UTC." in page.findings_label.text()
        )


def test_a_closed_valve_is_found_and_reset(
    qtbot: QtBot, link: PumpLink, flow_world: DemoWorld
) -> None:
    with ui(qtbot, link, flow_world.url) as app:
        controller = mri_controller.install(app.window, link, app.record, app.review)
        asked: list[str] = []

        def confirm(*args: object, **kwargs: object) -> bool:
            asked.append(str(args[1]))
            return True

        controller.confirm = confirm
        connect(qtbot, link, flow_world.url)
        page = controller.page
        app.window.show_page("mri")
        qtbot.waitUntil(lambda: controller.plan is not None, timeout=WAIT_MS)
        assert "flow-activated valve" in page.pump_kind_label.text()
        assert "may close the valve" in page.valve_warning.text
        flow_world.emulator.mri(2700)
        flow_world.emulator.advance(2 * HOUR)
        assert not page.reset_valve_button.isEnabled()
        click(qtbot, page.check_button)
        qtbot.waitUntil(lambda: controller.check is not None, timeout=WAIT_MS)
        assert controller.check is not None and controller.check.valve_closed
        assert "the flow-activated valve is closed" in page.verdict.text
        assert page.reset_valve_button.isEnabled()
        controller.check = None
        click(qtbot, page.reset_valve_button)
        qtbot.waitUntil(
            lambda: controller.check is not None and controller.check.delivering,
            timeout=WAIT_MS,
        )
        assert asked == ["Reset the valve"]
        assert ("Valve reset", "the flow-activated valve reopened after 2 h closed") in _actions(
            app.record
        )
        assert controller.check is not None and controller.check.recovery is not None
        assert controller.check.missed_s == 2 * HOUR


def test_the_original_valve_pump_warns_to_empty_the_reservoir(qtbot: QtBot, link: PumpLink) -> None:
    setup = dataclasses.replace(PRESETS["demo"], valve=ValveModel.VALVE_DISCHARGE)
    with Emulator([setup], keys=DEMO_KEYS) as emu:
        url = emu.register_inproc()
        with ui(qtbot, link, url) as app:
            controller = mri_controller.install(app.window, link, app.record, app.review)
            connect(qtbot, link, url)
            app.window.show_page("mri")
            qtbot.waitUntil(lambda: controller.plan is not None, timeout=WAIT_MS)
            assert controller.plan is not None and controller.plan.must_empty
            assert "EMPTY THE RESERVOIR" in controller.page.valve_warning.text
            with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
                click(qtbot, controller.page.record_button)
            qtbot.waitUntil(lambda: "EMPTY IT" in controller.page.message.text, timeout=WAIT_MS)
            assert "can NOT go without drug" in _actions(app.record)[-1][1]


def test_the_emergency_summary_in_one_click_from_connect_in_the_patient_role(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld, tmp_path: Path
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        connect_controller = install_connect(app.window, link, app.record, app.review)
        controller = emergency_controller.install(app.window, link, app.record, app.review)
        demo_world.emulator.mri(2700, MriExit(telemetry_trap=True))
        demo_world.emulator.advance(5 * HOUR)
        connect_page = connect_controller.page
        connect_page.url_edit.setText(demo_world.url)
        connect_page.role_combo.setCurrentIndex(connect_page.role_combo.findData(Role.PATIENT))
        button = controller.connect_button
        assert (button is not None and button.isVisible()) or button is not None
        click(qtbot, button)  # one click
        qtbot.waitUntil(lambda: controller.reading is not None, timeout=WAIT_MS)
        assert link.role is Role.PATIENT
        assert app.window.stack.currentWidget() is controller.page
        text = controller.page.summary_label.text()
        # The patient's session is an interrogation: it ended telemetry mode just now.
        assert "YES, since" in text
        assert "baclofen 2000 mcg/mL" in text or "2,000 mcg/mL" in text
        assert WITHDRAWAL_SIGNS[:40] in text and OVERDOSE_SIGNS[:40] in text
        assert _actions(app.record)[-1][0] == "Emergency summary"
        path = tmp_path / "summary.pdf"
        controller.choose_path = lambda: str(path)
        click(qtbot, controller.page.pdf_button)
        data = path.read_bytes()
        assert (
            data.startswith(b"%PDF")
            and data.count(b"/Type /Page\n")
            + data.count(b"/Type /Page ")
            + data.count(b"/Type /Page>")
            >= 1
        )
        assert "(1 page)" in controller.page.message.text
