"""The patient's response read from the emulator's true state, for assertions.

The scenario executor (``response``, ``response_progress``, ``response_onset``,
``response_full_effect``) and the pytest plugin (``virtual_pump.response()``) read the
same figures through :func:`read_response`, from :meth:`Emulator.state` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["ResponseReading", "read_response"]


@dataclass(frozen=True, kw_only=True)
class ResponseReading:
    """The response now, and the last dose change's milestones on the pump's clock."""

    share: Fraction
    """The response as a share of the steady state of the dose prescribed now (1 = settled)."""
    progress: Fraction | None
    """How far the response has gone of the last dose change: 0 at the change, 0.25 at its
    onset, 0.9 at its full effect; None before any change."""
    onset_at_clock_s: int | None
    """When the last change's response reaches 25 % of its change, pump clock (None: no
    change yet, or not within two weeks)."""
    full_effect_at_clock_s: int | None
    """... and 90 %."""
    tone: float
    """Ashworth-like tone 0-4 (a teaching aid)."""


def _exact(value: float) -> Fraction:
    return Fraction(repr(value))


def read_response(state: Mapping[str, Any]) -> ResponseReading:
    """The response figures of one :meth:`~emulator.emulator.Emulator.state` (pump 0's)."""
    patient = state["patient"]
    response = _exact(patient["response_ng_per_ml"])
    share = response / _exact(patient["reference_ng_per_ml"])
    changes = patient["changes"]
    if not changes:
        return ResponseReading(
            share=share,
            progress=None,
            onset_at_clock_s=None,
            full_effect_at_clock_s=None,
            tone=float(patient["tone"]),
        )
    last = changes[-1]
    start = _exact(last["start_response_ng_per_ml"])
    span = _exact(last["final_response_ng_per_ml"]) - start
    # Milestones are kept in simulation time; assertions read the pump's clock.
    offset = int(state["pump"]["clock_s"]) - int(state["clock"]["pump_time_s"])

    def on_clock(at_s: float | None) -> int | None:
        return None if at_s is None else round(at_s) + offset

    return ResponseReading(
        share=share,
        progress=None if span == 0 else (response - start) / span,
        onset_at_clock_s=on_clock(last["onset_at_s"]),
        full_effect_at_clock_s=on_clock(last["full_effect_at_s"]),
        tone=float(patient["tone"]),
    )
