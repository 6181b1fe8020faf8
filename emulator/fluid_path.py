"""The fluid path between the reservoir and the spine: pump tubing plus catheter.

What leaves the reservoir does not reach the spinal fluid at once. The pump's
internal tubing and the catheter hold a *dead volume* of older fluid, pushed
out of the catheter tip first in, first out. After a refill at a new
concentration the patient keeps receiving the old concentration until the
whole dead volume has moved; the bridge (the pump running the new doses at
the OLD concentration until that volume has moved, never a push at the maximum
rate) gives the patient the prescribed mcg/day meanwhile, and the new drug
arrives as the rates switch to it. An unprimed catheter (after implant
or a catheter revision) is empty: the first dead volume of drug only fills it
and nothing reaches the patient, which is what a priming bolus is for.

Units and exactness:

- Volumes are integer nanolitres and concentrations integer mcg/mL, as in the
  firmware model. Drug amounts are integer **picograms**: 1 nL at 1 mcg/mL
  holds exactly 1 pg, so ``drug_pg = volume_nl * concentration_ug_per_ml`` is
  exact and conservation holds to the picogram. ``*_ug`` properties give the
  same amounts as exact :class:`~fractions.Fraction` micrograms.
- Time-resolved output (:meth:`FluidPath.push_over`) splits an interval of
  constant flow into pieces whose durations are exact ``Fraction`` seconds
  summing to the interval.

The path is pure: no I/O, no clock. The emulator drives it through
:class:`FluidTracker`, one push per stretch of the pump at a constant rate
(``Pump.advance_in_stretches``): the stretch's whole nanolitres at the
reservoir's concentration, spread evenly over the stretch.

The path is the TRUE catheter (emulator side), kept apart from the implant
record the pump stores (the clinician's record, from which the pump computes
its bridge): an educator can stage a mismatch. During a bridge the pump runs
the new doses at the old concentration, so the old drug leaving the tip gives
the patient the prescribed mcg/day; :class:`HourlyLedger` keeps what reached
the patient hour by hour (pump clock) so that can be checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

from emulator.errors import EmulatorUsageError
from firmware_model.profile import PumpProfile
from protocol.frozen import frozen

__all__ = [
    "PG_PER_UG",
    "FluidPath",
    "FluidPathValueError",
    "FluidTracker",
    "HourlyLedger",
    "Segment",
    "TipOutput",
    "TipPiece",
    "dead_volume_nl",
    "tip_pieces",
]

PG_PER_UG = 1_000_000
"""Picograms per microgram: drug amounts here are integer picograms (nL x mcg/mL)."""


class FluidPathValueError(EmulatorUsageError, ValueError):
    """A fluid-path or patient-model argument is of the wrong type or out of range.

    The caller did something wrong; the model is unchanged.
    """


def _check_int(name: str, value: object, *, minimum: int) -> int:
    # bool is an int subclass but never a volume or a concentration.
    if type(value) is not int:
        raise FluidPathValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise FluidPathValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def dead_volume_nl(profile: PumpProfile, catheter_length_cm: int) -> int:
    """Dead volume of a pump and its catheter trimmed to ``catheter_length_cm``.

    ``profile.internal_tubing_volume_nl + catheter_length_cm x
    profile.catheter_volume_nl_per_cm`` (200,000 nL + 2,600 nL/cm by default, so
    486,000 nL for a 110 cm catheter).
    """
    _check_int("catheter_length_cm", catheter_length_cm, minimum=0)
    return (
        profile.internal_tubing_volume_nl + catheter_length_cm * profile.catheter_volume_nl_per_cm
    )


@frozen
class Segment:
    """A plug of fluid at one concentration: ``volume_nl`` at ``concentration_ug_per_ml``."""

    volume_nl: int
    concentration_ug_per_ml: int

    def __post_init__(self) -> None:
        _check_int("volume_nl", self.volume_nl, minimum=1)
        _check_int("concentration_ug_per_ml", self.concentration_ug_per_ml, minimum=0)

    @property
    def drug_pg(self) -> int:
        """Drug in the segment, exact picograms."""
        return self.volume_nl * self.concentration_ug_per_ml

    @property
    def drug_ug(self) -> Fraction:
        """Drug in the segment, exact micrograms."""
        return Fraction(self.drug_pg, PG_PER_UG)


@frozen
class TipOutput:
    """What one push sent out of the catheter tip, oldest fluid first."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        if type(self.segments) is not tuple or not all(
            isinstance(s, Segment) for s in self.segments
        ):
            raise FluidPathValueError(f"segments must be a tuple of Segment, got {self.segments!r}")

    @property
    def volume_nl(self) -> int:
        """Fluid volume that left the tip (air displaced while filling is not counted)."""
        return sum(s.volume_nl for s in self.segments)

    @property
    def drug_pg(self) -> int:
        """Drug delivered to the patient, exact picograms."""
        return sum(s.drug_pg for s in self.segments)

    @property
    def drug_ug(self) -> Fraction:
        """Drug delivered to the patient, exact micrograms."""
        return Fraction(self.drug_pg, PG_PER_UG)


