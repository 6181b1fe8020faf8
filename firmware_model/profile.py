"""Per-model pump constants: every clinical number the firmware model uses.

No other module of ``firmware_model`` holds a clinical literal; they all read
a :class:`PumpProfile`. The defaults are teaching values taken from
the project's domain notes, not clinical advice. Choices the domain notes leave
open are documented on the field.

Battery calibration (the defaults): a charge unit is the microcoulomb (uC).
Life at a constant flow ``r`` is ``capacity / (quiescent * 86400 + per_nl * r)``
days. With ``quiescent = 56 uC/s``, ``per_nl = 1 uC/nL`` and a capacity of
12,484,752,000 uC a new battery lasts exactly 7 x 365 days at the minimum
programmable flow (0.048 mL/day) and 5.00 years at 2 mL/day (1000 mcg/day at
500 mcg/mL, the high end of doses used in practice); telemetry draws 2 mA.
"""

from __future__ import annotations

from dataclasses import field, fields, replace

from firmware_model.errors import InvalidProfileError
from protocol.battery import BatteryModel
from protocol.enums import AlarmClass, ValveModel
from protocol.frozen import frozen
from protocol.schedule import priming_duration_s, shortest_bolus_s
from protocol.timebase import MINUTES_PER_DAY, SECONDS_PER_DAY, ceil_div

_PPM = 1_000_000


