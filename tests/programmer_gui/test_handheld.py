"""The patient's therapy manager against the demo pump (manual clock): a dose granted, one
refused by the lockout with the time left, no clinician command on screen or on the wire,
the alarms with what to do, and the post-MRI check that makes a suspended pump resume."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton
from pytestqt.qtbot import QtBot

from emulator.mri import MriExit
from programmer_gui.app import Programmer
from programmer_gui.controllers.handheld import Handheld, HandheldLauncher, build_handheld
from programmer_gui.core.handheld import dose_state
from programmer_gui.link import PumpLink
from programmer_gui.views.widgets import Severity, StatusBadge
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import Op, Role
from protocol.session import ROLE_OPS
from tests.programmer_gui.conftest import FAST_RETRIES, DemoWorld, ProgrammerClock
from tests.support import DEMO_KEYS, T0

WAIT_MS = 5_000
LOCKOUT_S = 3 * 3600


@pytest.fixture
def ops_sent(monkeypatch: pytest.MonkeyPatch) -> list[Op]:
    """Every request opcode any client sends (the handheld's link runs on a worker thread)."""
    sent: list[Op] = []
    original = PumpClient.call

    def call(self: PumpClient, request: m.Message, response_type: type[m.Message]) -> m.Message:
        sent.append(type(request).op)
        return original(self, request, response_type)

    monkeypatch.setattr(PumpClient, "call", call)
    return sent


def clinician(world: DemoWorld) -> PumpClient:
    client = PumpClient(world.url, key=DEMO_KEYS[Role.CLINICIAN], role=Role.CLINICIAN)
    client.connect()
    return client


@pytest.fixture
def handheld(
    qtbot: QtBot, demo_world: DemoWorld, programmer_clock: ProgrammerClock
) -> Iterator[Handheld]:
    # The clinician allows 25 mcg over 10 min, 3 h apart, at most 4 a day.
    with clinician(demo_world) as client:
        client.set_patient_settings(
            enabled=True, dose_ng=25_000, duration_s=600, lockout_s=LOCKOUT_S, max_per_24h=4
        )
    link = PumpLink(
        timeout_s=1.0, retries=FAST_RETRIES, poll_interval_s=None, wall=programmer_clock
    )
    built = build_handheld(key=lambda: DEMO_KEYS[Role.PATIENT], link=link, tz=UTC)
    qtbot.addWidget(built.window)
    try:
        built.window.show()
        with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS):
            qtbot.keyClicks(built.window.url_edit, demo_world.url)
            qtbot.keyClick(built.window.url_edit, Qt.Key.Key_Return)
        yield built
    finally:
        link.close()


def refresh(qtbot: QtBot, handheld: Handheld) -> None:
    with qtbot.waitSignal(handheld.link.snapshot, timeout=WAIT_MS):
        handheld.link.interrogate()


def press(qtbot: QtBot, button: QAbstractButton, handheld: Handheld) -> None:
    with qtbot.waitSignal(handheld.link.snapshot, timeout=WAIT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not handheld.link.busy, timeout=WAIT_MS)


def severity_of(badge: StatusBadge) -> Severity:
    """The badge's severity read afresh: mypy keeps an earlier assert's narrowing of
    ``badge.severity`` across the clicks that change it."""
    return badge.severity


def test_status_in_plain_words_and_the_refill_date(handheld: Handheld) -> None:
    window = handheld.window
    assert handheld.link.role is Role.PATIENT
    assert window.headline.text == "Your pump is working"
    assert window.headline.severity is Severity.OK
    assert window.detail.text().startswith("It is giving your medicine: about ")
    assert "mcg/day of baclofen" in window.detail.text()
    assert window.refill.text().startswith("Next refill due by ")
    assert window.alarms.text() == "\u2714 No alarms."
    assert window.doses_left.text() == "Doses left in 24 hours: 4 of 4"
    assert window.dose_text.text() == "One extra dose: 25 mcg over 10 min."
    assert window.next_dose.text() == "\u2714 You can request a dose now."


def test_a_dose_granted_then_one_refused_by_the_lockout_with_the_time_left(
    qtbot: QtBot, handheld: Handheld, demo_world: DemoWorld
) -> None:
    window = handheld.window
    press(qtbot, window.dose_button, handheld)
    assert window.dose_result.severity is Severity.OK
    assert window.dose_result.text == (
        "\u2714 Dose given: 25 mcg, finished by 14:23. Doses left in 24 hours: 3 of 4. "
        "Next dose possible from 17:13."
    )
    assert window.doses_left.text() == "Doses left in 24 hours: 3 of 4"
    with clinician(demo_world) as client:
        assert [g.at_s for g in client.status().recent_doses] == [T0]

    demo_world.emulator.advance(3600)  # an hour later the dose has run; the lockout has not
    refresh(qtbot, handheld)
    assert window.next_dose.text() == (
        "\u26a0 Too soon after your last dose: next dose possible in 2 h (at 17:13)."
    )
    press(qtbot, window.dose_button, handheld)
    assert severity_of(window.dose_result) is Severity.WARNING
    assert window.dose_result.text == (
        "\u2716 Not given: it is too soon after your last dose. Your next dose is possible "
        "in 2 h (at 17:13)."
    )
    latest = handheld.link.latest
    assert latest is not None and dose_state(latest).used_24h == 1  # nothing was delivered

    demo_world.emulator.advance(2 * 3600)  # the lockout is over
    refresh(qtbot, handheld)
    assert window.next_dose.text() == "\u2714 You can request a dose now."
    press(qtbot, window.dose_button, handheld)
    assert window.dose_result.text.startswith("\u2714 Dose given: 25 mcg")
    assert "Doses left in 24 hours: 2 of 4" in window.dose_result.text


