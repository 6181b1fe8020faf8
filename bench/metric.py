"""One benchmark figure, always reported beside the floor it is held against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Metric:
    """A measured figure and the floor measured in the same run.

    ``ratio`` is value / floor_value when both share a unit (how many times
    the floor the work costs); ``target`` states the goal in words.
    """

    name: str
    value: float
    unit: str
    floor_name: str
    floor_value: float
    floor_unit: str
    target: str = ""
    detail: str = ""
    """How steady the figure was (e.g. the spread of block medians), printed beneath it."""

    @property
    def ratio(self) -> float | None:
        if self.unit != self.floor_unit or self.floor_value == 0:
            return None
        return self.value / self.floor_value

    def as_json(self) -> dict[str, object]:
        return {
            "value": self.value,
            "unit": self.unit,
            "floor": {"name": self.floor_name, "value": self.floor_value, "unit": self.floor_unit},
            "ratio": self.ratio,
            "target": self.target,
            "detail": self.detail,
        }