@frozen
class TipPiece:
    """A stretch of constant tip output: ``volume_nl`` and ``drug_pg`` over ``duration_s``.

    ``concentration_ug_per_ml`` is None while no fluid leaves the tip (no flow,
    or an unprimed catheter still filling); then volume and drug are zero.
    """

    duration_s: Fraction
    volume_nl: int
    concentration_ug_per_ml: int | None

    def __post_init__(self) -> None:
        if type(self.duration_s) is not Fraction or self.duration_s < 0:
            raise FluidPathValueError(
                f"duration_s must be a Fraction >= 0, got {self.duration_s!r}"
            )
        _check_int("volume_nl", self.volume_nl, minimum=0)
        if self.concentration_ug_per_ml is None:
            if self.volume_nl != 0:
                raise FluidPathValueError("a piece without concentration must have volume_nl 0")
        else:
            _check_int("concentration_ug_per_ml", self.concentration_ug_per_ml, minimum=0)

    @property
    def drug_pg(self) -> int:
        """Drug delivered during the piece, exact picograms."""
        if self.concentration_ug_per_ml is None:
            return 0
        return self.volume_nl * self.concentration_ug_per_ml

    @property
    def drug_ug(self) -> Fraction:
        """Drug delivered during the piece, exact micrograms."""
        return Fraction(self.drug_pg, PG_PER_UG)

    @property
    def rate_ug_per_s(self) -> Fraction:
        """Mean drug rate at the tip during the piece (0 for a zero-length piece)."""
        if self.duration_s == 0:
            return Fraction(0)
        return self.drug_ug / self.duration_s


def tip_pieces(
    fill_nl: int, out: list[tuple[int, int]], volume_nl: int, duration_s: int
) -> tuple[TipPiece, ...]:
    """The tip output of ``volume_nl`` pushed at a constant flow over ``duration_s`` > 0, from
    what :meth:`FluidPath.push_raw` returned: each plug out takes ``duration_s x its volume /
    volume_nl`` (the fluid is incompressible), the part spent filling air is a piece
    without output; the durations sum exactly to ``duration_s``."""
    if volume_nl == 0:
        return (
            TipPiece(duration_s=Fraction(duration_s), volume_nl=0, concentration_ug_per_ml=None),
        )
    pieces: list[TipPiece] = []
    if fill_nl > 0:
        pieces.append(
            TipPiece(
                duration_s=Fraction(duration_s * fill_nl, volume_nl),
                volume_nl=0,
                concentration_ug_per_ml=None,
            )
        )
    pieces.extend(
        TipPiece(
            duration_s=Fraction(duration_s * v, volume_nl),
            volume_nl=v,
            concentration_ug_per_ml=c,
        )
        for v, c in out
    )
    return tuple(pieces)


