"""The plot history: the sampled true state kept, and the series cut from it."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from programmer_gui.core.educator.backend import DAY_S, _require_int
from programmer_gui.core.educator.facts import TrueSample

# --- the plot history ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlotSeries:
    """The columns the live plot draws; x is days since the start (floats, NaN for a gap)."""

    x_days: tuple[float, ...] = ()
    reservoir_ml: tuple[float, ...] = ()
    alarm_volume_ml: tuple[float, ...] = ()
    reservoir_concentration_ug_per_ml: tuple[float, ...] = ()
    tip_concentration_ug_per_ml: tuple[float, ...] = ()
    reaching_patient_ug_per_day: tuple[float, ...] = ()
    """Mean over the interval before each sample (NaN for the first)."""
    patient_level_ng_per_ml: tuple[float, ...] = ()
    withdrawal_below_ng_per_ml: tuple[float, ...] = ()
    overdose_above_ng_per_ml: tuple[float, ...] = ()
    patient_response_ng_per_ml: tuple[float, ...] = ()
    """NaN where the model gave none."""

    def __len__(self) -> int:
        return len(self.x_days)


class SampleHistory:
    """The samples taken so far, oldest first, at most ``max_samples`` (oldest dropped)."""

    def __init__(self, *, start_pump_s: int, max_samples: int = 6_000) -> None:
        self.start_pump_s = _require_int("start_pump_s", start_pump_s)
        self._samples: deque[TrueSample] = deque(maxlen=_require_int("max_samples", max_samples))

    def add(self, sample: TrueSample) -> bool:
        """Keep ``sample`` unless it repeats the latest (paused and nothing changed), or goes
        back in time; returns whether it was kept."""
        if self._samples:
            last = self._samples[-1]
            if sample == last or sample.pump_time_s < last.pump_time_s:
                return False
        self._samples.append(sample)
        return True

    def extend(self, samples: Iterable[TrueSample]) -> int:
        """:meth:`add` each; returns how many were kept."""
        return sum(self.add(s) for s in samples)

    @property
    def latest(self) -> TrueSample | None:
        return self._samples[-1] if self._samples else None

    def __len__(self) -> int:
        return len(self._samples)

    def series(self, *, window_s: int | None = None) -> PlotSeries:
        """The columns of the last ``window_s`` of pump time (everything if None)."""
        samples = list(self._samples)
        if window_s is not None and samples:
            since = samples[-1].pump_time_s - window_s
            # One sample before the window, so the line enters from the left edge.
            first = next((i for i, s in enumerate(samples) if s.pump_time_s >= since), 0)
            samples = samples[max(0, first - 1) :]
        reaching: list[float] = []
        previous: TrueSample | None = None
        for s in samples:
            value = math.nan
            if previous is not None:
                dt = s.pump_time_s - previous.pump_time_s
                delta = s.delivered_to_patient_ug - previous.delivered_to_patient_ug
                if dt > 0 and delta >= 0:
                    value = delta * DAY_S / dt
            reaching.append(value)
            previous = s
        nan = math.nan
        return PlotSeries(
            x_days=tuple((s.pump_time_s - self.start_pump_s) / DAY_S for s in samples),
            reservoir_ml=tuple(s.reservoir_nl / 1e6 for s in samples),
            alarm_volume_ml=tuple(s.alarm_volume_nl / 1e6 for s in samples),
            reservoir_concentration_ug_per_ml=tuple(
                float(s.reservoir_concentration_ug_per_ml) for s in samples
            ),
            tip_concentration_ug_per_ml=tuple(
                nan
                if s.tip_concentration_ug_per_ml is None
                else float(s.tip_concentration_ug_per_ml)
                for s in samples
            ),
            reaching_patient_ug_per_day=tuple(reaching),
            patient_level_ng_per_ml=tuple(s.patient_level_ng_per_ml for s in samples),
            withdrawal_below_ng_per_ml=tuple(s.withdrawal_below_ng_per_ml for s in samples),
            overdose_above_ng_per_ml=tuple(s.overdose_above_ng_per_ml for s in samples),
            patient_response_ng_per_ml=tuple(
                nan if s.patient_response_ng_per_ml is None else s.patient_response_ng_per_ml
                for s in samples
            ),
        )
