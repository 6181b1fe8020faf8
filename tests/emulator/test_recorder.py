"""The recorder: a pumpctl session captured on an in-process pump, turned into a scenario that
replays it (fresh sessions, the commands at their pump times, the answers asserted), and the same
from the pcapng capture; a replay against a pump that behaves differently fails."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.capture import CaptureWriter
from emulator.cli import main as emulator_main
from emulator.emulator import Emulator
from emulator.recorder import RecorderError, record
from emulator.scenarios import parse_scenario, run_scenario
from protocol.cli import main as pumpctl_main
from protocol.client import PumpClient
from protocol.enums import Origin, Role, StopReason
from protocol.errors import NakError
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import FlexStep, ImplantFields, PrescriptionSpec

START_S = 1_789_977_600  # 2026-09-21T08:00:00Z


@contextlib.contextmanager
def _captured_pump(tmp_path: Path, name: str) -> Iterator[tuple[Emulator, str]]:
    emu = Emulator.single(manual_clock=True, start_pump_s=START_S, seed=1)
    writer = CaptureWriter(
        tmp_path / "visit.jsonl",
        pump_clock=emu.clock.now,
        pump_serial=emu.pumps[0].setup.serial,
        pcap=tmp_path / "visit.pcapng",
    )
    emu.pumps[0].capture_to(writer)
    url = emu.register_inproc(0, f"recorder-{name}")
    try:
        yield emu, url
    finally:
        emu.close()
        writer.close()


def _pumpctl(url: str, *argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pumpctl_main(["--port", url, *argv])
    assert code in (0, None), out.getvalue()
    return out.getvalue()


def _pumpctl_refused(url: str, *argv: str) -> None:
    with pytest.raises(SystemExit) as refused, contextlib.redirect_stderr(io.StringIO()):
        pumpctl_main(["--port", url, *argv])
    assert refused.value.code != 0


def _clinic_visit(tmp_path: Path) -> None:
    """A programming session over several days, as pumpctl runs it (each call a session)."""
    with _captured_pump(tmp_path, tmp_path.name) as (emu, url):
        _pumpctl(url, "status")
        _pumpctl(url, "program", "simple", "--dose", "200")
        emu.advance(3 * 86_400 + 3_600)
        _pumpctl(url, "status")
        _pumpctl(url, "set-alarm-volume", "3")
        _pumpctl(url, "bolus", "therapeutic", "--dose", "50", "--duration", "60")
        emu.advance(2 * 3_600)
        _pumpctl(url, "refill", "--removed", "18.5", "--added", "18", "--concentration", "500")
        _pumpctl_refused(url, "clear", "LOW_RESERVOIR")
        emu.advance(86_400)
        _pumpctl(url, "status")


def test_a_recorded_pumpctl_session_replays_green(tmp_path: Path) -> None:
    _clinic_visit(tmp_path)
    text = record(tmp_path / "visit.jsonl")
    assert "program: {simple: 200 mcg/day}" in text
    assert "advance: {until: start + 3d 1h}" in text
    assert "set_alarm_volume: 3 mL" in text
    assert "bolus: {kind: THERAPEUTIC, dose: 50 mcg, duration: 1h}" in text
    assert re.search(r"refill: \{removed: 18\.5 mL, added: 18 mL, concentration: 500 mcg/mL", text)
    assert "clear_alarm: LOW_RESERVOIR\n    expect_error: INVALID_STATE" in text  # not raised
    scenario = parse_scenario(text, "visit.scenario.yaml")
    result = run_scenario(scenario)
    assert result.passed, result.failure_report()
    # every STATUS answer was asserted: three interrogations with their expectations
    assert sum(s.verb == "expect" for s in result.steps) >= 4
    assert (
        sum(s.verb == "connect" for s in result.steps) >= 5
    )  # one per pumpctl call after the first


def test_the_pcapng_capture_records_the_same_story(tmp_path: Path) -> None:
    _clinic_visit(tmp_path)
    from_jsonl = record(tmp_path / "visit.jsonl").splitlines()
    from_pcapng = record(tmp_path / "visit.pcapng").splitlines()
    # the header names the file; the steps and the starting pump are the same (the pump
    # clock jumps only between sessions, each of which reads STATUS or follows one that did)
    start = from_jsonl.index('scenario: "Recorded session visit.jsonl"')
    assert from_pcapng[start] == 'scenario: "Recorded session visit.pcapng"'
    assert from_jsonl[start + 1 :] == from_pcapng[start + 1 :]


def test_a_replay_against_a_pump_that_differs_fails(tmp_path: Path) -> None:
    _clinic_visit(tmp_path)
    text = record(tmp_path / "visit.jsonl")
    changed = text.replace("  reservoir: 20 mL", "  reservoir: 19 mL", 1)
    assert changed != text
    result = run_scenario(parse_scenario(changed, "changed.scenario.yaml"))
    assert not result.passed
    failed = result.failed_step
    assert failed is not None
    assert any(c.what == "reservoir" and not c.passed for c in failed.checks)


def test_the_record_command(tmp_path: Path) -> None:
    _clinic_visit(tmp_path)
    out_file = tmp_path / "visit.scenario.yaml"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = emulator_main(["record", str(tmp_path / "visit.jsonl"), "-o", str(out_file)])
    assert code == 0
    assert "wrote" in out.getvalue()
    assert out_file.read_text(encoding="utf-8").startswith("# Recorded by `pump-emulator record`")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = emulator_main(["record", str(tmp_path / "missing.jsonl")])
    assert code == 2
    assert "pump-emulator record:" in err.getvalue()


def test_a_capture_that_changes_the_pump_before_reading_it_is_refused(tmp_path: Path) -> None:
    with _captured_pump(tmp_path, "nostatus") as (_emu, url):
        _pumpctl(url, "set-alarm-volume", "3")
    with pytest.raises(RecorderError, match="starting state is unknown"):
        record(tmp_path / "visit.jsonl")


def test_a_polling_programmer_asserts_the_first_status_and_the_one_after_a_command(
    tmp_path: Path,
) -> None:
    with _captured_pump(tmp_path, "polling") as (emu, url):
        key = load_keys(DEMO_KEY_FILE)[Role.CLINICIAN]
        with PumpClient(url, key=key) as client:
            for _ in range(4):  # a programmer's screen refreshing
                client.status()
                emu.advance(60)
            client.set_alarm_volume(3_000_000)
            client.status()
            emu.advance(60)
            client.status()
    thin = record(tmp_path / "visit.jsonl")
    full = record(tmp_path / "visit.jsonl", every_status=True)
    assert thin.count("interrogate:") == 2
    assert "4 repeated polls not" in thin
    assert full.count("interrogate:") == 6
    for text in (thin, full):
        result = run_scenario(parse_scenario(text, "polling.scenario.yaml"))
        assert result.passed, result.failure_report()


def test_a_third_party_programmer_and_a_patient_handset_replay_green(tmp_path: Path) -> None:
    """Another programmer's session (PumpClient directly, as a third-party programmer would
    talk): implant record, flex profile, patient settings, a refill to a new concentration
    with the bridge, stop and resume, a refused bolus; and the patient's handset."""
    keys = load_keys(DEMO_KEY_FILE)
    with _captured_pump(tmp_path, "third-party") as (emu, url):
        with PumpClient(url, key=keys[Role.CLINICIAN]) as clinic:
            clinic.status()
            clinic.read_prescription()
            clinic.implant()
            clinic.set_implant(
                ImplantFields(
                    catheter_model="IT-8709SC",
                    catheter_volume_nl_per_cm=2_600,
                    catheter_length_mm=1_105,
                    catheter_length_uncertainty_mm=20,
                    implanted_at_s=None,
                    patient_id="P-0112",
                    origin=Origin.SPINAL,
                    physician="Dr A",
                )
            )
            flex = PrescriptionSpec.flex(
                [
                    FlexStep(start_min=0, dose_ng_per_day=350_000),
                    FlexStep(start_min=7 * 60, dose_ng_per_day=425_000),
                    FlexStep(start_min=22 * 60, dose_ng_per_day=350_000),
                ],
                concentration_ug_per_ml=500,
            )
            clinic.program(flex)
            clinic.set_patient_settings(
                enabled=True, dose_ng=25_000, duration_s=600, lockout_s=3 * 3600, max_per_24h=4
            )
            clinic.status()
        emu.advance(20 * 86_400)
        with PumpClient(url, key=keys[Role.PATIENT], role=Role.PATIENT) as handset:
            handset.patient_dose()
        emu.advance(3_600)
        with PumpClient(url, key=keys[Role.CLINICIAN]) as clinic:
            status = clinic.status()
            clinic.refill(
                removed_nl=status.reservoir_nl,
                added_nl=18_000_000,
                concentration_ug_per_ml=2_000,
                prescription=flex.with_concentration(2_000),
                bridge=True,
                drug_lot="QA-2000-01",
            )
            clinic.status()
            with pytest.raises(NakError):
                clinic.start_bolus(dose_ng=50_000_000, duration_s=60)  # far over any limit
            clinic.stop(StopReason.CLINICIAN_DECISION)
            emu.advance(600)
            clinic.resume()
            clinic.status()
    text = record(tmp_path / "visit.jsonl")
    assert "implant: {catheter: 1105 mm, uncertainty: 2 cm" in text
    assert 'program: {flex: [{at: "00:00", dose: 350 mcg/day}, {at: "07:00", dose: 425' in text
    assert "patient_dose:" in text
    assert "concentration: 2000 mcg/mL, prescription: {flex: [" in text
    assert 'bridge: true, lot: "QA-2000-01"' in text
    assert "stop: CLINICIAN_DECISION" in text and "resume:" in text
    assert re.search(
        r"bolus: \{kind: THERAPEUTIC, dose: 50000 mcg, duration: 1min\}\n"
        r"    expect_error: \w+",
        text,
    )
    result = run_scenario(parse_scenario(text, "third-party.scenario.yaml"))
    assert result.passed, result.failure_report()


def test_the_checked_in_demo_capture_replays() -> None:
    captures = Path(__file__).resolve().parents[2] / "examples" / "captures"
    text = record(captures / "demo-session.jsonl")
    assert "program: {simple: 120 mcg/day}" in text
    assert "advance: {until: start + 1min}" in text  # the pump clock moved within the session
    assert "expect_error: OUT_OF_RANGE" in text  # the alarm volume over the model's limit
    assert "did not read the implant record" in text
    result = run_scenario(parse_scenario(text, "demo-session.scenario.yaml"))
    assert result.passed, result.failure_report()
    # its pcapng holds no pump clock: the manual clock moved inside the session is not seen,
    # so the same commands come out at the time of the session's STATUS answers
    from_pcapng = record(captures / "demo-session.pcapng")
    assert "program: {simple: 120 mcg/day}" in from_pcapng
    assert "advance: {until: start + 1min}" not in from_pcapng
