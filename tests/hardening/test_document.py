"""Issue 13, item 14: what docs/protocol.md promises is what the pump does.

The limits are published (LIMITS, opcode 0x08) and are the very bounds the pump enforces;
MALFORMED reasons are one line without the parser's internals; NOTIFY is documented as
reserved and never sent; self-clearing alarms are documented; the lockout is described
once, per link; examples/captures/README.md names the decode command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import cli, docgen
from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind, ErrorCode, Flags, Op, Role
from protocol.errors import NakError
from protocol.frames import encode_frame
from protocol.session import ROLE_OPS
from tests.hardening.fuzz import DeviceHarness
from tests.support import inproc_pump

ROOT = Path(__file__).resolve().parents[2]


def test_the_published_limits_are_the_ones_enforced() -> None:
    with inproc_pump() as pump, pump.client() as client:
        limits = client.limits()
        profile = pump.virtual.pump.profile
        assert limits.min_alarm_volume_nl == profile.min_alarm_volume_nl
        for volume, ok in (
            (limits.min_alarm_volume_nl - 1, False),
            (limits.min_alarm_volume_nl, True),
            (limits.max_alarm_volume_nl, True),
            (limits.max_alarm_volume_nl + 1, False),
        ):
            try:
                client.call(m.SetAlarmVolumeRequest(volume_nl=volume), m.SetAlarmVolumeResponse)
                assert ok, volume
            except NakError as error:
                assert not ok and error.code is ErrorCode.OUT_OF_RANGE, volume
        small = m.StartBolusRequest(
            kind=BolusKind.PRIMING,
            dose_ng=0,
            volume_nl=limits.min_bolus_volume_nl - 1,
            duration_s=0,
        )
        with pytest.raises(NakError) as caught:
            client.call(small, m.StartBolusResponse)
        assert caught.value.code is ErrorCode.OUT_OF_RANGE
        assert 500 in limits.standard_concentrations_ug_per_ml
    with inproc_pump() as pump, pump.client(Role.PATIENT) as patient:
        assert patient.limits().max_patient_doses_per_24h > 0  # a patient may read them too
    assert Op.LIMITS in ROLE_OPS[Role.PATIENT]


def test_malformed_reasons_are_one_line_without_parser_internals() -> None:
    harness = DeviceHarness(seed=8)
    harness.seq += 1
    frame = harness.maced(op=Op.STAGE_PRESCRIPTION, payload=b"\x01", seq=harness.seq)
    (answer,) = harness.send(encode_frame(frame))
    nak = m.decode_response(answer.op, answer.payload)
    assert isinstance(nak, m.Nak) and nak.code is ErrorCode.MALFORMED
    assert "\n" not in nak.reason and "Error in path" not in nak.reason
    assert "stream read" not in nak.reason and "->" not in nak.reason
    assert nak.reason.startswith("StagePrescriptionRequest: ")


def test_notify_is_reserved_and_never_sent() -> None:
    doc = docgen.generate()
    assert "NOTIFY (reserved)" in doc
    harness = DeviceHarness(seed=9)
    for request in (m.StatusRequest(), m.ReadAlarmsRequest(), m.LimitsRequest()):
        for answer in harness.request(request):
            assert not answer.flags & Flags.NOTIFY


def test_the_document_describes_the_lockout_once_and_self_clearing_alarms() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    assert doc == docgen.generate()
    assert doc.count("**Back-off (the lockout), per link.**") == 1
    assert "per pump (a reconnect does not reset" not in doc
    assert "locks the pump" not in doc
    for code in AlarmCode:
        assert f"| {code.name} | Self-clearing" in doc or f"| {code.name} | Latched" in doc
    readme = (ROOT / "examples" / "captures" / "README.md").read_text()
    assert (
        "once the command\nis wired in" not in readme and "once the command is wired" not in readme
    )
    assert "pump-emulator decode examples/captures/demo-session.jsonl" in readme


def test_pumpctl_prints_the_limits(capsys: pytest.CaptureFixture[str]) -> None:
    with inproc_pump() as pump:
        assert cli.main(["--port", pump.url, "limits"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "alarm volume:         1.5 mL to 5 mL" in out
    assert "patient lockout:      15 min to 1 d" in out
