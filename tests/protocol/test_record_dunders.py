"""Records compare, hash and print exactly as dataclasses with the defaults would.

:class:`~protocol.wire.Record` writes ``__eq__``, ``__hash__`` and ``__repr__`` once
instead of having them generated for each of the catalogue's classes (start-up, #16).
Each message class is checked against a twin declared with the dataclass defaults
(which generates its own three) over hypothesis-made messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.messages import MESSAGE_CLASSES
from protocol.prescription import FlexStep
from protocol.wire import Record
from tests.protocol.test_messages import record_strategy

PROFILE = settings(max_examples=10, derandomize=True, deadline=None)


def _twin(cls: type[Record]) -> type[Record]:
    """``cls`` declared again with the dataclass defaults (its own eq, hash and repr)."""
    namespace = {"__qualname__": cls.__qualname__, "__module__": cls.__module__}
    twin = dataclasses.dataclass(frozen=True, kw_only=True)(type(cls.__name__, (cls,), namespace))
    assert "__eq__" in twin.__dict__ and "__repr__" in twin.__dict__ and "__hash__" in twin.__dict__
    return twin


def _values(record: Record) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


@pytest.mark.parametrize("cls", [*MESSAGE_CLASSES, FlexStep], ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_eq_hash_and_repr_are_the_dataclass_ones(cls: type[Record], data: st.DataObject) -> None:
    assert "__eq__" not in cls.__dict__ and "__repr__" not in cls.__dict__  # inherited
    twin = _twin(cls)
    first = data.draw(record_strategy(cls))
    second = data.draw(record_strategy(cls))
    first_twin, second_twin = twin(**_values(first)), twin(**_values(second))
    assert repr(first) == repr(first_twin)
    assert hash(first) == hash(first_twin)
    assert (first == second) is (first_twin == second_twin)
    assert first == cls(**_values(first)) and hash(first) == hash(cls(**_values(first)))
    assert first != first_twin  # another class, as a dataclass's __eq__ says
    assert first.__eq__(object()) is NotImplemented


def test_a_field_that_differs_makes_records_unequal() -> None:
    step = FlexStep(start_min=0, dose_ng_per_day=1)
    assert step == FlexStep(start_min=0, dose_ng_per_day=1)
    assert step != FlexStep(start_min=0, dose_ng_per_day=2)
    assert step != FlexStep(start_min=1, dose_ng_per_day=1)
    assert repr(step) == "FlexStep(start_min=0, dose_ng_per_day=1)"
    assert len({step, FlexStep(start_min=0, dose_ng_per_day=1)}) == 1
