"""Battery charge, drain and the elective-replacement (ERI) rule, in integer microcoulombs.

Shared by the pump and the programmer (the constants travel in DEVICE_INFO), so
both compute the same ERI date from the same STATUS.

Charge drains three ways: a quiescent drain every second, a drain per
commanded nanolitre (motor strokes), and a drain per second of telemetry.
The pump keeps the remaining charge as an integer; this module holds the
arithmetic.

ERI rule: the projected life left at the current prescription is the
remaining charge divided by the prescription's mean drain (quiescent plus
its basal volume averaged over a week; boluses and patient doses are not
counted). ERI holds while that projection is below the profile's ERI lead
(90 days); end of service (EOS) is a remaining charge of zero.
"""

from __future__ import annotations

from protocol.frozen import frozen
from protocol.timebase import SECONDS_PER_DAY, SECONDS_PER_WEEK, ceil_div

PERMILLE = 1_000

# Weekly basal integrals are in nL*s/day; this turns them into nL per week of charge.
_WEEK_DAY = SECONDS_PER_WEEK * SECONDS_PER_DAY


@frozen
class BatteryModel:
    """The battery constants of a profile and the arithmetic on them."""

    capacity_uc: int
    quiescent_drain_uc_per_s: int
    drain_uc_per_nl: int
    telemetry_drain_uc_per_s: int
    eri_lead_s: int

    def permille(self, remaining_uc: int) -> int:
        """Charge left in permille, rounded up: 0 permille means end of service."""
        return ceil_div(remaining_uc * PERMILLE, self.capacity_uc)

    def charge_for_permille(self, permille: int) -> int:
        """The remaining charge that reads as ``permille`` (exact round trip with permille())."""
        if type(permille) is not int or not 0 <= permille <= PERMILLE:
            raise ValueError(f"battery_permille must be an int within 0..{PERMILLE}: {permille!r}")
        return self.capacity_uc * permille // PERMILLE

    def drain_uc(self, dt_s: int, volume_nl: int) -> int:
        """Charge used over ``dt_s`` seconds in which ``volume_nl`` was commanded."""
        return self.quiescent_drain_uc_per_s * dt_s + self.drain_uc_per_nl * volume_nl

    def telemetry_drain_uc(self, seconds: int) -> int:
        """Charge used by ``seconds`` of telemetry."""
        return self.telemetry_drain_uc_per_s * seconds

    def _weekly_drain(self, weekly_integral: int) -> int:
        """Mean drain of a week at a schedule, in uC * 86400 (keeps it an integer)."""
        return self.quiescent_drain_uc_per_s * _WEEK_DAY + self.drain_uc_per_nl * weekly_integral

    def eri_threshold_uc(self, weekly_integral: int) -> int:
        """ERI holds while remaining charge < this, at a schedule of that weekly integral.

        ``remaining / mean drain < lead``  <=>  ``remaining < ceil(lead * mean drain)``
        for an integer ``remaining``.
        """
        return ceil_div(self.eri_lead_s * self._weekly_drain(weekly_integral), _WEEK_DAY)

    def projected_life_s(self, remaining_uc: int, weekly_integral: int) -> int:
        """Seconds the remaining charge lasts at a schedule (whole seconds, rounded down)."""
        return remaining_uc * _WEEK_DAY // self._weekly_drain(weekly_integral)

    def life_at_rate_s(self, rate_nl_per_day: int) -> int:
        """Seconds a new battery lasts at a constant rate (the profile calibration)."""
        return self.projected_life_s(self.capacity_uc, rate_nl_per_day * SECONDS_PER_WEEK)