class FluidPath:
    """The tubing and catheter as an exact first-in first-out queue of segments.

    The path holds at most ``dead_volume_nl``. Pushing ``V`` nL in pushes exactly
    ``V`` nL out of the tip once the path is full; while an unprimed path is
    filling, what goes in stays in and nothing comes out. Adjacent segments of
    equal concentration are merged, so the queue holds one segment per
    concentration change still inside the path (a handful at most in practice,
    whatever the running time).

    Conservation, exact at every moment::

        initial_volume_nl + volume_in_nl == volume_out_nl + contents_volume_nl
        initial_drug_pg   + drug_in_pg   == drug_out_pg   + contents_drug_pg
    """

    def __init__(
        self,
        dead_volume_nl: int,
        initial_concentration_ug_per_ml: int,
        primed: bool = True,
    ) -> None:
        """A path of ``dead_volume_nl``, full of drug at the given concentration if ``primed``.

        An unprimed path starts empty (air); ``initial_concentration_ug_per_ml``
        is still validated but nothing at that concentration is in the path.
        """
        self._dead_volume_nl = _check_int("dead_volume_nl", dead_volume_nl, minimum=0)
        _check_int("initial_concentration_ug_per_ml", initial_concentration_ug_per_ml, minimum=0)
        if type(primed) is not bool:
            raise FluidPathValueError(f"primed must be a bool, got {primed!r}")
        # Tip at the left, inlet at the right; each entry is (volume_nl, concentration).
        # A list: one segment per drug in the path (a handful), and an empty deque holds a
        # 760-byte block per pump.
        self._queue: list[tuple[int, int]] = []
        self._filled_nl = 0
        if primed and dead_volume_nl > 0:
            self._queue.append((dead_volume_nl, initial_concentration_ug_per_ml))
            self._filled_nl = dead_volume_nl
        self._initial_volume_nl = self._filled_nl
        self._initial_drug_pg = self.contents_drug_pg
        self._volume_in_nl = 0
        self._drug_in_pg = 0
        self._volume_out_nl = 0
        self._drug_out_pg = 0

    @classmethod
    def for_catheter(
        cls,
        profile: PumpProfile,
        *,
        catheter_length_cm: int,
        initial_concentration_ug_per_ml: int,
        primed: bool = True,
    ) -> FluidPath:
        """The path of a pump of ``profile`` with a catheter trimmed to ``catheter_length_cm``."""
        return cls(
            dead_volume_nl(profile, catheter_length_cm),
            initial_concentration_ug_per_ml,
            primed=primed,
        )

    def _push(self, volume_nl: int, concentration_ug_per_ml: int) -> tuple[int, list[Segment]]:
        """Push fluid in; returns (nL that went into filling air, segments out of the tip)."""
        _check_int("volume_nl", volume_nl, minimum=0)
        _check_int("concentration_ug_per_ml", concentration_ug_per_ml, minimum=0)
        fill_nl, out = self.push_raw(volume_nl, concentration_ug_per_ml)
        return fill_nl, [Segment(volume_nl=v, concentration_ug_per_ml=c) for v, c in out]

    def push_raw(
        self, volume_nl: int, concentration_ug_per_ml: int
    ) -> tuple[int, list[tuple[int, int]]]:
        """:meth:`push` for callers that pass checked ints (the emulator's world, once per
        constant-rate stretch): returns (nL that went into filling air, the (volume_nl,
        concentration) plugs out of the tip, oldest first), with no objects built."""
        if volume_nl == 0:
            return 0, []
        filled = self._filled_nl
        dead = self._dead_volume_nl
        queue = self._queue
        drug_pg = volume_nl * concentration_ug_per_ml
        if filled == dead and len(queue) == 1 and queue[0][1] == concentration_ug_per_ml:
            # The usual push: a full path of the same drug moves on, unchanged.
            self._volume_in_nl += volume_nl
            self._drug_in_pg += drug_pg
            self._volume_out_nl += volume_nl
            self._drug_out_pg += drug_pg
            return 0, [(volume_nl, concentration_ug_per_ml)]
        fill_nl = min(volume_nl, dead - filled)
        if queue and queue[-1][1] == concentration_ug_per_ml:
            queue[-1] = (queue[-1][0] + volume_nl, concentration_ug_per_ml)
        else:
            queue.append((volume_nl, concentration_ug_per_ml))
        self._volume_in_nl += volume_nl
        self._drug_in_pg += drug_pg

        excess_nl = filled + volume_nl - dead
        out: list[tuple[int, int]] = []
        while excess_nl > 0:
            head_nl, head_conc = queue[0]
            take_nl = min(head_nl, excess_nl)
            if take_nl == head_nl:
                queue.pop(0)
            else:
                queue[0] = (head_nl - take_nl, head_conc)
            out.append((take_nl, head_conc))
            excess_nl -= take_nl
            self._volume_out_nl += take_nl
            self._drug_out_pg += take_nl * head_conc
        self._filled_nl = min(dead, filled + volume_nl)
        return fill_nl, out

    def push(self, volume_nl: int, concentration_ug_per_ml: int) -> TipOutput:
        """Push ``volume_nl`` at ``concentration_ug_per_ml`` in; return what left the tip."""
        _, out = self._push(volume_nl, concentration_ug_per_ml)
        return TipOutput(segments=tuple(out))

    def push_over(
        self, volume_nl: int, concentration_ug_per_ml: int, duration_s: int
    ) -> tuple[TipPiece, ...]:
        """Push ``volume_nl`` in at a constant flow over ``duration_s``; return the tip output.

        The fluid is incompressible, so the tip flows at the inlet's rate: each
        segment out takes ``duration_s x its volume / volume_nl``, and the part
        spent filling an unprimed path is a piece without output. The pieces'
        durations sum exactly to ``duration_s``. A flow that is not constant over
        the interval (a bolus ending inside it) must be pushed in several calls.
        """
        _check_int("volume_nl", volume_nl, minimum=0)
        _check_int("concentration_ug_per_ml", concentration_ug_per_ml, minimum=0)
        _check_int("duration_s", duration_s, minimum=0)
        if duration_s == 0:
            if volume_nl != 0:
                raise FluidPathValueError("a volume cannot be pushed over duration_s 0")
            return ()
        fill_nl, out = self.push_raw(volume_nl, concentration_ug_per_ml)
        return tip_pieces(fill_nl, out, volume_nl, duration_s)

    def contents(self) -> tuple[Segment, ...]:
        """The fluid in the path, tip first (next out) to inlet last."""
        return tuple(Segment(volume_nl=v, concentration_ug_per_ml=c) for v, c in self._queue)

    @property
    def dead_volume_nl(self) -> int:
        """Capacity of the path."""
        return self._dead_volume_nl

    @property
    def primed(self) -> bool:
        """True once the path is full of fluid (always, for a zero dead volume)."""
        return self._filled_nl == self._dead_volume_nl

    @property
    def air_nl(self) -> int:
        """Volume still empty in an unprimed path: what must go in before anything comes out."""
        return self._dead_volume_nl - self._filled_nl

    @property
    def segment_count(self) -> int:
        """Segments in the queue (one per concentration change inside the path)."""
        return len(self._queue)

    @property
    def concentration_at_tip(self) -> int | None:
        """Concentration of the next fluid out of the tip; None when the path holds no fluid."""
        return self._queue[0][1] if self._queue else None

    @property
    def contents_volume_nl(self) -> int:
        """Fluid volume in the path."""
        return self._filled_nl

    @property
    def contents_drug_pg(self) -> int:
        """Drug in the path, exact picograms."""
        return sum(v * c for v, c in self._queue)

    @property
    def initial_volume_nl(self) -> int:
        """Fluid in the path when it was built (the dead volume if primed, else 0)."""
        return self._initial_volume_nl

    @property
    def initial_drug_pg(self) -> int:
        """Drug in the path when it was built."""
        return self._initial_drug_pg

    @property
    def volume_in_nl(self) -> int:
        """Total fluid pushed in."""
        return self._volume_in_nl

    @property
    def drug_in_pg(self) -> int:
        """Total drug pushed in, exact picograms."""
        return self._drug_in_pg

    @property
    def volume_out_nl(self) -> int:
        """Total fluid out of the tip."""
        return self._volume_out_nl

    @property
    def drug_out_pg(self) -> int:
        """Total drug out of the tip (delivered to the patient), exact picograms."""
        return self._drug_out_pg

    @property
    def delivered_to_patient_ug(self) -> Fraction:
        """Total drug delivered to the patient, exact micrograms."""
        return Fraction(self._drug_out_pg, PG_PER_UG)


