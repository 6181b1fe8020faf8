"""The vpump pytest plugin, tested the way pytest tests plugins: inner runs with ``pytester``.

Covers the fixtures and their marker options, re-raising what failed inside
the emulator, scenario files collected as items with their failure report,
``--junitxml``, pytest-html extras, session scope, the leak check, and one
run under pytest-xdist with two workers.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

LIBRARY = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

PASSING = """\
scenario: a passing story
tags: [smoke]
steps:
  - interrogate:
  - advance: 10d
  - expect: {reservoir: 18 mL, alarms: []}
"""

FAILING = """\
scenario: a failing story
steps:
  - interrogate:
  - name: a dose that was never programmed
    expect: {daily_dose: 150 mcg/day ± 1 %}
"""

BAD = """\
scenario: a bad file
steps:
  - advance: 3 weeks
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An inner run in this process (our packages are imported already: no rewrite warning)."""
    return pytester.runpytest("-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def test_fixtures_give_a_pump_and_a_clinician_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        r"""
        import re

        import pytest
        from protocol.enums import AlarmCode, Role

        def test_defaults(virtual_pump, pump_client):
            assert pump_client.in_session and pump_client.role is Role.CLINICIAN
            status = pump_client.status()
            assert status.reservoir_nl == 20_000_000 and status.concentration_ug_per_ml == 500
            assert status.clock_s == virtual_pump.start_s == 1_789_977_600
            virtual_pump.advance("90d")
            assert AlarmCode.LOW_RESERVOIR in pump_client.status().alarms_active
            # vpump-WORKER-PID-N: "main" without xdist (or the outer run's worker id).
            assert re.fullmatch(r"pumpsim://vpump-\w+-\d+-\d+", virtual_pump.url)

        @pytest.mark.vpump(reservoir="5 mL", concentration="1000 mcg/mL",
                           prescription="200 mcg/day", battery="10 %", model=40,
                           serial="VP40-MARK", alarm_volume="3 mL", start="2027-01-04T00:00:00Z")
        def test_marker_options(virtual_pump, pump_client):
            status = pump_client.status()
            assert status.reservoir_nl == 5_000_000 and status.capacity_nl == 40_000_000
            assert status.daily_volume_nl == 200_000 and status.battery_permille == 100
            assert status.alarm_volume_nl == 3_000_000 and status.clock_s == 1_799_020_800
            assert pump_client.device_info().serial == "VP40-MARK"

        @pytest.mark.vpump(motor_stall=True)
        def test_faults_from_the_marker(pump_client):
            assert AlarmCode.MOTOR_STALL in pump_client.status().alarms_active

        @pytest.mark.vpump(link={"drop": "100 %"}, timeout="20 ms", retries=0)
        def test_link_from_the_marker(virtual_pump):
            with pytest.raises(TimeoutError):
                virtual_pump.client()

        def test_patient_role(virtual_pump):
            client = virtual_pump.client(Role.PATIENT)
            assert client.role is Role.PATIENT and client.status().reservoir_nl == 20_000_000

        @pytest.mark.vpump(implant="50 cm", concentration="2000 mcg/mL")
        def test_implant_and_a_dose_of_the_drug_filled(virtual_pump, pump_client):
            status = pump_client.status()
            # The preset's 100 mcg/day, of the 2000 mcg/mL filled: 0.05 mL/day.
            assert status.daily_dose_ng == 100_000 and status.basal_rate_nl_per_day == 50_000
            assert pump_client.implant().implant.catheter_length_mm == 500
            assert virtual_pump.state()["fluid_path"]["dead_volume_nl"] == 330_000

        @pytest.mark.vpump(implant="50 cm", catheter="80 cm")
        def test_a_staged_mismatch(virtual_pump):
            assert virtual_pump.state()["fluid_path"]["dead_volume_nl"] == 408_000

        def test_low_battery_reset_helper(virtual_pump, pump_client):
            virtual_pump.low_battery_reset()
            status = pump_client.status()
            assert AlarmCode.LOW_BATTERY_RESET in status.alarms_active
            assert status.current_rate_nl_per_day == 6_000

        @pytest.mark.vpump(low_battery_reset=True)
        def test_low_battery_reset_marker(pump_client):
            assert AlarmCode.LOW_BATTERY_RESET in pump_client.status().alarms_active

        @pytest.mark.vpump(reservoir="twenty mL")
        def test_bad_option(virtual_pump):
            pass

        @pytest.mark.vpump(prescription="0.2 mL/day")
        def test_a_flow_is_not_a_prescription(virtual_pump):
            pass

        @pytest.mark.vpump(colour="blue")
        def test_unknown_option(virtual_pump):
            pass

        @pytest.mark.vpump(prescription="100 mg/day")
        def test_milligrams(virtual_pump):
            pass

        @pytest.mark.vpump(reservior="5 mL")
        def test_misspelt_option(virtual_pump):
            pass
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9, errors=5)
    name = "test_fixtures_give_a_pump_and_a_clinician_session.py"
    result.stdout.fnmatch_lines(
        [
            # The test file's line of the marker, the option and what is wrong, in one line.
            f"{name}:61: vpump option reservoir: 'twenty mL': not a number followed by a unit*",
            f"{name}:65: vpump option prescription: '0.2 mL/day': a prescription is a dose*",
            f"{name}:69: unknown vpump option 'colour'; known: *reservoir*",
            f"{name}:73: vpump option prescription: '100 mg/day' is not valid here: a "
            "prescription is a daily dose of the drug in the pump, e.g. 100 mcg/day*",
            f"{name}:77: unknown vpump option 'reservior' (did you mean reservoir?)*",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "During handling" not in out
    assert "is not a flow unit" not in out
    assert "pytest_plugin.py" not in out and "plugin_config.py" not in out


def test_the_config_fixture_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from emulator.pytest_plugin import VirtualPumpConfig

        @pytest.fixture
        def vpump_config():
            return VirtualPumpConfig(preset="demo")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_demo_preset(pump_client):
            assert pump_client.device_info().serial == "VP40-DEMO01"

        @pytest.mark.vpump(reservoir="10 mL")
        def test_marker_on_top(pump_client):
            status = pump_client.status()
            assert status.reservoir_nl == 10_000_000 and status.concentration_ug_per_ml == 2000
        """
    )
    run(pytester, "-q", "-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_what_fails_inside_the_emulator_is_raised_in_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from firmware_model.pump import Pump
        from protocol.errors import NakError

        def test_a_defect(pump_client, monkeypatch):
            def broken(self, *args):
                raise RuntimeError("the pump model broke inside")
            # What a STATUS request runs in the pump model (its answer, built from the pump).
            monkeypatch.setattr(Pump, "status_response", broken)
            with pytest.raises(NakError, match="INTERNAL"):
                pump_client.status()
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_a_defect*", "*the pump model broke*"])


def test_scenario_files_are_collected_with_a_useful_failure_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".scenario.yaml", passing=PASSING, failing=FAILING, bad=BAD)
    result = run(pytester, "-v", "-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*passing.scenario.yaml::passing PASSED*",
            "*failing.scenario.yaml::failing FAILED*",
            "*bad scenario file (nothing was run):*",
            "*bad.scenario.yaml:3:14: '3 weeks' is not valid here: advance takes a duration*",
            "*step 2 (*failing.scenario.yaml:4) 'a dose that was never programmed' failed*",
            "*FAIL daily_dose: expected 150 mcg/day ± 1.5 mcg/day, actual 100 mcg/day*",
            "*last 8 frame(s) on the wire, up to this step:*",
            "*READ_EVENT_LOG response*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "out.xml").iter("testcase")}
    assert set(cases) == {"passing", "failing", "bad"}
    assert cases["passing"].find("failure") is None
    failure = cases["failing"].find("failure")
    assert failure is not None and "actual 100 mcg/day" in (failure.text or "")
    properties = {p.get("name"): p.get("value") for p in cases["failing"].iter("property")}
    assert properties == {
        "scenario": "a failing story",
        "steps": "2",
        "failed_step": "2: a dose that was never programmed",
    }
    # Tags are keywords: -k selects by them.
    run(pytester, "-q", "-p", "no:cacheprovider", "-k", "smoke").assert_outcomes(passed=1)


def test_the_html_report_shows_the_steps_and_the_plot(pytester: pytest.Pytester) -> None:
    pytester.makefile(".scenario.yaml", passing=PASSING, failing=FAILING)
    result = run(pytester, "-q", "-p", "no:cacheprovider", "--html=report.html")
    result.assert_outcomes(passed=1, failed=1)
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert "vpump-steps" in html and "a passing story" in html
    assert "polyline" in html and "reservoir (pump estimate) over pump time" in html
    # Without pytest-html the plugin still works.
    run(pytester, "-q", "-p", "no:cacheprovider", "-p", "no:html").assert_outcomes(
        passed=1, failed=1
    )


def test_session_scope_reuses_one_emulator_and_resets_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        WEEK = 7 * 86400
        seen = []

        def test_first(virtual_pump, pump_client):
            seen.append((virtual_pump.emulator, virtual_pump.start_s))
            virtual_pump.advance("30d")
            pump_client.set_alarm_volume(4_000_000)
            virtual_pump.emulator.fault_motor_stall(True)

        @pytest.mark.vpump(reservoir="12 mL")
        def test_second(virtual_pump, pump_client):
            emulator, first_start = seen[0]
            assert virtual_pump.emulator is emulator
            assert virtual_pump.start_s - first_start == 5 * WEEK
            status = pump_client.status()
            assert status.reservoir_nl == 12_000_000 and status.alarm_volume_nl == 2_000_000
            assert not status.alarms_active and status.clock_s == virtual_pump.start_s

        @pytest.mark.vpump(fresh=True)
        def test_fresh(virtual_pump):
            assert virtual_pump.emulator is not seen[0][0]
            assert virtual_pump.start_s == 1_789_977_600
        """
    )
    run(
        pytester, "-q", "-p", "no:cacheprovider", "--vpump-scope=session", "-p", "no:randomly"
    ).assert_outcomes(passed=3)


def test_the_leak_check_names_what_a_test_left_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPUMP_LEAK_SETTLE_S", "0.05")
    pytester.makeini("[pytest]\nvpump_leak_check = true\n")
    pytester.makepyfile(
        """
        import threading

        stop = threading.Event()

        def test_clean(virtual_pump, pump_client):
            pump_client.status()

        def test_leaky():
            threading.Thread(target=stop.wait, name="left-running").start()

        def test_cleanup():
            stop.set()
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*vpump: the test left behind: thread 'left-running'*"])


@pytest.mark.slow  # pytest-xdist inside pytest-xdist (make test runs it; make check does not)
def test_it_runs_under_xdist_with_a_pump_per_worker(pytester: pytest.Pytester) -> None:
    for name in ("first_refill_after_implant", "motor_stall_recovery", "titration_week"):
        shutil.copy(LIBRARY / f"{name}.scenario.yaml", pytester.path)
    pytester.makefile(".scenario.yaml", failing=FAILING)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_a_pump_per_worker(virtual_pump, pump_client, n):
            print("URL", virtual_pump.url)
            virtual_pump.advance(f"{n + 1}d")
            assert pump_client.status().reservoir_nl == 20_000_000 - 200_000 * (n + 1)
        """
    )
    # --dist each runs every test on both workers, so both are sure to open their own pump
    # (with the default load distribution one worker may, on a busy machine, take every
    # parametrized test before the other has started).
    result = pytester.runpytest_subprocess(
        "-p",
        "xdist",
        "-n",
        "2",
        "--dist",
        "each",
        "-p",
        "no:cacheprovider",
        "-rA",
        "--junitxml=out.xml",
    )
    result.assert_outcomes(passed=14, failed=2)
    urls = set(re.findall(r"URL (\S+)", result.stdout.str()))
    assert {re.sub(r"-\d+-\d+$", "", u) for u in urls} == {
        "pumpsim://vpump-gw0",
        "pumpsim://vpump-gw1",
    }
    result.stdout.fnmatch_lines(["*FAIL daily_dose: expected 150 mcg/day*"])
    cases = list(ET.parse(pytester.path / "out.xml").iter("testcase"))
    assert len(cases) == 16  # the 8 tests, on each of the two workers


def test_the_fixture_reads_the_patients_response(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from protocol import messages as m

        def test_onset_reached_by_a_time(virtual_pump, pump_client):
            before = virtual_pump.response()
            assert before.share == 1 or abs(before.share - 1) < 1e-6
            assert before.progress is None and before.onset_at_clock_s is None
            assert abs(before.tone - 1.5) < 1e-6
            # 100 -> 120 mcg/day of the default 500 mcg/mL drug
            pump_client.program(m.PrescriptionSpec.simple(120_000, concentration_ug_per_ml=500))
            changed = virtual_pump.now_s
            reading = virtual_pump.response()
            assert reading.progress == 0
            # domain.md: onset within 4-8 h, full effect within 20-48 h of a rate change.
            assert changed + 4 * 3600 <= reading.onset_at_clock_s <= changed + 8 * 3600
            assert changed + 20 * 3600 <= reading.full_effect_at_clock_s <= changed + 48 * 3600
            virtual_pump.advance(reading.onset_at_clock_s - changed)
            assert abs(virtual_pump.response().progress - 0.25) < 0.005
            virtual_pump.advance("1d")
            later = virtual_pump.response()
            assert later.progress > 0.9 and later.tone < before.tone
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
