"""Protocol coverage (emulator.coverage): what a suite exercised, collected from the wire and
the pumps' event logs; the pytest option (serial, under pytest-xdist, in the HTML report) is
tested with pytester, the runner's option in test_scenario_runner_library."""

from __future__ import annotations

import pytest

from emulator.coverage import FAULTS, ProtocolCoverage, collecting
from emulator.emulator import Emulator
from protocol.client import PumpClient
from protocol.enums import AlarmCode, Role
from protocol.errors import NakError
from protocol.keys import DEMO_KEY_FILE, load_keys

pytest_plugins = ["pytester"]

TESTS = """\
import pytest
import vpump


def test_status_and_a_refusal(virtual_pump, pump_client):
    pump_client.status()
    with pytest.raises(vpump.NakError):
        pump_client.clear_alarm(vpump.AlarmCode.LOW_RESERVOIR)


@pytest.mark.vpump(motor_stall=True)
def test_a_stalled_pump(virtual_pump, pump_client):
    virtual_pump.advance("1h")
"""


def _lines(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(heading))
    return [line.strip() for line in lines[start : start + 3]]


def test_a_session_counts_its_opcodes_naks_alarms_and_faults() -> None:
    keys = load_keys(DEMO_KEY_FILE)
    with collecting() as coverage:
        emu = Emulator.single(manual_clock=True, start_pump_s=1_789_977_600)
        try:
            url = emu.register_inproc(0, "coverage-unit")
            with PumpClient(url, key=keys[Role.CLINICIAN]) as client:
                client.status()
                client.status()
                with pytest.raises(NakError):
                    client.clear_alarm(AlarmCode.LOW_RESERVOIR)
            emu.fault_motor_stall(True)
            emu.advance(60)
        finally:
            emu.close()
    counts = coverage.to_json()
    assert counts["requests"]["STATUS"] == 2
    assert counts["requests"]["CLEAR_ALARM"] == 1
    assert counts["requests"]["SESSION_OPEN"] == 1
    assert counts["naks"] == {"INVALID_STATE": 1}
    assert counts["alarms"] == {"MOTOR_STALL": 1}
    assert counts["faults"]["MOTOR_STALL"] == 1
    assert counts["faults"]["DELIVERY_HALTED_MOTOR_STALL"] == 1
    text = coverage.report_text()
    assert "NAK codes: 1 of" in text
    assert "exercised: INVALID_STATE x1" in text
    never = _lines(text, "alarms raised")[2]
    assert never.startswith("never: ") and "LOW_RESERVOIR" in never
    assert "MOTOR_STALL" not in never
    html = coverage.report_html()
    assert "vpump protocol coverage" in html and "INVALID_STATE&nbsp;&times;1" in html


def test_counts_merge_and_nothing_is_counted_when_off() -> None:
    first, second = ProtocolCoverage(), ProtocolCoverage()
    first.merge({"requests": {"STATUS": 2}, "faults": {"BATTERY_SET": 1}})
    second.merge({"requests": {"STATUS": 1, "PATIENT_DOSE": 4}})
    first.merge(second.to_json())
    assert first.to_json()["requests"] == {"STATUS": 3, "PATIENT_DOSE": 4}
    assert "BATTERY_SET" in FAULTS
    emu = Emulator.single(manual_clock=True)  # no coverage collecting: no sink added
    try:
        assert emu.pumps[0]._sinks == []
    finally:
        emu.close()


def test_the_pytest_option_reports_in_the_terminal(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--vpump-coverage")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "vpump protocol coverage" in out
    assert "exercised: INVALID_STATE x1" in out
    assert "MOTOR_STALL" in _lines(out, "alarms raised")[1]
    assert "request opcodes:" in out
    plain = pytester.runpytest("-p", "no:cacheprovider")
    assert "vpump protocol coverage" not in plain.stdout.str()


@pytest.mark.slow  # pytest-xdist inside pytest (make test runs it; make check does not)
def test_the_pytest_option_merges_xdist_workers_and_fills_the_html_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--vpump-coverage", "--html=report.html"
    )
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "exercised: INVALID_STATE x1" in out  # from one worker
    assert "MOTOR_STALL" in _lines(out, "alarms raised")[1]  # from the other
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert "vpump protocol coverage" in html
    assert "INVALID_STATE&nbsp;&times;1" in html