class FluidTracker:
    """Drives a :class:`FluidPath` from two numbers the pump model exposes.

    The emulator calls :meth:`update` (or :meth:`update_over`) every time it
    advances the pump, with the pump's ``total_delivered_nl`` (the true volume
    that has left the reservoir) and the concentration that was in the
    reservoir during that interval. The difference since the last call is
    pushed into the path.

    A refill is assumed to empty the reservoir before filling it (the refill
    workflow removes what is left), so the reservoir never holds a mixture:
    advance and update up to the refill with the old concentration, then pass
    the new one from there on.
    """

    def __init__(self, path: FluidPath, *, total_delivered_nl: int) -> None:
        """Track ``path`` from a pump whose ``total_delivered_nl`` is the value given now."""
        if not isinstance(path, FluidPath):
            raise FluidPathValueError(f"path must be a FluidPath, got {path!r}")
        self._path = path
        self._last_total_nl = _check_int("total_delivered_nl", total_delivered_nl, minimum=0)

    def _delta(self, pump_total_delivered_nl: int) -> int:
        _check_int("pump_total_delivered_nl", pump_total_delivered_nl, minimum=0)
        if pump_total_delivered_nl < self._last_total_nl:
            raise FluidPathValueError(
                f"pump_total_delivered_nl went backwards: {pump_total_delivered_nl}"
                f" < {self._last_total_nl}"
            )
        return pump_total_delivered_nl - self._last_total_nl

    def update(
        self, pump_total_delivered_nl: int, reservoir_concentration_ug_per_ml: int
    ) -> TipOutput:
        """Push what the pump delivered since the last call; return what left the tip."""
        delta_nl = self._delta(pump_total_delivered_nl)
        out = self._path.push(delta_nl, reservoir_concentration_ug_per_ml)
        self._last_total_nl = pump_total_delivered_nl
        return out

    def update_over(
        self,
        pump_total_delivered_nl: int,
        reservoir_concentration_ug_per_ml: int,
        duration_s: int,
    ) -> tuple[TipPiece, ...]:
        """As :meth:`update`, spreading the delivery evenly over ``duration_s`` (see
        :meth:`FluidPath.push_over`): call it at every change of flow for exact timing."""
        delta_nl = self._delta(pump_total_delivered_nl)
        pieces = self._path.push_over(delta_nl, reservoir_concentration_ug_per_ml, duration_s)
        self._last_total_nl = pump_total_delivered_nl
        return pieces

    def push_raw(
        self, volume_nl: int, concentration_ug_per_ml: int
    ) -> tuple[int, list[tuple[int, int]]]:
        """Push ``volume_nl`` more (checked ints) as :meth:`FluidPath.push_raw` does; the
        pump total seen moves on by it."""
        self._last_total_nl += volume_nl
        return self._path.push_raw(volume_nl, concentration_ug_per_ml)

    @property
    def path(self) -> FluidPath:
        """The tracked path."""
        return self._path

    @property
    def last_total_delivered_nl(self) -> int:
        """The pump total seen at the last update."""
        return self._last_total_nl


