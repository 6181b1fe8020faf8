"""A change of the prescribed 24-h dose and when the patient's response to it shows: one
record for the emulator's world (which forecasts it from the patient model) and the
educator's window (which reads it from the true state, a JSON document, and plots it).

The response lags the spinal-fluid level (a teaching model, named as such): onset
is the response first reaching 25 % of its change, full effect 90 %.
"""

from __future__ import annotations

import math

from protocol.frozen import frozen

__all__ = ["ResponseChange"]


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return number


@frozen
class ResponseChange:
    """A change of the prescribed 24-h dose, and when its response shows (pump time, s)."""

    at_s: float
    from_ug_per_day: float
    to_ug_per_day: float
    start_response_ng_per_ml: float
    """The response when the dose changed."""
    final_response_ng_per_ml: float
    """Where the response settles on the new dose."""
    onset_at_s: float | None
    """The response reaches 25 % of its change (None: not within two weeks)."""
    full_effect_at_s: float | None
    """... and 90 %."""

    def __post_init__(self) -> None:
        for name in (
            "at_s",
            "from_ug_per_day",
            "to_ug_per_day",
            "start_response_ng_per_ml",
            "final_response_ng_per_ml",
        ):
            _finite(name, getattr(self, name))
        for name in ("onset_at_s", "full_effect_at_s"):
            value = getattr(self, name)
            if value is not None and _finite(name, value) < self.at_s:
                raise ValueError(f"{name} must not come before the change")

    @property
    def change_percent(self) -> float | None:
        """The change of the 24-h dose in percent (None from 0 mcg/day)."""
        if self.from_ug_per_day == 0:
            return None
        return (self.to_ug_per_day - self.from_ug_per_day) * 100 / self.from_ug_per_day

    @property
    def label(self) -> str:
        """``400 → 480 mcg/day (+20 %)``."""
        percent = self.change_percent
        change = "" if percent is None else f" ({percent:+.0f} %)"
        return f"{self.from_ug_per_day:.0f} \u2192 {self.to_ug_per_day:.0f} mcg/day{change}"

    def progress(self, response_ng_per_ml: float) -> float | None:
        """How far the response has gone from where it was at the change to where it
        settles (0 to 1, beyond 1 when a later change pushes it on); None without a change."""
        span = self.final_response_ng_per_ml - self.start_response_ng_per_ml
        if span == 0:
            return None
        return (response_ng_per_ml - self.start_response_ng_per_ml) / span