def test_no_clinician_command_on_screen_or_on_the_wire(
    qtbot: QtBot, handheld: Handheld, ops_sent: list[Op], demo_world: DemoWorld
) -> None:
    window = handheld.window
    texts = [b.text().replace("&", "").lower() for b in window.findChildren(QAbstractButton)]
    assert sorted(texts) == [
        "check my pump after an mri scan",
        "connect",
        "request a dose",
        "silence the alarm sound",
    ]
    # Everything the window can do, done once: dose, MRI check, silence (with an alarm).
    press(qtbot, window.dose_button, handheld)
    demo_world.emulator.fault_motor_stall(True)
    refresh(qtbot, handheld)
    assert window.silence_button.isEnabled()
    press(qtbot, window.silence_button, handheld)
    press(qtbot, window.mri_button, handheld)
    refresh(qtbot, handheld)
    assert ops_sent, "the monkeypatch saw no request"
    clinician_only = set(ops_sent) - ROLE_OPS[Role.PATIENT]
    assert not clinician_only, clinician_only
    # (The handshake of the MRI check does not go through call(); its effect is tested below.)
    assert {Op.PATIENT_DOSE, Op.SILENCE_ALARM, Op.STATUS, Op.READ_ALARMS} <= set(ops_sent)


def test_alarms_say_what_to_do(qtbot: QtBot, handheld: Handheld, demo_world: DemoWorld) -> None:
    demo_world.emulator.fault_motor_stall(True)
    refresh(qtbot, handheld)
    window = handheld.window
    assert window.headline.text == "Your pump is NOT giving your medicine"
    assert window.headline.severity is Severity.CRITICAL
    assert "go to an emergency department now" in window.alarms.text()
    assert "Check my pump after an MRI scan" in window.alarms.text()
    assert window.next_dose.text().startswith("\u26a0 The pump is not giving medicine now")
    demo_world.emulator.fault_motor_stall(False)
    demo_world.emulator.fault_battery(3.0)  # the elective replacement indicator
    refresh(qtbot, handheld)
    assert window.headline.text == "Your pump is working"
    assert severity_of(window.headline) is Severity.WARNING
    assert "battery is getting low" in window.alarms.text()
    assert "Call your clinic today." in window.alarms.text()


def test_the_post_mri_check_makes_a_suspended_pump_resume(
    qtbot: QtBot, handheld: Handheld, demo_world: DemoWorld
) -> None:
    emulator = demo_world.emulator
    emulator.mri_start()
    emulator.advance(1800)
    # Interference left the pump in telemetry mode: it waits for an interrogation.
    emulator.mri_end(MriExit(telemetry_trap=True))
    emulator.advance(600)
    refresh(qtbot, handheld)  # reading the status is no interrogation: still suspended
    window = handheld.window
    assert window.headline.text == "Your pump is NOT giving your medicine"
    press(qtbot, window.mri_button, handheld)
    assert window.mri_result.severity is Severity.OK
    assert window.mri_result.text.startswith("\u2714 Your pump is working again")
    assert window.headline.text == "Your pump is working"


def test_the_check_says_so_when_the_motor_has_not_restarted(
    qtbot: QtBot, handheld: Handheld, demo_world: DemoWorld
) -> None:
    demo_world.emulator.mri_start()  # still in the field
    refresh(qtbot, handheld)
    press(qtbot, handheld.window.mri_button, handheld)
    result = handheld.window.mri_result
    assert result.severity is Severity.CRITICAL
    assert "NOT restarted" in result.text and "emergency department" in result.text


class FakeDemo:
    """What the programmer's demo_started signal carries, as far as the launcher reads it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def key(self, role: Role = Role.CLINICIAN) -> bytes:
        return DEMO_KEYS[role]


def test_demo_mode_opens_the_handheld_beside_the_programmer(
    qtbot: QtBot, programmer: Programmer, demo_world: DemoWorld
) -> None:
    launcher = programmer.handheld
    assert isinstance(launcher, HandheldLauncher)
    menus = [a.text() for a in programmer.window.menuBar().actions()]
    assert "Demo" not in menus  # a clinical session has no demo menu
    programmer.window.demo_started.emit(FakeDemo(demo_world.url))
    assert launcher.action is not None
    assert launcher.action.text() == "Open the &patient's handheld"
    launcher.action.trigger()
    handheld = launcher.handheld
    assert handheld is not None
    try:
        qtbot.waitUntil(lambda: handheld.link.latest is not None, timeout=WAIT_MS)
        assert handheld.link.role is Role.PATIENT
        assert handheld.window.isVisible()
        assert handheld.window.headline.text == "Your pump is working"
    finally:
        launcher.close()
    assert launcher.handheld is None


def test_the_command_line_offers_the_patient_window() -> None:
    from programmer_gui.app import _parser  # noqa: PLC0415

    args = _parser().parse_args(["--patient", "--demo"])
    assert args.patient and args.demo