SECONDS_PER_HOUR = 3_600


class HourlyLedger:
    """Drug that reached the patient, per hour of the pump clock (exact micrograms).

    Fed with the tip pieces of each push and the pump-clock second the push began
    (:meth:`add`: a piece that straddles an hour boundary is split in proportion to time),
    or with one constant-rate stretch of one drug (:meth:`add_even`: split at the hour in
    whole nanolitres). Keeps the last ``max_hours`` hours of the pump clock (those before
    are read as 0).

    The emulator pushes each constant-rate stretch of the pump as one, so inside a stretch
    the pump's whole nanolitres are not followed second by second: an hour that a stretch
    straddles holds, at each of its ends, the even share of the stretch's volume rounded
    down to the nanolitre, within 2 nL of the pump's own count (0.004 mcg at 2000 mcg/mL).
    Every stretch, and the total, is exact to the picogram.
    """

    def __init__(self, *, max_hours: int = 24 * 90) -> None:
        _check_int("max_hours", max_hours, minimum=1)
        # Exact picograms per hour: an int while every piece fell inside its hour, a
        # Fraction once a piece was split in proportion to time.
        self._hours: dict[int, int | Fraction] = {}
        self._max_hours = max_hours
        self._prune_at = max_hours + max_hours // 8 + 1
        """Hours (or long stretches) kept before :meth:`_prune` drops the oldest."""
        self._long: list[tuple[int, int, int, int]] | None = None
        """Stretches of :meth:`add_even` that hold a whole hour or more, kept whole
        (start, end, volume_nl, concentration): their hours are computed when read, so a
        stretch of months costs one entry, not one per hour."""
        self._latest_hour = -1
        """Start of the latest hour entered."""
        self._reached = 0
        """Pump clock up to which pieces have been entered."""

    def add(self, start_clock_s: int, pieces: Iterable[TipPiece]) -> None:
        """Enter ``pieces`` (consecutive, from ``start_clock_s``)."""
        _check_int("start_clock_s", start_clock_s, minimum=0)
        at: int | Fraction = start_clock_s
        for piece in pieces:
            duration = piece.duration_s
            end = at + duration
            drug_pg = piece.drug_pg
            if drug_pg and not duration:  # an instantaneous dose: in its own hour
                self._put(int(at) // SECONDS_PER_HOUR * SECONDS_PER_HOUR, drug_pg)
            elif drug_pg:
                self._spread(at, end, drug_pg)
            at = end
        self._reached = max(self._reached, int(at))
        self._prune()

    def add_even(
        self, start_clock_s: int, duration_s: int, volume_nl: int, concentration_ug_per_ml: int
    ) -> None:
        """Enter ``volume_nl`` of one drug leaving the tip at a constant flow over
        ``duration_s`` > 0 from ``start_clock_s`` (checked ints: the emulator's world, once
        per stretch). Split at the hours in whole nanolitres, as the pump counts them: the
        volume due by an hour boundary is the even share rounded down, so every hour holds
        whole picograms, within 2 nL of the pump's own whole nanolitres in that hour.
        The oldest hours are dropped as soon as what is kept passes the window and an
        eighth, as :meth:`add` does (checked where something was added)."""
        end = start_clock_s + duration_s
        if volume_nl and concentration_ug_per_ml:
            hour = start_clock_s // SECONDS_PER_HOUR * SECONDS_PER_HOUR
            last = (end - 1) // SECONDS_PER_HOUR * SECONDS_PER_HOUR
            if last == hour:  # inside one hour (the loop below, which would not turn)
                hours = self._hours
                drug_pg = volume_nl * concentration_ug_per_ml
                if hour in hours:
                    hours[hour] += drug_pg
                else:
                    hours[hour] = drug_pg
                self._latest_hour = max(self._latest_hour, hour)
                if len(hours) > self._prune_at:
                    self._prune()
            elif last - hour >= 2 * SECONDS_PER_HOUR:  # a whole hour or more: kept whole
                long = self._long
                if long is None:
                    long = self._long = []
                long.append((start_clock_s, end, volume_nl, concentration_ug_per_ml))
                self._latest_hour = max(self._latest_hour, last)
                if len(long) > self._prune_at:
                    self._prune()
            else:
                boundary = hour + SECONDS_PER_HOUR
                done_nl = 0
                while boundary < end:
                    due_nl = volume_nl * (boundary - start_clock_s) // duration_s
                    self._put(hour, (due_nl - done_nl) * concentration_ug_per_ml)
                    done_nl, hour = due_nl, boundary
                    boundary += SECONDS_PER_HOUR
                self._put(hour, (volume_nl - done_nl) * concentration_ug_per_ml)
                if len(self._hours) > self._prune_at:
                    self._prune()
        self._reached = max(self._reached, end)

    @staticmethod
    def _long_hour_pg(stretch: tuple[int, int, int, int], hour: int) -> int:
        """What a stretch kept whole gives the hour starting at ``hour``, pg: the volume due
        by each end of the hour rounded down, as :meth:`add_even` splits (0 outside it)."""
        start, end, volume_nl, concentration = stretch
        low, high = max(start, hour), min(end, hour + SECONDS_PER_HOUR)
        if high <= low:
            return 0
        duration = end - start
        due_high = volume_nl if high == end else volume_nl * (high - start) // duration
        due_low = volume_nl * (low - start) // duration
        return (due_high - due_low) * concentration

    def _put(self, hour: int, drug_pg: int | Fraction) -> None:
        hours = self._hours
        if hour in hours:
            hours[hour] += drug_pg
        else:
            hours[hour] = drug_pg
        self._latest_hour = max(self._latest_hour, hour)

    def _spread(self, at: int | Fraction, end: int | Fraction, drug_pg: int) -> None:
        """``drug_pg`` evenly over ``at``..``end`` (> at), split at the hours."""
        duration = end - at
        hour = int(at) // SECONDS_PER_HOUR * SECONDS_PER_HOUR
        if end <= hour + SECONDS_PER_HOUR:
            self._put(hour, drug_pg)
            return
        # The first hour's part, the whole hours (each the same share), the last part.
        first_end = hour + SECONDS_PER_HOUR
        self._put(hour, _exact(Fraction(drug_pg * (first_end - at)) / duration))
        last = int(end) // SECONDS_PER_HOUR * SECONDS_PER_HOUR
        if last == end:
            last -= SECONDS_PER_HOUR  # ends on the hour: the hour before is whole
        if last > first_end:
            share = _exact(Fraction(drug_pg * SECONDS_PER_HOUR) / duration)
            for whole in range(first_end, last, SECONDS_PER_HOUR):
                self._put(whole, share)
        self._put(last, _exact(Fraction(drug_pg * (end - max(last, first_end))) / duration))

    def _prune(self) -> None:
        """Drop what is out of the window, a few at a time (past an eighth more)."""
        prune_at = self._prune_at
        hours = self._hours
        if len(hours) > prune_at:
            oldest = self._oldest_kept
            self._hours = {h: pg for h, pg in hours.items() if h >= oldest}
        if self._long is not None and len(self._long) > prune_at:
            oldest = self._oldest_kept
            self._long = [s for s in self._long if s[1] > oldest]

    @property
    def _oldest_kept(self) -> int:
        return self._latest_hour - (self._max_hours - 1) * SECONDS_PER_HOUR

    def hour_ug(self, hour_start_clock_s: int) -> Fraction:
        """Drug that reached the patient in the hour starting at ``hour_start_clock_s``."""
        if hour_start_clock_s < self._oldest_kept:
            return Fraction(0)
        pg = self._hours.get(hour_start_clock_s, 0)
        for stretch in self._long or ():
            if (
                stretch[0] < hour_start_clock_s + SECONDS_PER_HOUR
                and stretch[1] > hour_start_clock_s
            ):
                pg += self._long_hour_pg(stretch, hour_start_clock_s)
        return Fraction(pg) / PG_PER_UG

    def hours(self, first_clock_s: int, last_clock_s: int) -> list[tuple[int, Fraction]]:
        """(hour start, mcg) of every whole hour from the one holding ``first_clock_s`` to
        the one ending at or before ``last_clock_s`` (hours with nothing are 0)."""
        first = first_clock_s // SECONDS_PER_HOUR * SECONDS_PER_HOUR
        return [
            (h, self.hour_ug(h))
            for h in range(first, last_clock_s - SECONDS_PER_HOUR + 1, SECONDS_PER_HOUR)
        ]

    def last_hour_ug(self, now_clock_s: int) -> Fraction:
        """Drug of the last whole hour before ``now_clock_s``."""
        hour = now_clock_s // SECONDS_PER_HOUR * SECONDS_PER_HOUR - SECONDS_PER_HOUR
        return self.hour_ug(hour)

    @property
    def reached_clock_s(self) -> int:
        """Pump clock up to which the ledger is complete."""
        return self._reached


def _exact(value: int | Fraction) -> int | Fraction:
    """Whole picograms as an int, else the exact Fraction."""
    if type(value) is Fraction and value.denominator == 1:
        return value.numerator
    return value
