"""An optional model of baclofen in the spinal fluid (CSF) and of the patient's response.

**A teaching aid, not a clinical model.** It shows the shape of the time
course educators talk about (a bolus acts within the hour and peaks at about
4 h; a rate change starts to show after 4-8 h and is complete after a day or
two; a stop leads to withdrawal within hours); the numbers it prints are not
concentrations anyone measured, and its tone score is no clinical scale.

**The level.** The drug that leaves the catheter tip enters one well-mixed
compartment of ``csf_volume_ml`` and is eliminated first-order with a
configurable half-life (default 1.5 h, range 1-5 h), ``k = ln 2 / half-life``.

**The response** lags the level. It is a link model (Sheiner et al., 1979:
an effect compartment that holds a negligible amount of drug and follows the
level with its own rate ``ke0``), preceded by one transit compartment (Savic
et al., 2007: a chain of first-order delays, here of length one, ``ktr``)::

    dA/dt = R - k A                 A: drug in the CSF (mcg); R: input, mcg/s
    dT/dt = ktr (A - T)             T: transit, in mcg-equivalents of A
    dE/dt = ke0 (T - E)             E: effect site, in mcg-equivalents of A

At steady state ``E = T = A``; the response is ``E`` (shown as its level,
``E / csf_volume_ml``, "the level the patient's tone now reflects"). One
effect compartment alone cannot give both the domain's bolus onset (>= 30
min) and the slow full effect of a rate change (>= 20 h) with a peak near
4 h: the transit step delays the onset without slowing the rest. The default
half-lives (transit 18 min, effect 6.3 h) were chosen so that, by the domain's
definitions (onset: the response first reaches 25 % of its final change, or
of its peak for a bolus; full effect: 90 %), at the default CSF half-life a
rate change gives onset 5.1 h and full effect 23.9 h (so a daily titration
step finds the previous one at its full effect), and a bolus onset 0.8 h and
peak 4.6 h (read off simulated curves in the tests).

The system is linear with piecewise-constant input (the fluid path's
:class:`TipPiece` stretches, or any ``(duration, amount)`` the caller gives),
so every piece is solved exactly with the matrix exponential of the chain
(three distinct rates: the parameter ranges cannot overlap), however long: the
emulator feeds it one piece per stretch of the pump at a constant rate. Amounts are
floats in micrograms; levels are ``amount / csf_volume_ml`` in ng/mL. Time is
model seconds, kept exact (``Fraction``) across pieces.

Indicators, on the **response** (so they lag as they do in patients). The
*reference* is the steady state of the dose the patient is established on
(``R_ss / k``), set from the prescription by the caller and deliberately not
changed when delivery stops (that is how a stop shows up as withdrawal).
With the default thresholds:

- ``OVERDOSE_RISK`` while the response is above 200 % of the reference;
- ``WITHDRAWAL_RISK`` once the response has stayed below 40 % of the
  reference for longer than 2 h (about 13.5 h after a complete stop);
- ``NORMAL`` otherwise.

A crossing inside a piece is found on the closed form (scanned, then
bisected), so a state's ``since_s`` does not depend on how finely the caller
slices time.

The **tone** (Ashworth-like, 0 = no tone to 4 = rigid; a teaching aid) is an
inhibitory Emax model of the response (Holford & Sheiner, 1981):
``tone = untreated * EC50 / (EC50 + E)``, with ``EC50`` set so that the steady
state of the dose the model was created with gives the ``established`` tone;
more drug lowers it further (low tone is an overdose sign), none gives the
untreated tone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import field
from enum import Enum, StrEnum
from fractions import Fraction

from emulator.fluid_path import FluidPathValueError, TipPiece
from protocol.frozen import frozen

__all__ = [
    "DEFAULT_EFFECT_HALF_LIFE_S",
    "DEFAULT_HALF_LIFE_S",
    "DEFAULT_TRANSIT_HALF_LIFE_S",
    "FULL_EFFECT_FRACTION",
    "MAX_HALF_LIFE_S",
    "MIN_HALF_LIFE_S",
    "ONSET_FRACTION",
    "Assessment",
    "PatientModel",
    "PatientParams",
    "ResponseMilestones",
    "RiskState",
    "steady_state_amount_ug",
]

_SECONDS_PER_HOUR = 3_600
_SECONDS_PER_DAY = 86_400
_NG_PER_UG = 1_000
_PERMILLE = 1_000
_TENTHS = 10

MIN_HALF_LIFE_S = 1 * _SECONDS_PER_HOUR
MAX_HALF_LIFE_S = 5 * _SECONDS_PER_HOUR
DEFAULT_HALF_LIFE_S = 5_400
"""CSF elimination half-life of baclofen: 1 to 5 h, 1.5 h by default (the label's mean)."""

MIN_TRANSIT_HALF_LIFE_S = 60
MAX_TRANSIT_HALF_LIFE_S = 30 * 60
DEFAULT_TRANSIT_HALF_LIFE_S = 18 * 60
"""Transit step before the effect site: 1 to 30 min (always faster than the CSF)."""

MIN_EFFECT_HALF_LIFE_S = 6 * _SECONDS_PER_HOUR
MAX_EFFECT_HALF_LIFE_S = 24 * _SECONDS_PER_HOUR
DEFAULT_EFFECT_HALF_LIFE_S = 22_680
"""Effect-site equilibration half-life ``ln 2 / ke0``: 6 to 24 h (always slower than the
CSF), 6.3 h by default."""

ONSET_FRACTION = 0.25
"""Onset: the response first reaches 25 % of its final change (of its peak, for a bolus)."""
FULL_EFFECT_FRACTION = 0.9
"""Full effect: the response first reaches 90 % of its final change."""

_SCAN_S = 600.0
"""Inside a piece a threshold crossing is looked for on this grid, then bisected; the
response is far too smooth to cross and come back within 10 min."""
_FLIP_BACK_S = 1e-6
"""A crossing back over the threshold just crossed within this many seconds is rounding at
the threshold, not the response (whose fastest rate is minutes): see ``infuse``."""
_NUDGE = 1e-9
"""How far (relative) the response is put inside its band after such a rounding: far
beyond the closed form's rounding (about 1e-14), far below anything shown (the level is
given to 1e-6)."""
_HORIZON_S = 14 * _SECONDS_PER_DAY
"""How far ahead :meth:`PatientModel.response_milestones` looks."""


def _check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    if type(value) is not int:
        raise FluidPathValueError(f"{name} must be an int, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"within {low}..{high}"
        raise FluidPathValueError(f"{name} must be {bound}, got {value}")
    return value


def _check_real(name: str, value: object, *, positive: bool) -> float:
    if type(value) is float and 0.0 < value < math.inf:
        return value  # the usual amount: nothing to convert or refuse
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
    """What the response means for the patient, relative to the reference."""

    NORMAL = "normal"
    WITHDRAWAL_RISK = "withdrawal_risk"
    """Below the withdrawal threshold for longer than the configured delay."""
    OVERDOSE_RISK = "overdose_risk"
    """Above the overdose threshold."""


class _Band(Enum):
    LOW = "low"
    MID = "mid"
    HIGH = "high"


@frozen
class PatientParams:
    """Configuration of the patient model, validated on construction."""

    half_life_s: int = DEFAULT_HALF_LIFE_S
    """CSF elimination half-life, 3,600 to 18,000 s (1 to 5 h)."""
    transit_half_life_s: int = DEFAULT_TRANSIT_HALF_LIFE_S
    """Half-life of the transit step before the effect site, 60 to 1,800 s."""
    effect_half_life_s: int = DEFAULT_EFFECT_HALF_LIFE_S
    """Effect-site equilibration half-life, 21,600 to 86,400 s (6 to 24 h)."""
    csf_volume_ml: int = 150
    """Volume the drug mixes into; only scales the level."""
    withdrawal_threshold_permille: int = 400
    """Response below this fraction of the reference counts towards withdrawal."""
    overdose_threshold_permille: int = 2_000
    """Response above this fraction of the reference is an overdose risk."""
    withdrawal_delay_s: int = 2 * _SECONDS_PER_HOUR
    """How long the response must stay low before withdrawal is flagged."""
    untreated_tone_tenths: int = 40
    """Tone with no drug (Ashworth-like, tenths: 40 = 4, rigid)."""
    established_tone_tenths: int = 15
    """Tone at the steady state of the dose the model was created with (15 = 1.5); sets
    the EC50 of the tone's Emax model."""

    def __post_init__(self) -> None:
        _check_int("half_life_s", self.half_life_s, low=MIN_HALF_LIFE_S, high=MAX_HALF_LIFE_S)
        _check_int(
            "transit_half_life_s",
            self.transit_half_life_s,
            low=MIN_TRANSIT_HALF_LIFE_S,
            high=MAX_TRANSIT_HALF_LIFE_S,
        )
        _check_int(
            "effect_half_life_s",
            self.effect_half_life_s,
            low=MIN_EFFECT_HALF_LIFE_S,
            high=MAX_EFFECT_HALF_LIFE_S,
        )
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
        _check_int("untreated_tone_tenths", self.untreated_tone_tenths, low=1, high=40)
        _check_int(
            "established_tone_tenths",
            self.established_tone_tenths,
            low=0,
            high=self.untreated_tone_tenths - 1,
        )

    @property
    def k_per_s(self) -> float:
        """First-order elimination constant, ln 2 / half-life."""
        return math.log(2) / self.half_life_s

    @property
    def ktr_per_s(self) -> float:
        """Transit rate constant, ln 2 / transit half-life."""
        return math.log(2) / self.transit_half_life_s

    @property
    def ke0_per_s(self) -> float:
        """Effect-site rate constant, ln 2 / effect half-life."""
        return math.log(2) / self.effect_half_life_s


def steady_state_amount_ug(dose_ug_per_day: float | Fraction, half_life_s: int) -> float:
    """Amount in the CSF at steady state for a constant dose: ``R / k``."""
    rate_ug_per_s = _check_real("dose_ug_per_day", dose_ug_per_day, positive=False) / (
        _SECONDS_PER_DAY
    )
    _check_int("half_life_s", half_life_s, low=MIN_HALF_LIFE_S, high=MAX_HALF_LIFE_S)
    return rate_ug_per_s * half_life_s / math.log(2)


@frozen
class Assessment:
    """The patient's state at ``at_s``."""

    at_s: Fraction
    """Model time of the assessment."""
    level_ng_per_ml: float
    response_ng_per_ml: float
    """The effect-site level: what the patient's tone reflects now (lags the level)."""
    reference_ng_per_ml: float
    """Steady-state level of the reference dose."""
    tone: float
    """Ashworth-like tone, 0 to 4 (a teaching aid)."""
    state: RiskState
    since_s: float
    """Model time the present state began (for WITHDRAWAL_RISK: when the response
    fell below the threshold plus the withdrawal delay)."""

    def __post_init__(self) -> None:
        if not isinstance(self.state, RiskState):
            raise FluidPathValueError(f"state must be a RiskState, got {self.state!r}")


@frozen
class ResponseMilestones:
    """When the response to a constant dose, started now, reaches its onset and full effect
    (seconds from now; None: not within two weeks, or no change to reach)."""

    start_response_ug: float
    final_response_ug: float
    onset_after_s: float | None
    full_effect_after_s: float | None


_EXPS_KEPT = 64
"""How many stretch durations' exponentials a :class:`_Chain` keeps (a fleet's stretches
mostly last the same few durations: a second at real speed, an advance's step)."""


@frozen(kw_only=False)
class _Chain:
    """What the closed form of one set of rates multiplies and divides by, computed once
    per :class:`PatientParams` and shared by every patient with them."""

    ck_da: float
    """The response's coefficients per unit deviation (see ``_course``), for the cheap
    bound that lets most pieces skip the threshold search."""
    ctr_dt: float
    ctr_da: float
    ce0_da: float
    ktr_k: float
    """The differences and products ``_evolve`` divides by."""
    ktr_ke0: float
    den_k: float
    den_tr: float
    den_e0: float
    k: float
    ktr: float
    ke0: float
    """The rates per s (as :class:`PatientParams` gives them)."""
    kept: dict[int, tuple[float, float, float, float, float, float]] = field(
        default_factory=dict, compare=False
    )
    """What :meth:`exps_over` computed for whole-second durations (the emulator's stretches),
    so a duration met again costs no exponential: the same floats, looked up."""

    def exps_over(self, dt_s: float) -> tuple[float, float, float, float, float, float]:
        """The exponentials the chain's closed form needs over ``dt_s``: ``e^(-k t)``,
        ``e^(-ktr t)``, ``e^(-ke0 t)``, the two ``(e^(-a t) - e^(-b t)) / (b - a)`` of
        neighbouring rates, and the effect site's sum of the three over their products."""
        k, ktr, ke0 = self.k, self.ktr, self.ke0
        ktr_k, ktr_ke0 = self.ktr_k, self.ktr_ke0
        exp = math.exp
        ek, etr, ee = exp(-k * dt_s), exp(-ktr * dt_s), exp(-ke0 * dt_s)
        # (e^(-a t) - e^(-b t)) / (b - a), with expm1 for accuracy at small t.
        phi_k_tr = ek * -math.expm1(-ktr_k * dt_s) / ktr_k
        phi_tr_e0 = ee * -math.expm1(-ktr_ke0 * dt_s) / ktr_ke0
        psi = ek / self.den_k + etr / self.den_tr + ee / self.den_e0
        return ek, etr, ee, phi_k_tr, phi_tr_e0, psi

    def exps_over_whole(self, duration_s: int) -> tuple[float, float, float, float, float, float]:
        """:meth:`exps_over` whole seconds, each duration computed once (up to
        :data:`_EXPS_KEPT` durations are kept; then they are forgotten and kept afresh)."""
        kept = self.kept
        found = kept.get(duration_s)
        if found is None:
            found = self.exps_over(float(duration_s))
            if len(kept) >= _EXPS_KEPT:
                kept.clear()
            kept[duration_s] = found
        return found


@functools.lru_cache(maxsize=64)
def _chain_of(params: PatientParams) -> _Chain:
    k, ktr, ke0 = params.k_per_s, params.ktr_per_s, params.ke0_per_s
    return _Chain(
        k=k,
        ktr=ktr,
        ke0=ke0,
        ck_da=ke0 * ktr / ((ktr - k) * (ke0 - k)),
        ctr_dt=ke0 / (ke0 - ktr),
        ctr_da=ke0 * ktr / ((k - ktr) * (ke0 - ktr)),
        ce0_da=ke0 * ktr / ((k - ke0) * (ktr - ke0)),
        ktr_k=ktr - k,
        ktr_ke0=ktr - ke0,
        den_k=(ktr - k) * (ke0 - k),
        den_tr=(k - ktr) * (ke0 - ktr),
        den_e0=(k - ke0) * (ktr - ke0),
    )


@frozen(kw_only=False)
class _Course:
    """The closed form of one piece: ``E(t) = e_inf + sum(c_i exp(-r_i t))``."""

    e_inf: float
    terms: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    """(coefficient, rate per s) of each of the chain's three rates."""

    def at(self, t: float) -> float:
        (c0, r0), (c1, r1), (c2, r2) = self.terms
        exp = math.exp
        return self.e_inf + (c0 * exp(-r0 * t) + c1 * exp(-r1 * t) + c2 * exp(-r2 * t))

    @property
    def bound(self) -> float:
        """Largest possible distance from ``e_inf`` within the piece."""
        return sum(abs(c) for c, _ in self.terms)

    def first_crossing(self, target: float, *, rising: bool, within_s: float) -> float | None:
        """The first time in ``[0, within_s]`` the response reaches ``target`` (rising) or
        goes below it (falling); None if it does not."""

        (c0, r0), (c1, r1), (c2, r2) = self.terms
        e_inf = self.e_inf
        exp = math.exp

        def beyond(t: float) -> bool:
            # Complementary to the bands: LOW is < low, HIGH is > high. The value is
            # self.at(t), the same expression inline (no method call per evaluation).
            value = e_inf + (c0 * exp(-r0 * t) + c1 * exp(-r1 * t) + c2 * exp(-r2 * t))
            return value >= target if rising else value < target

        if beyond(0.0):
            return 0.0
        gap = abs(e_inf - target)
        if gap > self.bound:
            return None  # can never get there inside this piece
        # The three terms on the scan's grid, each step one product per term (the grid
        # point is then checked on the closed form itself before it is taken).
        p0, p1, p2 = c0, c1, c2
        f0, f1, f2 = exp(-r0 * _SCAN_S), exp(-r1 * _SCAN_S), exp(-r2 * _SCAN_S)
        previous = 0.0
        while previous < within_s:
            if abs(p0) + abs(p1) + abs(p2) < gap:
                return None  # what is left of the transient can no longer reach it
            t = previous + _SCAN_S
            if t < within_s:
                p0, p1, p2 = p0 * f0, p1 * f1, p2 * f2
                value = e_inf + (p0 + p1 + p2)
                hit = (value >= target if rising else value < target) and beyond(t)
            else:
                t = within_s
                hit = beyond(t)
            if hit:
                low, high = previous, t
                for _ in range(60):
                    middle = (low + high) / 2
                    if not low < middle < high:
                        break  # adjacent floats: the rest of the 60 would change nothing
                    if beyond(middle):
                        high = middle
                    else:
                        low = middle
                return high
            previous = t
        return None


class PatientModel:
    """Baclofen in the CSF of one patient and their response, driven by the catheter tip."""

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
        established patient, level and response alike); pass
        ``initial_amount_ug`` (0 for a new implant) to start at the steady state
        of another amount. The tone scale is anchored on this first reference.
        """
        self._params = PatientParams() if params is None else params
        if not isinstance(self._params, PatientParams):
            raise FluidPathValueError(f"params must be a PatientParams, got {params!r}")
        self._k_per_s = self._params.k_per_s
        self._ktr_per_s = self._params.ktr_per_s
        self._ke0_per_s = self._params.ke0_per_s
        self._chain = _chain_of(self._params)
        self._reference_dose_ug_per_day = _check_real(
            "reference_dose_ug_per_day", reference_dose_ug_per_day, positive=True
        )
        self._thresholds = self._thresholds_of_reference()
        self._t_s: int | Fraction = _check_int("start_s", start_s, low=0)
        """Model time reached: an int while every duration was whole seconds."""
        self._tone_anchor_ug = self.reference_amount_ug
        self._amount_ug = (
            self.reference_amount_ug
            if initial_amount_ug is None
            else _check_real("initial_amount_ug", initial_amount_ug, positive=False)
        )
        self._transit_ug = self._amount_ug
        self._effect_ug = self._amount_ug
        self._band = self._band_of_effect()
        self._band_since_s = float(start_s)
        self._normal_since_s = float(start_s)

    # -- driving ---------------------------------------------------------------

    def infuse(self, duration_s: int | Fraction, drug_ug: float | Fraction) -> None:
        """Advance by ``duration_s`` while ``drug_ug`` enters at a constant rate.

        ``infuse(d, 0)`` lets time pass with no input. A zero duration with drug
        is an instantaneous dose (it enters the CSF; the response follows later).
        """
        if (
            type(duration_s) is int
            and duration_s > 0
            and type(drug_ug) is float
            and 0.0 <= drug_ug < math.inf
            and self._infuse_steady(duration_s, drug_ug)
        ):
            return
        self._infuse_general(duration_s, drug_ug)

    def _infuse_general(self, duration_s: int | Fraction, drug_ug: float | Fraction) -> None:
        """:meth:`infuse` past its shortcut: checks its arguments, then finds every
        threshold crossing inside the piece (the emulator's world calls it directly for a
        stretch :meth:`_infuse_steady` refused)."""
        duration: int | Fraction
        if type(duration_s) is int and duration_s >= 0:
            duration = duration_s  # whole seconds (the emulator's stretches): no Fraction
        else:
            duration = _check_duration("duration_s", duration_s)
        amount_ug = _check_real("drug_ug", drug_ug, positive=False)
        if duration == 0:
            self._amount_ug += amount_ug
            return
        start_s = float(self._t_s)
        total_s = float(duration)
        asymptote_ug = amount_ug / total_s / self._k_per_s
        elapsed_s = 0.0
        left: _Band | None = None  # the band the last crossing in this piece left
        # Each crossing moves the response into another band; at most a few per piece.
        while True:
            crossing = self._next_crossing(asymptote_ug, total_s - elapsed_s)
            if crossing is None:
                break
            offset_s, band, target_ug = crossing
            self._evolve(offset_s, asymptote_ug)
            elapsed_s += offset_s
            if band is left and offset_s <= _FLIP_BACK_S:
                # Back over the threshold just crossed, at once: rounding (the closed form
                # read at the threshold lands a few ulps on its other side), not a change.
                # The response is put a hair inside the band it is in and stays there;
                # without this the two crossings would follow each other for ever.
                if self._band is _Band.HIGH or (
                    self._band is _Band.MID and target_ug == self._thresholds[0]
                ):
                    self._effect_ug = max(self._effect_ug, target_ug * (1 + _NUDGE))
                else:
                    self._effect_ug = min(self._effect_ug, target_ug * (1 - _NUDGE))
                left = None
                continue
            left = self._band
            # Put the response on the threshold's new side, whatever the rounding did.
            if band is _Band.LOW:
                self._effect_ug = min(self._effect_ug, math.nextafter(target_ug, -math.inf))
            elif band is _Band.HIGH:
                self._effect_ug = max(self._effect_ug, math.nextafter(target_ug, math.inf))
            elif target_ug == self._thresholds_ug()[0]:
                self._effect_ug = max(self._effect_ug, target_ug)
            else:
                self._effect_ug = min(self._effect_ug, target_ug)
            self._enter_band(band, start_s + elapsed_s)
        self._evolve(total_s - elapsed_s, asymptote_ug)
        t_s = self._t_s + duration
        if type(t_s) is Fraction and t_s.denominator == 1:
            t_s = t_s.numerator
        self._t_s = t_s

    def _infuse_steady(self, duration_s: int, drug_ug: float) -> bool:
        """:meth:`infuse` of whole seconds > 0 and a float amount >= 0 (the emulator's
        stretches) when the response cannot cross a threshold inside the piece (most
        pieces: a steady patient): the same closed form and the same floats as the general
        path, with the exponentials of a duration met before looked up, not computed.
        Returns False, changing nothing, when a crossing is possible (the general path then
        finds it). ``tests/emulator/test_patient.py`` proves it equal to the general path."""
        chain = self._chain
        total_s = float(duration_s)
        asymptote_ug = drug_ug / total_s / self._k_per_s
        amount_ug, transit_ug = self._amount_ug, self._transit_ug
        da = amount_ug - asymptote_ug
        dtr = transit_ug - asymptote_ug
        de = self._effect_ug - asymptote_ug
        # _next_crossing's bound, to the same float: can the response reach a threshold?
        ctr_dt = chain.ctr_dt
        bound = (
            abs(chain.ck_da * da)
            + abs(ctr_dt * dtr + chain.ctr_da * da)
            + abs(de - ctr_dt * dtr + chain.ce0_da * da)
        ) * (1 + 1e-9)
        low_ug, high_ug = self._thresholds
        band = self._band
        if band is _Band.MID:
            if not (asymptote_ug - low_ug > bound and high_ug - asymptote_ug > bound):
                return False
        elif band is _Band.LOW:
            if not low_ug - asymptote_ug > bound:
                return False
        elif not asymptote_ug - high_ug > bound:
            return False
        # _evolve over the whole piece.
        ktr, ke0 = self._ktr_per_s, self._ke0_per_s
        # chain.exps_over_whole(duration_s), its lookup written out.
        exps = chain.kept.get(duration_s)
        if exps is None:
            exps = chain.exps_over_whole(duration_s)
        ek, etr, ee, phi_k_tr, phi_tr_e0, psi = exps
        # Rounding must never leave an amount a hair below zero (max(0.0, x), inline).
        amount_ug = asymptote_ug + da * ek
        transit_ug = asymptote_ug + dtr * etr + ktr * da * phi_k_tr
        effect_ug = asymptote_ug + de * ee + ke0 * dtr * phi_tr_e0 + ktr * ke0 * da * psi
        self._amount_ug = amount_ug if amount_ug > 0.0 else 0.0
        self._transit_ug = transit_ug if transit_ug > 0.0 else 0.0
        self._effect_ug = effect_ug if effect_ug > 0.0 else 0.0
        t_s = self._t_s + duration_s
        if type(t_s) is Fraction and t_s.denominator == 1:
            t_s = t_s.numerator
        self._t_s = t_s
        return True

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
        self._thresholds = self._thresholds_of_reference()
        band = self._band_of_effect()
        if band is not self._band:
            self._enter_band(band, float(self._t_s))

    # -- reading ---------------------------------------------------------------

    def assess(self) -> Assessment:
        """The level, the response, the reference, the tone and the risk state now."""
        now_s = float(self._t_s)
        state, since_s = self._state_at(now_s)
        return Assessment(
            at_s=Fraction(self._t_s),
            level_ng_per_ml=self.level_ng_per_ml,
            response_ng_per_ml=self.response_ng_per_ml,
            reference_ng_per_ml=self.reference_level_ng_per_ml,
            tone=self.tone,
            state=state,
            since_s=since_s,
        )

    def response_milestones(self, dose_ug_per_day: float | Fraction) -> ResponseMilestones:
        """When the response reaches onset (25 % of its final change) and full effect (90 %)
        if ``dose_ug_per_day`` is delivered from now on, without changing the model.

        The final change is from the response now to the steady state of the dose; a
        response still moving from an earlier change can take longer (or, moving the other
        way first, much longer) than from a steady state: that is why titration waits.
        """
        rate_ug_per_s = _check_real("dose_ug_per_day", dose_ug_per_day, positive=False) / (
            _SECONDS_PER_DAY
        )
        asymptote_ug = rate_ug_per_s / self._k_per_s
        start = self._effect_ug
        change = asymptote_ug - start
        times: list[float | None] = [None, None]
        if abs(change) > 1e-9 * max(asymptote_ug, start, 1e-12):
            course = self._course(asymptote_ug)
            for i, fraction in enumerate((ONSET_FRACTION, FULL_EFFECT_FRACTION)):
                times[i] = course.first_crossing(
                    start + fraction * change, rising=change > 0, within_s=_HORIZON_S
                )
        return ResponseMilestones(
            start_response_ug=start,
            final_response_ug=asymptote_ug,
            onset_after_s=times[0],
            full_effect_after_s=times[1],
        )

    @property
    def params(self) -> PatientParams:
        """The model's configuration."""
        return self._params

    @property
    def t_s(self) -> Fraction:
        """Model time reached, exact."""
        return Fraction(self._t_s)

    @property
    def amount_ug(self) -> float:
        """Drug in the CSF compartment."""
        return self._amount_ug

    @property
    def effect_amount_ug(self) -> float:
        """The effect site, in mcg-equivalents of the CSF amount (the response)."""
        return self._effect_ug

    @property
    def level_ng_per_ml(self) -> float:
        """Amount over CSF volume (a teaching number)."""
        return self._amount_ug * _NG_PER_UG / self._params.csf_volume_ml

    @property
    def response_ng_per_ml(self) -> float:
        """The effect-site level: the CSF level the patient's tone now reflects."""
        return self._effect_ug * _NG_PER_UG / self._params.csf_volume_ml

    @property
    def tone(self) -> float:
        """Ashworth-like tone, from the untreated tone (4 = rigid) with no drug towards 0."""
        params = self._params
        untreated = params.untreated_tone_tenths / _TENTHS
        # EC50 such that the anchor (the first reference's steady state) gives "established".
        ec50_ug = (
            self._tone_anchor_ug
            * params.established_tone_tenths
            / (params.untreated_tone_tenths - params.established_tone_tenths)
        )
        if ec50_ug == 0:
            return 0.0 if self._effect_ug > 0 else untreated
        return untreated * ec50_ug / (ec50_ug + self._effect_ug)

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

    def _course(self, asymptote_ug: float) -> _Course:
        """The response over a piece with input ``asymptote_ug * k`` mcg/s, from now."""
        k, ktr, ke0 = self._k_per_s, self._ktr_per_s, self._ke0_per_s
        da = self._amount_ug - asymptote_ug
        dt = self._transit_ug - asymptote_ug
        de = self._effect_ug - asymptote_ug
        # e^(Mt) of the lower-bidiagonal chain applied to the deviations, collected by rate.
        c_k = ke0 * ktr * da / ((ktr - k) * (ke0 - k))
        c_tr = ke0 * dt / (ke0 - ktr) + ke0 * ktr * da / ((k - ktr) * (ke0 - ktr))
        c_e0 = de - ke0 * dt / (ke0 - ktr) + ke0 * ktr * da / ((k - ke0) * (ktr - ke0))
        return _Course(e_inf=asymptote_ug, terms=((c_k, k), (c_tr, ktr), (c_e0, ke0)))

    def _evolve(self, dt_s: float, asymptote_ug: float) -> None:
        ktr, ke0 = self._ktr_per_s, self._ke0_per_s
        da = self._amount_ug - asymptote_ug
        dtr = self._transit_ug - asymptote_ug
        de = self._effect_ug - asymptote_ug
        ek, etr, ee, phi_k_tr, phi_tr_e0, psi = self._chain.exps_over(dt_s)
        # Rounding must never leave an amount a hair below zero.
        self._amount_ug = max(0.0, asymptote_ug + da * ek)
        self._transit_ug = max(0.0, asymptote_ug + dtr * etr + ktr * da * phi_k_tr)
        self._effect_ug = max(
            0.0, asymptote_ug + de * ee + ke0 * dtr * phi_tr_e0 + ktr * ke0 * da * psi
        )

    def _thresholds_ug(self) -> tuple[float, float]:
        return self._thresholds

    def _thresholds_of_reference(self) -> tuple[float, float]:
        reference = self.reference_amount_ug
        return (
            reference * self._params.withdrawal_threshold_permille / _PERMILLE,
            reference * self._params.overdose_threshold_permille / _PERMILLE,
        )

    def _band_of_effect(self) -> _Band:
        low_ug, high_ug = self._thresholds_ug()
        if self._effect_ug < low_ug:
            return _Band.LOW
        if self._effect_ug > high_ug:
            return _Band.HIGH
        return _Band.MID

    def _next_crossing(
        self, asymptote_ug: float, within_s: float
    ) -> tuple[float, _Band, float] | None:
        """The first band change within ``within_s``: (time from now, new band, threshold)."""
        if within_s <= 0:
            return None
        low_ug, high_ug = self._thresholds
        # The response stays within e_inf +- bound over the piece (the sum of its terms'
        # coefficients, as in _course): most pieces (a steady patient) cannot reach a
        # threshold at all, and need no search.
        chain = self._chain
        da = self._amount_ug - asymptote_ug
        dt = self._transit_ug - asymptote_ug
        bound = (
            abs(chain.ck_da * da)
            + abs(chain.ctr_dt * dt + chain.ctr_da * da)
            + abs(self._effect_ug - asymptote_ug - chain.ctr_dt * dt + chain.ce0_da * da)
        ) * (1 + 1e-9)  # never below _course's own bound by a rounding
        band = self._band
        if band is _Band.MID:
            if asymptote_ug - low_ug > bound and high_ug - asymptote_ug > bound:
                return None
        elif band is _Band.LOW:
            if low_ug - asymptote_ug > bound:
                return None
        elif asymptote_ug - high_ug > bound:
            return None
        course = self._course(asymptote_ug)
        found: list[tuple[float, _Band, float]] = []
        if self._band is _Band.LOW:
            candidates = [(low_ug, True, _Band.MID)]
        elif self._band is _Band.HIGH:
            candidates = [(high_ug, False, _Band.MID)]
        else:
            candidates = [(low_ug, False, _Band.LOW), (high_ug, True, _Band.HIGH)]
        for target, rising, band in candidates:
            at = course.first_crossing(target, rising=rising, within_s=within_s)
            if at is not None:
                found.append((at, band, target))
        return min(found, key=lambda pair: pair[0], default=None)

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
