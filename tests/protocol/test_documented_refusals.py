"""Every refusal docs/protocol.md lists per request (docgen.COMMAND_NAKS) is one the pump
really gives: each (request, code) pair is provoked here over the wire, and the refusal
changes nothing the next STATUS shows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from protocol import messages as m
from protocol.client import PumpClient
from protocol.docgen import COMMAND_NAKS
from protocol.enums import AlarmCode, BolusKind, ErrorCode, Op, StopReason
from protocol.errors import NakError
from tests.support import InprocPump, inproc_pump

DAY = 86_400
SAME = m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500)


def _refill_request(**changes: object) -> m.StageRefillRequest:
    fields: dict[str, object] = {
        "removed_nl": 20_000_000,
        "added_nl": 18_000_000,
        "concentration_ug_per_ml": 2000,
        "allow_nonstandard": False,
        "bridge": True,
        "drug_lot": "",
        "prescription": SAME.with_concentration(2000),
    }
    fields.update(changes)
    return m.StageRefillRequest(**fields)  # type: ignore[arg-type]


def _commit_after(
    client: PumpClient, request: m.StageRefillRequest, between: Callable[[], None]
) -> None:
    staged = client.stage_refill(request)
    between()
    client.commit_refill(staged.checksum)


def _other_link_refills(pump: InprocPump, concentration: int = 2000) -> None:
    """Another programmer, on another link, refills to 18 mL of ``concentration``."""
    with pump.client() as other:
        other.refill(
            removed_nl=other.status().reservoir_nl,
            added_nl=18_000_000,
            concentration_ug_per_ml=concentration,
            prescription=SAME.with_concentration(concentration),
            bridge=concentration != other.status().concentration_ug_per_ml,
        )


def _other_link_sets_tiny_doses(pump: InprocPump) -> None:
    with pump.client() as other:
        other.set_patient_settings(
            enabled=True, dose_ng=1_000, duration_s=600, lockout_s=3600, max_per_24h=4
        )


Provoke = Callable[[PumpClient, InprocPump], object]


def _commit_after_other_refill(c: PumpClient, p: InprocPump) -> None:
    c.stage(SAME)
    _other_link_refills(p)
    c.commit(m.prescription_checksum(SAME))


def _bolus_while_stopped(c: PumpClient, p: InprocPump) -> None:
    c.stop(StopReason.OTHER)
    c.start_bolus(dose_ng=10_000, duration_s=3600)


def _stop_twice(c: PumpClient, p: InprocPump) -> None:
    c.stop(StopReason.OTHER)
    c.stop(StopReason.OTHER)


def _clear_low_reservoir_while_low(c: PumpClient, p: InprocPump) -> None:
    p.clock.advance(90 * DAY)
    c.clear_alarm(AlarmCode.LOW_RESERVOIR)


CASES: dict[tuple[Op, ErrorCode], Provoke] = {
    (Op.STAGE_PRESCRIPTION, ErrorCode.CONCENTRATION_MISMATCH): lambda c, p: c.stage(
        SAME.with_concentration(750)
    ),
    (Op.STAGE_PRESCRIPTION, ErrorCode.OUT_OF_RANGE): lambda c, p: c.stage(
        m.PrescriptionSpec.simple(15_000_000, concentration_ug_per_ml=500)
    ),
    (Op.COMMIT_PRESCRIPTION, ErrorCode.INVALID_STATE): lambda c, p: c.commit(1),
    (Op.COMMIT_PRESCRIPTION, ErrorCode.CHECKSUM_MISMATCH): lambda c, p: c.commit(c.stage(SAME) ^ 1),
    # Staged for 500 mcg/mL; another link refills with 2000 before the commit.
    (Op.COMMIT_PRESCRIPTION, ErrorCode.CONCENTRATION_MISMATCH): _commit_after_other_refill,
    (Op.START_BOLUS, ErrorCode.PUMP_HALTED): lambda c, p: (
        p.virtual.pump.set_motor_stall(p.virtual.pump.t, True),
        c.start_bolus(dose_ng=10_000, duration_s=3600),
    ),
    (Op.START_BOLUS, ErrorCode.INVALID_STATE): _bolus_while_stopped,
    (Op.START_BOLUS, ErrorCode.OUT_OF_RANGE): lambda c, p: c.start_bolus(
        dose_ng=10_000, duration_s=60
    ),
    (Op.CANCEL_BOLUS, ErrorCode.INVALID_STATE): lambda c, p: c.cancel_bolus(),
    (Op.STOP_PUMP, ErrorCode.INVALID_STATE): _stop_twice,
    (Op.RESUME_PUMP, ErrorCode.INVALID_STATE): lambda c, p: c.resume(),
    (Op.CANCEL_BRIDGE, ErrorCode.INVALID_STATE): lambda c, p: c.cancel_bridge(),
    (Op.RESET_VALVE, ErrorCode.INVALID_STATE): lambda c, p: c.reset_valve(),
    (Op.STAGE_REFILL, ErrorCode.OUT_OF_RANGE): lambda c, p: c.stage_refill(
        _refill_request(concentration_ug_per_ml=7, prescription=SAME.with_concentration(7))
    ),
    (Op.STAGE_REFILL, ErrorCode.CONCENTRATION_MISMATCH): lambda c, p: c.stage_refill(
        _refill_request(prescription=SAME)
    ),
    (Op.STAGE_REFILL, ErrorCode.INVALID_STATE): lambda c, p: c.stage_refill(
        _refill_request(concentration_ug_per_ml=500, prescription=SAME)
    ),
    (Op.STAGE_REFILL, ErrorCode.OVERFILL): lambda c, p: c.stage_refill(
        _refill_request(removed_nl=0, added_nl=20_000_001)  # over the 20 mL capacity
    ),
    (Op.COMMIT_REFILL, ErrorCode.CHECKSUM_MISMATCH): lambda c, p: c.commit_refill(
        c.stage_refill(_refill_request()).checksum ^ 1
    ),
    # Staged from 500 to 2000; another link's refill changed the drug to 2000 meanwhile,
    # so the staged bridge is now a refill to the same drug.
    (Op.COMMIT_REFILL, ErrorCode.INVALID_STATE): lambda c, p: _commit_after(
        c, _refill_request(), lambda: _other_link_refills(p)
    ),
    # Staged for 2000 mcg/mL; meanwhile another link set patient doses of 1 mcg, which at
    # 2000 mcg/mL would be 0.5 uL, under the 1 uL smallest dose: re-checked at the commit.
    (Op.COMMIT_REFILL, ErrorCode.OUT_OF_RANGE): lambda c, p: _commit_after(
        c, _refill_request(), lambda: _other_link_sets_tiny_doses(p)
    ),
    (Op.SET_ALARM_VOLUME, ErrorCode.OUT_OF_RANGE): lambda c, p: c.set_alarm_volume(1),
    (Op.SILENCE_ALARM, ErrorCode.INVALID_STATE): lambda c, p: c.silence_alarm(AlarmCode.EOS),
    (Op.CLEAR_ALARM, ErrorCode.INVALID_STATE): lambda c, p: c.clear_alarm(
        AlarmCode.MEMORY_CRITICAL
    ),
    (Op.CLEAR_ALARM, ErrorCode.CONDITION_PERSISTS): _clear_low_reservoir_while_low,
    (Op.SET_CLOCK, ErrorCode.OUT_OF_RANGE): lambda c, p: c.set_clock(2**40),
    (Op.SET_PATIENT_SETTINGS, ErrorCode.OUT_OF_RANGE): lambda c, p: c.set_patient_settings(
        enabled=True, dose_ng=10_000, duration_s=600, lockout_s=60, max_per_24h=4
    ),
    (Op.PATIENT_DOSE, ErrorCode.NOT_ENABLED): lambda c, p: c.patient_dose(),
}


def _enable_doses(c: PumpClient, max_per_24h: int = 4, lockout_s: int = 3600) -> None:
    c.set_patient_settings(
        enabled=True, dose_ng=10_000, duration_s=600, lockout_s=lockout_s, max_per_24h=max_per_24h
    )


def _dose_while_halted(c: PumpClient, p: InprocPump) -> None:
    _enable_doses(c)
    p.virtual.pump.set_motor_stall(p.virtual.pump.t, True)
    c.patient_dose()


def _dose_while_stopped(c: PumpClient, p: InprocPump) -> None:
    _enable_doses(c)
    c.stop(StopReason.OTHER)
    c.patient_dose()


def _dose_in_lockout(c: PumpClient, p: InprocPump) -> None:
    _enable_doses(c)
    c.patient_dose()
    p.clock.advance(1800)
    c.patient_dose()


def _dose_over_limit(c: PumpClient, p: InprocPump) -> None:
    _enable_doses(c, max_per_24h=1, lockout_s=900)
    c.patient_dose()
    p.clock.advance(3600)
    c.patient_dose()


def _dose_past_empty(c: PumpClient, p: InprocPump) -> None:
    _enable_doses(c)
    # 1.01 mL left after 94.95 days at 0.2 mL/day: the 0.02 mL dose would pass the
    # 1 mL empty threshold.
    p.clock.advance(8_203_680)
    c.patient_dose()


CASES.update(
    {
        (Op.PATIENT_DOSE, ErrorCode.PUMP_HALTED): _dose_while_halted,
        (Op.PATIENT_DOSE, ErrorCode.INVALID_STATE): _dose_while_stopped,
        (Op.PATIENT_DOSE, ErrorCode.PATIENT_DOSE_LOCKOUT): _dose_in_lockout,
        (Op.PATIENT_DOSE, ErrorCode.PATIENT_DOSE_LIMIT): _dose_over_limit,
        (Op.PATIENT_DOSE, ErrorCode.OUT_OF_RANGE): _dose_past_empty,
    }
)


def _out_of_range_commit(c: PumpClient, p: InprocPump) -> None:
    """A prescription staged before a bridge, committed during it: its rates at the old
    drug are checked again, and 40 mcg/day of 500 mcg/mL (0.08 mL/day) runs at the old
    2000 mcg/mL as 0.02 mL/day, under the 0.048 mL/day minimum."""
    low = m.PrescriptionSpec.simple(40_000, concentration_ug_per_ml=500)
    staged = c.stage(low)
    _other_link_refills(p, 2000)
    with p.client() as other:
        other.cancel_bridge()
    _other_link_refills(p, 500)  # from 2000 to 500, with the bridge
    c.commit(staged)


# The commit of a prescription refused for its rates during a bridge.
CASES[(Op.COMMIT_PRESCRIPTION, ErrorCode.OUT_OF_RANGE)] = _out_of_range_commit


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    with inproc_pump() as p:
        yield p


def test_every_documented_refusal_has_a_case() -> None:
    documented = {(op, code) for op, codes in COMMAND_NAKS.items() for code in codes}
    assert documented == set(CASES)


ORDERED_CASES: list[tuple[Op, ErrorCode]] = sorted(CASES, key=lambda k: (k[0], k[1]))


@pytest.mark.parametrize(("op", "code"), ORDERED_CASES, ids=lambda v: v.name)
def test_the_pump_gives_the_documented_refusal(pump: InprocPump, op: Op, code: ErrorCode) -> None:
    with pump.client() as client, pytest.raises(NakError) as err:
        CASES[(op, code)](client, pump)
    assert err.value.code is code
    assert err.value.reason  # every refusal says why


def test_a_refusal_changes_nothing(pump: InprocPump) -> None:
    with pump.client() as client:
        before = client.status()
        with pytest.raises(NakError):
            client.stage_refill(_refill_request(prescription=SAME))
        with pytest.raises(NakError):
            client.start_bolus(dose_ng=10_000, duration_s=60)
        after = client.status()
    assert before.prescription_checksum == after.prescription_checksum
    assert (before.reservoir_nl, before.concentration_ug_per_ml) == (
        after.reservoir_nl,
        after.concentration_ug_per_ml,
    )
    assert after.bolus_kind is BolusKind.NONE
