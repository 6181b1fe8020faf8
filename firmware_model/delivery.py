"""Exact, event-driven integration of delivered volume, in integer nanolitres.

Between two events the pump runs one source at a constant rate, and the
volume it commands over ``dt`` seconds is always of the *linear floor* form

    ``(a + b*dt) // c - a // c``

- basal at ``r`` nL/day: ``a`` = the remainder accumulator (nL*s/day units,
  ``0 <= a < 86400``), ``b = r``, ``c = 86400``; the remainder carries over
  to the next segment, so nothing is ever rounded away;
- a bolus of ``V`` nL over ``D`` s, ``e`` s after it started: ``a = V*e``,
  ``b = V``, ``c = D``; it has delivered exactly ``V*e // D`` nL, and ``V``
  at its end.

:func:`protocol.schedule.first_reach` finds, exactly, the first second at which a threshold
on that volume (or on a battery drain that depends on it) is reached.
:class:`DeliveryState` moves the volume and keeps the books so that, as
integers and at every instant, ``filled == delivered + reservoir + removed``.
"""

from __future__ import annotations

from firmware_model.errors import OutOfRangeError, OverfillError
from protocol.frozen import frozen, mutable
from protocol.schedule import RunningBolus
from protocol.timebase import SECONDS_PER_DAY

PPM = 1_000_000


@mutable
class BridgeState:
    """A running bridge: rates at ``old_concentration_ug_per_ml`` until ``remaining_nl``
    more has been commanded (it started with ``volume_nl``)."""

    volume_nl: int
    remaining_nl: int
    old_concentration_ug_per_ml: int
    started_t: int


@frozen
class RefillPlan:
    """What a refill will do to the books, worked out before anything changes."""

    removed_from_reservoir_nl: int
    """What really leaves the reservoir: at most what it holds."""
    estimate_after_nl: int
    reservoir_after_nl: int


@mutable
class DeliveryState:
    """The reservoir and the books of everything that went in and out of it.

    ``estimate_nl`` is what the pump believes is left (it counts commanded
    volume); ``reservoir_nl`` is the truth (actual volume, which differs by
    the profile's delivery bias and never goes below zero). Only truth
    enters the conservation law.
    """

    estimate_nl: int
    reservoir_nl: int
    total_filled_nl: int
    total_delivered_nl: int = 0
    total_removed_nl: int = 0
    total_commanded_nl: int = 0
    basal_remainder: int = 0
    """Basal accumulator remainder, nL*s/day units, in [0, 86400)."""
    bias_remainder: int = 0
    """Bias accumulator remainder, nL*ppm units, in [0, 1e6)."""
    bolus: RunningBolus | None = None

    def __post_init__(self) -> None:
        for name in (
            "estimate_nl",
            "reservoir_nl",
            "total_filled_nl",
            "total_delivered_nl",
            "total_removed_nl",
            "total_commanded_nl",
        ):
            if getattr(self, name) < 0:
                raise OutOfRangeError(
                    field=name, value=getattr(self, name), limit=0, rule="at least"
                )
        if not 0 <= self.basal_remainder < SECONDS_PER_DAY:
            raise OutOfRangeError(
                field="basal_remainder",
                value=self.basal_remainder,
                limit=SECONDS_PER_DAY,
                rule="within [0, limit)",
            )
        if not 0 <= self.bias_remainder < PPM:
            raise OutOfRangeError(
                field="bias_remainder",
                value=self.bias_remainder,
                limit=PPM,
                rule="within [0, limit)",
            )
        if not self.conserved():
            raise OutOfRangeError(
                field="total_filled_nl",
                value=self.total_filled_nl,
                limit=self.total_delivered_nl + self.reservoir_nl + self.total_removed_nl,
                rule="(delivered + reservoir + removed) equal to",
            )

    def conserved(self) -> bool:
        """``filled == delivered + reservoir + removed``, exactly."""
        return self.total_filled_nl == (
            self.total_delivered_nl + self.reservoir_nl + self.total_removed_nl
        )

    def advance_basal(self, rate_nl_per_day: int, dt: int) -> int:
        """Volume a basal rate commands over ``dt`` s; the remainder carries over."""
        total = self.basal_remainder + rate_nl_per_day * dt
        self.basal_remainder = total % SECONDS_PER_DAY
        return total // SECONDS_PER_DAY

    def command(self, volume_nl: int, bias_ppm: int) -> int:
        """Move ``volume_nl`` commanded nanolitres; return the volume actually delivered.

        The estimate drops by the commanded volume; the reservoir by the
        commanded volume scaled by ``1 + bias_ppm/1e6`` (with its own
        remainder), but never below zero: a dry pump pumps nothing.
        """
        if volume_nl == 0:
            return 0
        self.estimate_nl -= volume_nl
        self.total_commanded_nl += volume_nl
        if bias_ppm == 0:
            actual = volume_nl
        else:
            total = self.bias_remainder + volume_nl * (PPM + bias_ppm)
            self.bias_remainder = total % PPM
            actual = total // PPM
        actual = min(actual, self.reservoir_nl)
        self.reservoir_nl -= actual
        self.total_delivered_nl += actual
        return actual

    def discharge(self, volume_nl: int) -> None:
        """``volume_nl`` of the true reservoir leaves at once, unmetered (a valve pump in an
        MRI field): delivered, but the estimate (what the pump metered) does not move."""
        if type(volume_nl) is not int or not 0 <= volume_nl <= self.reservoir_nl:
            raise OutOfRangeError(
                field="volume_nl",
                value=volume_nl,
                limit=self.reservoir_nl,
                rule="(what the reservoir holds) at most",
            )
        self.reservoir_nl -= volume_nl
        self.total_delivered_nl += volume_nl

    def plan_refill(self, *, removed_nl: int, added_nl: int, capacity_nl: int) -> RefillPlan:
        """Work out a refill, or raise OverfillError; nothing changes here.

        A refill empties the reservoir completely (the needle draws out all that is
        left), then ``added_nl`` goes in: afterwards the reservoir holds exactly what
        was added, whatever was removed. ``removed_nl`` is what the clinician measured
        coming out; it matters for the reconciliation (removed - expected), not for
        the level: less than expected may mean over-delivery or drug injected outside
        the pump, more than expected under-delivery.
        """
        del removed_nl  # the reconciliation is the pump's (Pump.plan_refill), not the books'
        if added_nl > capacity_nl:
            raise OverfillError(added_nl=added_nl, room_nl=capacity_nl, capacity_nl=capacity_nl)
        return RefillPlan(
            removed_from_reservoir_nl=self.reservoir_nl,
            estimate_after_nl=added_nl,
            reservoir_after_nl=added_nl,
        )

    def apply_refill(self, plan: RefillPlan, *, added_nl: int) -> None:
        """Carry out a planned refill."""
        self.total_removed_nl += plan.removed_from_reservoir_nl
        self.total_filled_nl += added_nl
        self.reservoir_nl = plan.reservoir_after_nl
        self.estimate_nl = plan.estimate_after_nl
