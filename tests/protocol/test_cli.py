"""pumpctl in-process against a pumpsim:// pump: output, JSON, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol import cli
from protocol.enums import Mode
from protocol.errors import LocalError, ProtocolError
from tests.support import InprocPump, inproc_pump


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    with inproc_pump() as p:
        yield p


def run(pump: InprocPump, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(["--port", pump.url, "--timeout", "0.2", *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_info_shows_units(pump: InprocPump, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(pump, capsys, "info")
    assert code == cli.EXIT_OK
    assert "20 mL" in out and "0.048 mL/day" in out and "24 mL/day" in out


def test_interrogate_human_and_json(pump: InprocPump, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(pump, capsys, "interrogate")
    assert code == 0
    assert "100 mcg/day (0.2 mL/day)" in out
    assert "500 mcg/mL" in out and "20 mL of 20 mL" in out
    code, out, _ = run(pump, capsys, "--json", "interrogate")
    data = json.loads(out)
    assert data["status"]["mode"] == "SIMPLE"
    assert data["status"]["reservoir_nl"] == 20_000_000
    assert data["prescription"]["prescription"]["dose_ng_per_day"] == 100_000
    assert data["prescription"]["prescription"]["concentration_ug_per_ml"] == 500
    assert data["device"]["serial"] == "VP20-000001"


def test_program_simple_by_dose(pump: InprocPump, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(pump, capsys, "program", "simple", "--dose", "150")
    assert code == 0, out
    assert "150 mcg/day (0.3 mL/day)" in out
    assert "change 50 %" in out
    assert pump.virtual.pump.status().daily_volume_nl == 300_000


def test_program_flex(pump: InprocPump, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(pump, capsys, "program", "flex", "--steps", "00:00=100,07:00=120,22:00=80")
    assert code == 0, err
    assert pump.virtual.pump.status().mode is Mode.FLEX
    assert "from 22:00  80 mcg/day (0.16 mL/day)" in out


def test_hard_limit_is_refused_with_exit_5(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    # 15,000 mcg/day of 500 mcg/mL needs 30 mL/day, over the 24 mL/day maximum.
    code, _, err = run(pump, capsys, "program", "simple", "--dose", "15000")
    assert code == cli.EXIT_REFUSED
    assert err.startswith("pumpctl: refused by the pump: OUT_OF_RANGE")
    assert pump.virtual.pump.status().daily_volume_nl == 200_000


@pytest.mark.parametrize("value", [".5", "5.", "-1", "1e3", "abc"])
def test_ambiguous_decimals_are_bad_arguments(
    pump: InprocPump, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, _, err = run(pump, capsys, "program", "simple", "--dose", value)
    assert code == cli.EXIT_USAGE
    assert "plain decimal" in err


def test_unknown_port_is_a_link_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--port", "pumpsim://nobody", "info"])
    assert exc.value.code == cli.EXIT_LINK
    assert "link error" in capsys.readouterr().err


def test_wrong_key_is_an_auth_error(
    pump: InprocPump, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "wrong.key"
    key.write_text("clinician = " + "11" * 32 + "\n")
    code, _, err = run(pump, capsys, "--key", str(key), "status")
    assert code == cli.EXIT_AUTH
    assert "authentication failed" in err


def test_malformed_key_file_is_a_usage_error(
    pump: InprocPump, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "bad.key"
    key.write_text("clinician = abc\n")
    code, _, err = run(pump, capsys, "--key", str(key), "status")
    assert code == cli.EXIT_USAGE
    assert "bad.key:1" in err


def test_refill_bolus_alarms_and_log(pump: InprocPump, capsys: pytest.CaptureFixture[str]) -> None:
    pump.clock.advance(90 * 86_400)
    code, out, _ = run(pump, capsys, "alarms")
    assert "low-reservoir" in out and "non-critical" in out
    code, out, _ = run(
        pump, capsys, "refill", "--removed", "2", "--added", "18", "--concentration", "500"
    )
    assert code == 0 and "within" not in out and "reservoir now:        18 mL" in out
    code, out, _ = run(pump, capsys, "bolus", "therapeutic", "--dose", "25", "--duration", "60")
    assert code == 0 and "0.05 mL over 1 h" in out
    code, out, _ = run(pump, capsys, "--json", "log")
    codes = [e["code"] for e in json.loads(out)["entries"]]
    assert "REFILLED" in codes and "BOLUS_STARTED" in codes


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    subparsers = parser._subparsers
    assert subparsers is not None
    commands = subparsers._group_actions[0].choices
    assert commands is not None
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            cli.main([name, "--help"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.startswith("usage: pumpctl " + name)


def test_patient_role_refusal_is_exit_4(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(pump, capsys, "--role", "patient", "program", "simple", "--dose", "90")
    assert code == cli.EXIT_AUTH
    assert "not permitted in the patient role" in err
    code, out, _ = run(pump, capsys, "log", "--count", "3")
    assert "error_code=forbidden, opcode=read prescription" in out
    assert "role=patient" in out


def test_log_parameters_read_in_words_with_units() -> None:
    assert cli.fmt_param("added_nl", 18_000_000) == "added=18 mL"
    assert cli.fmt_param("concentration_ug_per_ml", 500) == "concentration=500 mcg/mL"
    assert cli.fmt_param("alarm_code", 0) == "alarm_code=low reservoir"
    assert cli.fmt_param("alarm_code", 99) == "alarm_code=99 (no AlarmCode has this value)"
    assert cli.fmt_param("delta_s", -3600) == "delta=1 h back"
    assert cli.fmt_param("battery_permille", 705) == "battery=70.5 %"


def test_a_dose_for_another_drug_is_refused(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(pump, capsys, "program", "simple", "--dose", "100", "--concentration", "750")
    assert code == cli.EXIT_REFUSED
    assert "CONCENTRATION_MISMATCH" in err and "750" in err
    assert pump.virtual.pump.status().daily_dose_ng == 100_000


def test_a_refill_to_a_new_drug_must_say_the_dose(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    # The trial's case: 100 mcg/day of 500 mcg/mL refilled with 2000 mcg/mL and nothing else
    # said would have run 400 mcg/day. It is a usage error and nothing changes.
    code, _, err = run(
        pump, capsys, "refill", "--removed", "14", "--added", "18", "--concentration", "2000"
    )
    assert code == cli.EXIT_USAGE
    assert "--same-dose" in err and "400 %" in err
    assert pump.virtual.pump.status().concentration_ug_per_ml == 500
    code, out, err = run(
        pump,
        capsys,
        "refill",
        *("--removed", "20", "--added", "18", "--concentration", "2000", "--same-dose"),
        *("--lot", "L-9"),
    )
    assert code == cli.EXIT_OK, err
    assert "24-hour dose:         100 mcg/day -> 100 mcg/day (change 0 %)" in out
    assert "bridge:               0.486 mL dead volume at 500 mcg/mL" in out
    status = pump.virtual.pump.status()
    assert status.daily_dose_ng == 100_000 and status.bridge_concentration_ug_per_ml == 500
    code, out, _ = run(pump, capsys, "status")
    assert "bridge:               rates at 500 mcg/mL" in out
    code, out, _ = run(pump, capsys, "cancel-bridge")
    assert code == cli.EXIT_OK and "bridge cancelled" in out
    assert pump.virtual.pump.status().basal_rate_nl_per_day == 50_000


def test_implant_record_read_and_written(
    pump: InprocPump, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        pump,
        capsys,
        "implant",
        "set",
        *("--length", "95.5", "--uncertainty", "2", "--origin", "cerebral"),
        *("--patient-id", "P-7", "--physician", "Dr K", "--catheter-model", "ITB-S"),
    )
    assert code == cli.EXIT_OK
    assert "95.5 cm +/- 2 cm, 0.0026 mL/cm" in out
    assert "P-7 (cerebral spasticity)" in out
    implant = pump.virtual.pump.implant
    assert implant is not None and implant.catheter_length_mm == 955


def test_dose_parameters_read_in_mcg() -> None:
    assert cli.fmt_param("daily_dose_ng", 396_880) == "daily_dose=396.88 mcg/day"
    assert cli.fmt_param("dose_ng", 50_000) == "dose=50 mcg"
    assert cli.fmt_param("catheter_length_mm", 1100) == "catheter_length=110 cm"


def test_usage_error_is_a_local_protocol_error() -> None:

    assert issubclass(cli.UsageError, LocalError) and issubclass(cli.UsageError, ProtocolError)
    assert issubclass(cli.UsageError, ValueError)
