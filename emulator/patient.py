"""An optional one-compartment model of baclofen in the spinal fluid (CSF).

**A teaching aid, not a clinical model.** It shows the shape of the time
course educators talk about (a bolus rises and fades within hours, a rate
change takes about a day to settle, a stop leads to withdrawal within hours);
the numbers it prints are not concentrations anyone measured.

The model: the drug that leaves the catheter tip enters one well-mixed
compartment of ``csf_volume_ml`` and is eliminated first-order with a
configurable half-life (default 4 h, range 1-5 h), ``k = ln 2 / half-life``.
The input is piecewise constant (the fluid path's :class:`TipPiece` stretches,
or any ``(duration, amount)`` the caller gives), so every piece is solved
exactly::

    A(t + dt) = A(t) e^(-k dt) + R/k (1 - e^(-k dt))     R in mcg/s

Amounts are floats in micrograms; the level is ``amount / csf_volume_ml`` in
ng/mL. Time is model seconds, kept exact (``Fraction``) across pieces.

Indicators: the *reference* is the steady-state level of the dose the patient
is established on (``R_ss / k``), set from the prescription by the caller and
deliberately not changed when delivery stops (that is how a stop shows up as
withdrawal). With the default thresholds:

- ``OVERDOSE_RISK`` while the level is above 200 % of the reference;
- ``WITHDRAWAL_RISK`` once the level has stayed below 40 % of the reference
  for longer than 6 h (withdrawal signs can start within hours of a stop);
- ``NORMAL`` otherwise.

Crossing times are found analytically inside each piece (the solution is
monotone there), so a state's ``since_s`` does not depend on how finely the
caller slices time.

Domain facts this reproduces loosely (checked in the tests): a bolus starts
acting within 30-60 min and peaks within a few hours; after a rate change the
level is most of the way to its new steady state within 24-48 h.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from fractions import Fraction

from emulator.fluid_path import FluidPathValueError, TipPiece

__all__ = [
    "DEFAULT_HALF_LIFE_S",
    "MAX_HALF_LIFE_S",
    "MIN_HALF_LIFE_S",
    "Assessment",
    "PatientModel",
    "PatientParams",
    "RiskState",
    "steady_state_amount_ug",
]

_SECONDS_PER_HOUR = 3_600
_SECONDS_PER_DAY = 86_400
_NG_PER_UG = 1_000
_PERMILLE = 1_000

MIN_HALF_LIFE_S = 1 * _SECONDS_PER_HOUR
MAX_HALF_LIFE_S = 5 * _SECONDS_PER_HOUR
DEFAULT_HALF_LIFE_S = 4 * _SECONDS_PER_HOUR
"""CSF elimination half-life of baclofen: 1 to 5 h, 4 h by default (domain notes)."""


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    if type(value) is not int:
        raise FluidPathValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"within {low}..{high}"
        raise FluidPathValueError(f"{name} must be {bound}, got {value}")
    return value


def _check_real(name: str, value: object, *, positive: bool) -> float:
    # bool is an int subclass but never an amount.
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise FluidPathValueError(f"{name} must be an int, float or Fraction, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        rule = "> 0" if positive else ">= 0"
        raise FluidPathValueError(f"{name} must be finite and {rule}, got {value!r}")
    return number


def _check_duration(name: str, value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise FluidPathValueError(f"{name} must be an int or Fraction, got {value!r}")
    duration = Fraction(value)
    if duration < 0:
        raise FluidPathValueError(f"{name} must be >= 0, got {value}")
    return duration


class RiskState(StrEnum):
    """What the level means for the patient, relative to the reference."""

    NORMAL = "normal"
    WITHDRAWAL_RISK = "withdrawal_risk"
    """Below the withdrawal threshold for longer than the configured delay."""
    OVERDOSE_RISK = "overdose_risk"
    """Above the overdose threshold."""


class _Band(Enum):
    LOW = "low"
    MID = "mid"
    HIGH = "high"


@dataclass(frozen=True, kw_only=True)
class PatientParams:
    """Configuration of the patient model, validated on construction."""

    half_life_s: int = DEFAULT_HALF_LIFE_S
    """CSF elimination half-life, 3,600 to 18,000 s (1 to 5 h)."""
    csf_volume_ml: int = 150
    """Volume the drug mixes into; only scales the level."""
    withdrawal_threshold_permille: int = 400
    """Level below this fraction of the reference counts towards withdrawal."""
    overdose_threshold_permille: int = 2_000
    """Level above this fraction of the reference is an overdose risk."""
    withdrawal_delay_s: int = 6 * _SECONDS_PER_HOUR
    """How long the level must stay low before withdrawal is flagged."""

    def __post_init__(self) -> None:
        _check_int("half_life_s", self.half_life_s, low=MIN_HALF_LIFE_S, high=MAX_HALF_LIFE_S)
        _check_int("csf_volume_ml", self.csf_volume_ml, low=1)
        _check_int(
            "withdrawal_threshold_permille",
            self.withdrawal_threshold_permille,
            low=1,
            high=_PERMILLE - 1,
        )
        _check_int(
            "overdose_threshold_permille", self.overdose_threshold_permille, low=_PERMILLE + 1
        )
        _check_int("withdrawal_delay_s", self.withdrawal_delay_s, low=0)

    @property
    def k_per_s(self) -> float:
        """First-order elimination constant, ln 2 / half-life."""
        return math.log(2) / self.half_life_s


def steady_state_amount_ug(dose_ug_per_day: float | Fraction, half_life_s: int) -> float:
    """Amount in the CSF at steady state for a constant dose: ``R / k``."""
    rate_ug_per_s = _check_real("dose_ug_per_day", dose_ug_per_day, positive=False) / (
        _SECONDS_PER_DAY
    )
    _check_int("half_life_s", half_life_s, low=MIN_HALF_LIFE_S, high=MAX_HALF_LIFE_S)
    return rate_ug_per_s * half_life_s / math.log(2)


@dataclass(frozen=True, kw_only=True)
class Assessment:
    """The patient's state at ``at_s``."""

    at_s: Fraction
    """Model time of the assessment."""
    level_ng_per_ml: float
    reference_ng_per_ml: float
    """Steady-state level of the reference dose."""
    state: RiskState
    since_s: float
    """Model time the present state began (for WITHDRAWAL_RISK: when the level
    fell below the threshold plus the withdrawal delay)."""

    def __post_init__(self) -> None:
        if not isinstance(self.state, RiskState):
            raise FluidPathValueError(f"state must be a RiskState, got {self.state!r}")


