"""Dosing truth over the wire: domain.md's worked cases, each computed by hand, against a
virtual pump reached through PumpClient (pumpsim://, manual clock).

Numbers (domain.md): rate = dose / concentration; the bridge runs the NEW prescription at
the OLD concentration until the volume delivered since the refill equals the dead volume
(tubing 0.2 mL + catheter length x 0.0026 mL/cm), then at the new one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import BolusKind, ErrorCode, Mode, Origin, StopReason
from protocol.errors import NakError
from protocol.forecast import dates_from_status
from tests.support import InprocPump, inproc_pump

DAY = 86_400
HOUR = 3_600


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    # The default pump: 20 mL of 500 mcg/mL, 100 mcg/day (0.2 mL/day), 110 cm catheter.
    with inproc_pump() as p:
        yield p


def _implant(length_mm: int, uncertainty_mm: int = 0) -> m.ImplantFields:
    return m.ImplantFields(
        catheter_model="ITB-1",
        catheter_volume_nl_per_cm=2_600,
        catheter_length_mm=length_mm,
        catheter_length_uncertainty_mm=uncertainty_mm,
        implanted_at_s=None,
        patient_id="P-1",
        origin=Origin.SPINAL,
        physician="Dr T",
    )


def _refill(
    client: PumpClient, *, to: int, prescription: m.PrescriptionSpec, bridge: bool = True
) -> m.CommitRefillResponse:
    return client.refill(
        removed_nl=client.status().reservoir_nl,
        added_nl=18_000_000,
        concentration_ug_per_ml=to,
        prescription=prescription,
        bridge=bridge,
    )


def _to_next(pump: InprocPump, client: PumpClient, hh: int) -> None:
    """Advance the pump clock to the next hh:00 UTC."""
    clock = client.status().clock_s
    pump.clock.advance((hh * HOUR - clock % DAY) % DAY)


def _commanded(pump: InprocPump) -> int:
    return pump.virtual.pump.total_commanded_nl


def test_the_flex_case_of_domain_md_ends_88560_s_after_the_refill(pump: InprocPump) -> None:
    # Refill at 08:00 from 500 to 2000 mcg/mL, dead volume 0.33 mL (tubing 0.2 + 50 cm),
    # new profile 00:00 120, 08:00 200, 20:00 120 mcg/day; at 500 mcg/mL 0.24 and 0.4 mL/day.
    flex = m.PrescriptionSpec.flex(
        [
            m.FlexStep(start_min=0, dose_ng_per_day=120_000),
            m.FlexStep(start_min=8 * 60, dose_ng_per_day=200_000),
            m.FlexStep(start_min=20 * 60, dose_ng_per_day=120_000),
        ],
        concentration_ug_per_ml=2000,
    )
    with pump.client() as client:
        client.set_implant(_implant(500))
        _to_next(pump, client, 8)
        refill_at = client.status().clock_s
        result = _refill(client, to=2000, prescription=flex)
        assert result.bridge_volume_nl == 330_000
        assert result.bridge_ends_at_s == refill_at + 88_560  # 24 h 36 min
        assert client.status().bridge_ends_at_s == refill_at + 88_560
        # Each hour of the bridge: the prescribed mcg, as the old drug's volume.
        for hour in range(24):
            before = _commanded(pump)
            pump.clock.advance(HOUR)
            client.status()  # the pump runs up to the clock when asked
            volume = _commanded(pump) - before
            dose_per_day = 200_000 if 8 <= (8 + hour) % 24 < 20 else 120_000
            assert abs(volume * 500 - dose_per_day * 1000 // 24) <= 500  # within 1 nL
        pump.clock.advance(36 * 60 - 1)
        late = client.status()
        assert late.bridge_remaining_nl > 0 and late.bridge_concentration_ug_per_ml == 500
        pump.clock.advance(1)
        after = client.status()
        assert after.bridge_concentration_ug_per_ml == 0 and after.bridge_remaining_nl == 0
        assert after.basal_rate_nl_per_day == 100_000  # 200 mcg/day of 2000 mcg/mL
        assert after.daily_dose_ng == 160_000


def test_a_rise_with_a_dose_change_at_the_same_refill(pump: InprocPump) -> None:
    # 500 -> 2000 mcg/mL and 100 -> 150 mcg/day; dead volume 0.486 mL (110 cm):
    # 150 mcg/day of 500 mcg/mL = 0.3 mL/day, so 0.486 mL takes 1.62 days = 139,968 s.
    with pump.client() as client:
        start = client.status().clock_s
        result = _refill(
            client,
            to=2000,
            prescription=m.PrescriptionSpec.simple(150_000, concentration_ug_per_ml=2000),
        )
        assert result.bridge_volume_nl == 486_000
        assert result.bridge_ends_at_s == start + 139_968
        during = client.status()
        assert during.basal_rate_nl_per_day == 300_000 and during.daily_dose_ng == 150_000
        pump.clock.advance(139_968)
        after = client.status()
        assert after.bridge_concentration_ug_per_ml == 0
        assert after.basal_rate_nl_per_day == 75_000  # 150 mcg/day of 2000 mcg/mL


def test_a_fall_uses_the_upper_bound_of_the_catheter_length(pump: InprocPump) -> None:
    # 110 +/- 5 cm: a fall uses 115 cm (0.2 + 0.299 = 0.499 mL), a rise 105 cm (0.473 mL).
    with pump.client() as client:
        client.set_implant(_implant(1_100, 50))
        to_2000 = m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000)
        rise = _refill(client, to=2000, prescription=to_2000)
        assert rise.bridge_volume_nl == 473_000
        client.cancel_bridge()
        start = client.status().clock_s
        fall = _refill(
            client,
            to=500,
            prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=500),
        )
        assert fall.bridge_volume_nl == 499_000
        # 400 mcg/day of the old 2000 mcg/mL is 0.2 mL/day: 0.499 mL takes 2.495 days.
        assert fall.bridge_ends_at_s == start + 215_568
        assert client.status().basal_rate_nl_per_day == 200_000
        pump.clock.advance(215_568)
        assert client.status().basal_rate_nl_per_day == 800_000  # 400 mcg/day of 500 mcg/mL


def test_domain_md_simple_case_runs_2_43_days(pump: InprocPump) -> None:
    # 0.486 mL of 2000 mcg/mL at 400 mcg/day runs at 0.2 mL/day for 2.43 days (209,952 s).
    with pump.client() as client:
        _refill(
            client,
            to=2000,
            prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=2000),
            bridge=False,
        )
        start = client.status().clock_s
        result = _refill(
            client,
            to=1000,
            prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=1000),
        )
        assert result.bridge_volume_nl == 486_000
        assert result.bridge_ends_at_s == start + 209_952
        assert client.status().basal_rate_nl_per_day == 200_000


def test_a_patient_dose_during_the_bridge_is_of_the_old_drug_and_brings_the_end_forward(
    pump: InprocPump,
) -> None:
    same = m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=2000)
    with pump.client() as client:
        _refill(client, to=2000, prescription=same)
        plain_end = client.status().bridge_ends_at_s
        assert plain_end is not None
        client.set_patient_settings(
            enabled=True, dose_ng=20_000, duration_s=600, lockout_s=HOUR, max_per_24h=4
        )
        grant = client.patient_dose()
        # 20 mcg of the old 500 mcg/mL drug is 0.04 mL.
        assert (grant.dose_ng, grant.volume_nl) == (20_000, 40_000)
        client.set_patient_settings(
            enabled=False, dose_ng=20_000, duration_s=600, lockout_s=HOUR, max_per_24h=4
        )
        end = client.status().bridge_ends_at_s
        assert end is not None
        # Net extra volume: 40,000 nL less the 600 s of 0.2 mL/day basal it replaced
        # (1,389 nL); at 0.2 mL/day that is 38,611 nL / (200,000 nL / 86,400 s) = 16,680 s.
        assert abs((plain_end - end) - 16_680) <= 2


def test_the_alarm_date_counts_patient_doses_at_their_maximum(pump: InprocPump) -> None:
    # 100 mcg/day of 500 mcg/mL (0.2 mL/day); doses of 10 mcg (0.02 mL) over 10 min, 4 h
    # apart, 6 a day, the first now. Each 4 h cycle: 20,000 nL + 13,800 s of basal
    # (31,944.4 nL) = 51,944.4 nL. 18 mL to the 2 mL alarm: 346 cycles (17,972,777.8 nL),
    # then a dose (20,000 nL) and 7,222.2 nL of basal (3,120 s): 346 x 14,400 + 600 + 3,120.
    with pump.client() as client:
        client.set_patient_settings(
            enabled=True, dose_ng=10_000, duration_s=600, lockout_s=4 * HOUR, max_per_24h=6
        )
        status = client.status()
        hand = status.clock_s + 346 * 14_400 + 600 + 3_120
        assert status.low_reservoir_alarm_at_s is not None
        assert abs(status.low_reservoir_alarm_at_s - hand) <= 2
        dates = dates_from_status(
            status,
            prescription=client.read_prescription().prescription,
            patient=client.patient_settings(),
            info=client.device_info(),
        )
        assert dates.low_reservoir_at_s == status.low_reservoir_alarm_at_s


def test_the_programmer_computes_the_pump_dates_to_the_second(pump: InprocPump) -> None:
    # ERI, empty, low reservoir and bridge end from one STATUS, with a bridge, a bolus and
    # patient doses all in play.
    with pump.client() as client:
        client.set_patient_settings(
            enabled=True, dose_ng=15_000, duration_s=900, lockout_s=3 * HOUR, max_per_24h=5
        )
        client.patient_dose()
        pump.clock.advance(HOUR)
        _refill(
            client,
            to=2000,
            prescription=m.PrescriptionSpec.flex(
                [
                    m.FlexStep(start_min=0, dose_ng_per_day=100_000),
                    m.FlexStep(start_min=7 * 60, dose_ng_per_day=130_000),
                ],
                concentration_ug_per_ml=2000,
            ),
        )
        client.start_bolus(dose_ng=30_000, duration_s=2 * HOUR)
        pump.clock.advance(1_234)
        status = client.status()
        dates = dates_from_status(
            status,
            prescription=client.read_prescription().prescription,
            patient=client.patient_settings(),
            info=client.device_info(),
        )
    assert status.bridge_ends_at_s is not None and status.eri_at_s is not None
    assert (dates.low_reservoir_at_s, dates.empty_at_s, dates.eri_at_s, dates.bridge_ends_at_s) == (
        status.low_reservoir_alarm_at_s,
        status.empty_at_s,
        status.eri_at_s,
        status.bridge_ends_at_s,
    )


def test_a_bridge_is_never_a_push_at_the_maximum_rate(pump: InprocPump) -> None:
    # A push of 0.486 mL of 2000 mcg/mL in 29 min would be 972 mcg. The bridge runs the
    # dose at the old concentration instead: 100 mcg/day as 0.2 mL/day, for 2.43 days.
    with pump.client() as client:
        same = m.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=2000)
        result = _refill(client, to=2000, prescription=same)
        status = client.status()
        assert status.bolus_kind is BolusKind.NONE
        assert status.current_rate_nl_per_day == 200_000
        assert result.bridge_ends_at_s == status.clock_s + 209_952


def test_stopped_has_one_meaning(pump: InprocPump) -> None:
    with pump.client() as client:
        client.stop(StopReason.MRI)
        stopped = client.status()
        assert (stopped.mode, stopped.stop_reason, stopped.delivering) == (
            Mode.STOPPED,
            StopReason.MRI,
            False,
        )
        assert client.resume().mode is Mode.SIMPLE
        client.program(m.PrescriptionSpec.stopped(concentration_ug_per_ml=500))
        programmed = client.status()
        assert (programmed.mode, programmed.stop_reason, programmed.delivering) == (
            Mode.STOPPED,
            StopReason.NONE,
            False,
        )
        with pytest.raises(NakError) as err:
            client.resume()
        assert err.value.code is ErrorCode.INVALID_STATE
        assert "program" in err.value.reason


def test_a_stopped_pump_forecasts_no_volume_dates_and_eri_on_the_quiescent_drain(
    pump: InprocPump,
) -> None:
    # docs/protocol.md, Forecasts: nothing moves while stopped or halted.
    with pump.client() as client:
        running = client.status()
        client.stop(StopReason.OTHER)
        stopped = client.status()
    assert running.low_reservoir_alarm_at_s is not None
    assert (stopped.low_reservoir_alarm_at_s, stopped.empty_at_s) == (None, None)
    assert running.eri_at_s is not None and stopped.eri_at_s is not None
    assert stopped.eri_at_s > running.eri_at_s