@frozen
class ToneSpec:
    """An alarm tone pattern: ``tones`` tones lasting ``duration_s``, every ``repeat_s``."""

    tones: int
    duration_s: int
    repeat_s: int

    def __post_init__(self) -> None:
        for name in ("tones", "duration_s", "repeat_s"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise InvalidProfileError(field=name, value=value, rule="must be an int >= 1")
        if self.repeat_s < self.duration_s:
            raise InvalidProfileError(
                field="repeat_s", value=self.repeat_s, rule="must be >= duration_s"
            )


@frozen
class PumpProfile:
    """Everything that differs between pump models, validated on construction."""

    model: int
    """Nominal reservoir size in mL; the key of :data:`PROFILES`."""
    model_name: str
    firmware_version: str
    capacity_nl: int

    commercial_concentrations_ug_per_ml: tuple[int, ...] = (500, 1000, 2000)
    trial_concentrations_ug_per_ml: tuple[int, ...] = (50,)
    """For trial injections only: a pump refill at these needs an explicit override."""
    nonstandard_concentration_min_ug_per_ml: int = 10
    """With the override, any concentration in [min, max] is accepted (emulator bound)."""
    nonstandard_concentration_max_ug_per_ml: int = 4_000

    min_rate_nl_per_day: int = 48_000
    """Minimum programmable flow, 0.048 mL/day."""
    minimum_rate_mode_nl_per_day: int = 6_000
    """Keep-open flow of the minimum-rate mode, 0.006 mL/day."""
    max_rate_nl_per_day: int = 24_000_000
    """Maximum flow (1 mL/h); bridge and priming boluses run at it."""
    delivery_bias_ppm: int = 0
    """Actual volume = commanded volume x (1 + bias); the pump's estimate ignores it."""

    empty_threshold_nl: int = 1_000_000
    """Estimated volume at which delivery can no longer be assured (1.0 mL): below it the
    bellows cannot meter reliably, and a 1 mL margin covers an estimate error as large as
    the 20 mL model's refill-discrepancy tolerance before the reservoir truly runs dry."""
    default_alarm_volume_nl: int = 2_000_000
    min_alarm_volume_nl: int = 1_500_000
    """Kept 0.5 mL above the empty threshold so the low-reservoir alarm always comes first."""
    max_alarm_volume_nl: int = 5_000_000

    internal_tubing_volume_nl: int = 200_000
    """Dead volume inside the pump between reservoir and catheter port (assumed 0.2 mL)."""
    catheter_volume_nl_per_cm: int = 2_600
    """0.0026 mL/cm; the emulator's fluid path multiplies by the trimmed length."""

    refill_discrepancy_threshold_nl: int = 1_000_000
    """A refill whose removed volume differs from the estimate by more is flagged."""

    min_bolus_volume_nl: int = 1_000
    max_bolus_duration_s: int = SECONDS_PER_DAY

    max_flex_steps: int = 13
    flex_step_granularity_min: int = 15
    """Flex steps start on multiples of this many minutes after midnight."""

    patient_dose_max_volume_nl: int = 500_000
    patient_max_doses_per_24h: int = 12
    """Upper limit of the clinician-set maximum number of patient doses per 24 h."""
    patient_lockout_min_s: int = 900
    patient_lockout_max_s: int = SECONDS_PER_DAY

    battery_capacity_uc: int = 12_484_752_000
    battery_quiescent_drain_uc_per_s: int = 56
    battery_drain_uc_per_nl: int = 1
    """Charge per commanded nanolitre (motor strokes)."""
    battery_telemetry_drain_uc_per_s: int = 2_000
    battery_rated_low_flow_nl_per_day: int = 48_000
    """Flow at which a new battery is rated to last 7 years."""
    battery_rated_high_flow_nl_per_day: int = 2_000_000
    """Flow at which a new battery is rated to last 5 years."""
    eri_lead_s: int = 90 * SECONDS_PER_DAY
    """ERI is raised when the projected battery life left drops below this."""

    critical_tone: ToneSpec = field(
        default_factory=lambda: ToneSpec(tones=2, duration_s=3, repeat_s=600)
    )
    non_critical_tone: ToneSpec = field(
        default_factory=lambda: ToneSpec(tones=1, duration_s=1, repeat_s=3_600)
    )

    valve_model: ValveModel = ValveModel.MOTOR
    """How the pump meters drug, as an MRI meets it (domain.md): a motor whose rotor the
    field stops (SynchroMed-like, the default), or one of the two Prometra-like valve
    models (see :mod:`firmware_model.valve`)."""
    valve_flow_limit_nl: int = 10_000
    """What a flow-activated valve lets through before it closes (about 10 uL)."""

    event_log_capacity: int = 1_024
    forecast_horizon_s: int = 3_650 * SECONDS_PER_DAY
    """Forecasts further ahead than this (10 years) are reported as None."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and type(value) is not int:
                raise InvalidProfileError(field=f.name, value=value, rule="must be an int")
            if f.type == "str" and (type(value) is not str or not value):
                raise InvalidProfileError(field=f.name, value=value, rule="must be a non-empty str")
            if f.type == "tuple[int, ...]" and not (
                type(value) is tuple and all(type(v) is int and v > 0 for v in value)
            ):
                raise InvalidProfileError(
                    field=f.name, value=value, rule="must be a tuple of positive ints"
                )
            if f.type == "ValveModel" and not isinstance(value, ValveModel):
                raise InvalidProfileError(field=f.name, value=value, rule="must be a ValveModel")
            if f.type == "ToneSpec" and not isinstance(value, ToneSpec):
                raise InvalidProfileError(field=f.name, value=value, rule="must be a ToneSpec")
        self._check_volumes()
        self._check_rates_and_doses()
        self._check_battery_and_misc()

    def _require(self, ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise InvalidProfileError(field=name, value=getattr(self, name), rule=rule)

    def _check_volumes(self) -> None:
        r = self._require
        r(self.model > 0, "model", "must be > 0")
        r(self.capacity_nl > 0, "capacity_nl", "must be > 0")
        r(
            len(self.commercial_concentrations_ug_per_ml) > 0,
            "commercial_concentrations_ug_per_ml",
            "must not be empty",
        )
        r(
            0
            < self.nonstandard_concentration_min_ug_per_ml
            <= self.nonstandard_concentration_max_ug_per_ml,
            "nonstandard_concentration_min_ug_per_ml",
            "must be > 0 and <= nonstandard_concentration_max_ug_per_ml",
        )
        # One second at the maximum rate must not overshoot the empty threshold
        # down to a negative estimate.
        r(
            self.empty_threshold_nl > ceil_div(self.max_rate_nl_per_day, SECONDS_PER_DAY),
            "empty_threshold_nl",
            "must exceed one second of delivery at max_rate_nl_per_day",
        )
        r(
            self.empty_threshold_nl < self.min_alarm_volume_nl,
            "min_alarm_volume_nl",
            "must be > empty_threshold_nl",
        )
        r(
            self.min_alarm_volume_nl <= self.default_alarm_volume_nl <= self.max_alarm_volume_nl,
            "default_alarm_volume_nl",
            "must be within [min_alarm_volume_nl, max_alarm_volume_nl]",
        )
        r(
            self.max_alarm_volume_nl < self.capacity_nl,
            "max_alarm_volume_nl",
            "must be < capacity_nl",
        )
        r(self.internal_tubing_volume_nl >= 0, "internal_tubing_volume_nl", "must be >= 0")
        r(self.catheter_volume_nl_per_cm >= 0, "catheter_volume_nl_per_cm", "must be >= 0")
        r(
            self.refill_discrepancy_threshold_nl >= 0,
            "refill_discrepancy_threshold_nl",
            "must be >= 0",
        )

    def _check_rates_and_doses(self) -> None:
        r = self._require
        r(
            0 < self.minimum_rate_mode_nl_per_day <= self.min_rate_nl_per_day,
            "minimum_rate_mode_nl_per_day",
            "must be > 0 and <= min_rate_nl_per_day",
        )
        r(
            self.min_rate_nl_per_day <= self.max_rate_nl_per_day,
            "max_rate_nl_per_day",
            "must be >= min_rate_nl_per_day",
        )
        r(-_PPM < self.delivery_bias_ppm < _PPM, "delivery_bias_ppm", "must be within (-1e6, 1e6)")
        r(
            0 < self.min_bolus_volume_nl <= self.capacity_nl,
            "min_bolus_volume_nl",
            "must be > 0 and <= capacity_nl",
        )
        r(self.max_bolus_duration_s > 0, "max_bolus_duration_s", "must be > 0")
        r(self.max_flex_steps >= 1, "max_flex_steps", "must be >= 1")
        r(
            self.flex_step_granularity_min >= 1
            and MINUTES_PER_DAY % self.flex_step_granularity_min == 0,
            "flex_step_granularity_min",
            "must be >= 1 and divide 1440",
        )
        r(
            self.min_bolus_volume_nl <= self.patient_dose_max_volume_nl <= self.capacity_nl,
            "patient_dose_max_volume_nl",
            "must be within [min_bolus_volume_nl, capacity_nl]",
        )
        r(self.patient_max_doses_per_24h >= 1, "patient_max_doses_per_24h", "must be >= 1")
        # The request rule only remembers the trailing 24 h, so a longer
        # lockout could not be enforced.
        r(
            0 < self.patient_lockout_min_s <= self.patient_lockout_max_s <= SECONDS_PER_DAY,
            "patient_lockout_min_s",
            "must satisfy 0 < min <= patient_lockout_max_s <= 86400",
        )

    def _check_battery_and_misc(self) -> None:
        r = self._require
        r(self.battery_capacity_uc > 0, "battery_capacity_uc", "must be > 0")
        # A quiescent drain keeps every battery forecast finite.
        r(
            self.battery_quiescent_drain_uc_per_s > 0,
            "battery_quiescent_drain_uc_per_s",
            "must be > 0",
        )
        r(self.battery_drain_uc_per_nl >= 0, "battery_drain_uc_per_nl", "must be >= 0")
        r(
            self.battery_telemetry_drain_uc_per_s >= 0,
            "battery_telemetry_drain_uc_per_s",
            "must be >= 0",
        )
        r(
            0 < self.battery_rated_low_flow_nl_per_day <= self.battery_rated_high_flow_nl_per_day,
            "battery_rated_low_flow_nl_per_day",
            "must be > 0 and <= battery_rated_high_flow_nl_per_day",
        )
        r(self.eri_lead_s > 0, "eri_lead_s", "must be > 0")
        r(self.event_log_capacity >= 1_024, "event_log_capacity", "must be >= 1024")
        r(self.forecast_horizon_s > 0, "forecast_horizon_s", "must be > 0")
        r(self.valve_flow_limit_nl > 0, "valve_flow_limit_nl", "must be > 0")

    def tone_for(self, alarm_class: AlarmClass) -> ToneSpec:
        """The tone pattern of an alarm class."""
        if alarm_class is AlarmClass.CRITICAL:
            return self.critical_tone
        return self.non_critical_tone

    def battery(self) -> BatteryModel:
        """The battery arithmetic of this model (shared with the programmer)."""
        return BatteryModel(
            capacity_uc=self.battery_capacity_uc,
            quiescent_drain_uc_per_s=self.battery_quiescent_drain_uc_per_s,
            drain_uc_per_nl=self.battery_drain_uc_per_nl,
            telemetry_drain_uc_per_s=self.battery_telemetry_drain_uc_per_s,
            eri_lead_s=self.eri_lead_s,
        )

    def bolus_duration_at_max_rate_s(self, volume_nl: int) -> int:
        """Whole seconds a bolus of ``volume_nl`` takes at the maximum rate (rounded up): a
        priming bolus's duration."""
        return priming_duration_s(volume_nl, self.max_rate_nl_per_day)

    def shortest_bolus_s(self, volume_nl: int) -> int:
        """The shortest duration of a bolus other than priming: below the maximum rate."""
        return shortest_bolus_s(volume_nl, self.max_rate_nl_per_day)


PROFILES: dict[int, PumpProfile] = {
    20: PumpProfile(
        model=20,
        model_name="vpump 20 mL",
        firmware_version="1.0.0",
        capacity_nl=20_000_000,
        refill_discrepancy_threshold_nl=1_000_000,
        max_alarm_volume_nl=5_000_000,
    ),
    40: PumpProfile(
        model=40,
        model_name="vpump 40 mL",
        firmware_version="1.0.0",
        capacity_nl=40_000_000,
        refill_discrepancy_threshold_nl=2_000_000,
        max_alarm_volume_nl=10_000_000,
    ),
}
"""The two models, keyed by nominal reservoir size in mL."""


VALVE_MODEL_NAMES: dict[ValveModel, str] = {
    ValveModel.MOTOR: "",
    ValveModel.VALVE_DISCHARGE: " valve (original)",
    ValveModel.VALVE_FLOW_ACTIVATED: " valve (flow-activated)",
}
"""What a valve model adds to the model's name."""


def profile_for(model: int, valve: ValveModel = ValveModel.MOTOR) -> PumpProfile:
    """The profile of a model (20 or 40), motor-driven or one of the valve models;
    ``KeyError`` names the known models otherwise."""
    try:
        profile = PROFILES[model]
    except KeyError:
        raise KeyError(f"unknown pump model {model!r}; known: {sorted(PROFILES)}") from None
    if valve is ValveModel.MOTOR:
        return profile
    return replace(
        profile, valve_model=valve, model_name=profile.model_name + VALVE_MODEL_NAMES[valve]
    )