class PatientModel:
    """Baclofen in the CSF of one patient, driven by the catheter tip's output."""

    def __init__(
        self,
        *,
        reference_dose_ug_per_day: float | Fraction,
        params: PatientParams | None = None,
        start_s: int = 0,
        initial_amount_ug: float | Fraction | None = None,
    ) -> None:
        """A patient established on ``reference_dose_ug_per_day``.

        By default the patient starts at the steady state of that dose (an
        established patient); pass ``initial_amount_ug`` (0 for a new implant)
        to start elsewhere.
        """
        self._params = PatientParams() if params is None else params
        if not isinstance(self._params, PatientParams):
            raise FluidPathValueError(f"params must be a PatientParams, got {params!r}")
        self._k_per_s = self._params.k_per_s
        self._reference_dose_ug_per_day = _check_real(
            "reference_dose_ug_per_day", reference_dose_ug_per_day, positive=True
        )
        self._t_s = Fraction(_check_int("start_s", start_s, low=0))
        self._amount_ug = (
            self.reference_amount_ug
            if initial_amount_ug is None
            else _check_real("initial_amount_ug", initial_amount_ug, positive=False)
        )
        self._band = self._band_of_amount()
        self._band_since_s = float(start_s)
        self._normal_since_s = float(start_s)

    # -- driving ---------------------------------------------------------------

    def infuse(self, duration_s: int | Fraction, drug_ug: float | Fraction) -> None:
        """Advance by ``duration_s`` while ``drug_ug`` enters at a constant rate.

        ``infuse(d, 0)`` lets time pass with no input. A zero duration with drug
        is an instantaneous dose.
        """
        duration = _check_duration("duration_s", duration_s)
        amount_ug = _check_real("drug_ug", drug_ug, positive=False)
        start_s = float(self._t_s)
        if duration == 0:
            self._amount_ug += amount_ug
            self._reband(start_s)
            return
        total_s = float(duration)
        asymptote_ug = amount_ug / total_s / self._k_per_s
        elapsed_s = 0.0
        # Inside a piece the amount moves monotonically towards the asymptote,
        # so it crosses each threshold at most once: at most two band changes.
        while True:
            crossing = self._next_crossing(asymptote_ug)
            if crossing is None or elapsed_s + crossing[0] >= total_s:
                break
            offset_s, band = crossing
            self._evolve(offset_s, asymptote_ug)
            elapsed_s += offset_s
            self._enter_band(band, start_s + elapsed_s)
        self._evolve(total_s - elapsed_s, asymptote_ug)
        self._t_s += duration

    def feed(self, pieces: Iterable[TipPiece]) -> None:
        """Infuse the fluid path's tip output, piece after piece."""
        for piece in pieces:
            if not isinstance(piece, TipPiece):
                raise FluidPathValueError(f"pieces must be TipPiece, got {piece!r}")
            self.infuse(piece.duration_s, piece.drug_ug)

    def set_reference_dose(self, dose_ug_per_day: float | Fraction) -> None:
        """The dose the patient is established on from now (the prescription's 24 h dose)."""
        self._reference_dose_ug_per_day = _check_real(
            "dose_ug_per_day", dose_ug_per_day, positive=True
        )
        self._reband(float(self._t_s))

    # -- reading ---------------------------------------------------------------

    def assess(self) -> Assessment:
        """The level, the reference and the risk state now."""
        now_s = float(self._t_s)
        state, since_s = self._state_at(now_s)
        return Assessment(
            at_s=self._t_s,
            level_ng_per_ml=self.level_ng_per_ml,
            reference_ng_per_ml=self.reference_level_ng_per_ml,
            state=state,
            since_s=since_s,
        )

    @property
    def params(self) -> PatientParams:
        """The model's configuration."""
        return self._params

    @property
    def t_s(self) -> Fraction:
        """Model time reached, exact."""
        return self._t_s

    @property
    def amount_ug(self) -> float:
        """Drug in the CSF compartment."""
        return self._amount_ug

    @property
    def level_ng_per_ml(self) -> float:
        """Amount over CSF volume (a teaching number)."""
        return self._amount_ug * _NG_PER_UG / self._params.csf_volume_ml

    @property
    def reference_dose_ug_per_day(self) -> float:
        """The dose the indicators are relative to."""
        return self._reference_dose_ug_per_day

    @property
    def reference_amount_ug(self) -> float:
        """Steady-state amount of the reference dose, ``R / k``."""
        return self._reference_dose_ug_per_day / _SECONDS_PER_DAY / self._k_per_s

    @property
    def reference_level_ng_per_ml(self) -> float:
        """Steady-state level of the reference dose."""
        return self.reference_amount_ug * _NG_PER_UG / self._params.csf_volume_ml

    # -- internals -------------------------------------------------------------

    def _thresholds_ug(self) -> tuple[float, float]:
        reference = self.reference_amount_ug
        return (
            reference * self._params.withdrawal_threshold_permille / _PERMILLE,
            reference * self._params.overdose_threshold_permille / _PERMILLE,
        )

    def _band_of_amount(self) -> _Band:
        low_ug, high_ug = self._thresholds_ug()
        if self._amount_ug < low_ug:
            return _Band.LOW
        if self._amount_ug > high_ug:
            return _Band.HIGH
        return _Band.MID

    def _evolve(self, dt_s: float, asymptote_ug: float) -> None:
        # A + (A_inf - A)(1 - e^(-k dt)), with expm1 for accuracy at small k dt.
        self._amount_ug += (asymptote_ug - self._amount_ug) * -math.expm1(-self._k_per_s * dt_s)

    def _time_to_reach(self, target_ug: float, asymptote_ug: float) -> float:
        gap_now = self._amount_ug - asymptote_ug
        gap_then = target_ug - asymptote_ug
        # Rounding can leave the amount a hair past a threshold just crossed.
        if gap_now * gap_then <= 0:
            return 0.0
        return max(0.0, math.log(gap_now / gap_then) / self._k_per_s)

    def _next_crossing(self, asymptote_ug: float) -> tuple[float, _Band] | None:
        low_ug, high_ug = self._thresholds_ug()
        band = self._band
        if band is _Band.LOW and asymptote_ug > low_ug:
            return self._time_to_reach(low_ug, asymptote_ug), _Band.MID
        if band is _Band.MID and asymptote_ug < low_ug:
            return self._time_to_reach(low_ug, asymptote_ug), _Band.LOW
        if band is _Band.MID and asymptote_ug > high_ug:
            return self._time_to_reach(high_ug, asymptote_ug), _Band.HIGH
        if band is _Band.HIGH and asymptote_ug < high_ug:
            return self._time_to_reach(high_ug, asymptote_ug), _Band.MID
        return None

    def _state_at(self, at_s: float) -> tuple[RiskState, float]:
        if self._band is _Band.HIGH:
            return RiskState.OVERDOSE_RISK, self._band_since_s
        if self._band is _Band.LOW and at_s - self._band_since_s > self._params.withdrawal_delay_s:
            return RiskState.WITHDRAWAL_RISK, self._band_since_s + self._params.withdrawal_delay_s
        return RiskState.NORMAL, self._normal_since_s

    def _enter_band(self, band: _Band, at_s: float) -> None:
        old_state, _ = self._state_at(at_s)
        self._band = band
        self._band_since_s = at_s
        if band is not _Band.HIGH and old_state is not RiskState.NORMAL:
            self._normal_since_s = at_s

    def _reband(self, at_s: float) -> None:
        band = self._band_of_amount()
        if band is not self._band:
            self._enter_band(band, at_s)
