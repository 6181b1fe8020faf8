"""Records compare, hash and print exactly as dataclasses with the defaults would.

:class:`~protocol.wire.Record` writes ``__eq__``, ``__hash__`` and ``__repr__`` once
instead of having them generated for each of the catalogue's classes (start-up, #16).
Each message class is checked against a twin declared with the dataclass defaults
(which generates its own three) over hypothesis-made messages.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.messages import MESSAGE_CLASSES
from protocol.prescription import FlexStep
from protocol.wire import Record, record
from tests.protocol.test_messages import record_strategy

PROFILE = settings(max_examples=10, derandomize=True, deadline=None)


def _twin(cls: type[Record]) -> type[Record]:
    """``cls`` declared again with the dataclass defaults (its own eq, hash and repr)."""
    namespace = {"__qualname__": cls.__qualname__, "__module__": cls.__module__}
    twin: type[Record] = dataclasses.dataclass(frozen=True, kw_only=True)(
        type(cls.__name__, (cls,), namespace)
    )
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


@pytest.mark.parametrize("cls", [*MESSAGE_CLASSES, FlexStep], ids=lambda c: c.__name__)
@given(data=st.data())
@PROFILE
def test_init_and_immutability_are_a_frozen_dataclasss(
    cls: type[Record], data: st.DataObject
) -> None:
    """``record`` compiles ``__init__`` once per shape and writes ``__setattr__`` and
    ``__delattr__`` once: the same signature, errors and immutability as the generated ones."""
    assert "__setattr__" not in cls.__dict__ and "__delattr__" not in cls.__dict__
    declared = dataclasses.dataclass(frozen=True, kw_only=True, eq=False, repr=False)
    reference: Any = declared(type("Reference", (), {}))
    assert repr(cls.__dataclass_params__) == repr(reference.__dataclass_params__)  # type: ignore[attr-defined]
    twin = _twin(cls)
    assert "__init__" in twin.__dict__ and "__setattr__" in twin.__dict__
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__init__.__annotations__ == twin.__init__.__annotations__
    values = _values(data.draw(record_strategy(cls)))
    made, made_twin = cls(**values), twin(**values)
    assert _values(made) == _values(made_twin) == values
    for name in [*values, "not_a_field"]:
        for target in (made, made_twin):
            with pytest.raises(dataclasses.FrozenInstanceError) as assigned:
                setattr(target, name, 0)
            assert str(assigned.value) == f"cannot assign to field {name!r}"
            with pytest.raises(dataclasses.FrozenInstanceError) as deleted:
                delattr(target, name)
            assert str(deleted.value) == f"cannot delete field {name!r}"
    assert _values(made) == values
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {**values, "extra": 1}),
        ((1,), values),
    ]
    if values:
        missing = dict(values)
        missing.pop(next(iter(values)))
        calls.append(((), missing))
    for args, kwargs in calls:
        with pytest.raises(TypeError) as ours:
            cls(*args, **kwargs)
        with pytest.raises(TypeError) as theirs:
            twin(*args, **kwargs)
        assert str(ours.value) == str(theirs.value)


def test_a_record_without_a_docstring_gets_the_dataclass_one() -> None:
    namespace = {"__annotations__": {"start_min": "int"}, "__module__": __name__}
    plain: type[Any] = record(type("Plain", (Record,), dict(namespace)))
    standard: type[Any] = dataclasses.dataclass(frozen=True, kw_only=True)(
        type("Plain", (), dict(namespace))
    )
    assert plain.__doc__ == standard.__doc__ == "Plain(*, start_min: 'int')"


def test_a_record_refuses_a_field_outside_init() -> None:
    namespace = {
        "__annotations__": {"n": "int"},
        "n": dataclasses.field(default=0, init=False),
    }
    with pytest.raises(TypeError, match="must be an init field"):
        record(type("Hidden", (Record,), namespace))


def test_defaults_and_default_factories_are_the_dataclass_ones() -> None:
    def namespace() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "int", "c": "list[int]"},
            "__module__": __name__,
            "b": 7,
            "c": dataclasses.field(default_factory=list),
        }

    # No wire types here: what __init__ does with defaults is the subject, not validation.
    unchecked = {**namespace(), "__post_init__": lambda self: None}
    ours: type[Any] = record(type("Defaults", (Record,), unchecked))
    theirs: type[Any] = dataclasses.dataclass(frozen=True, kw_only=True)(
        type("Defaults", (), namespace())
    )
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    made, made_twin = ours(a=1), theirs(a=1)
    assert (made.a, made.b, made.c) == (made_twin.a, made_twin.b, made_twin.c) == (1, 7, [])
    assert ours(a=1).c is not made.c  # a fresh list each time
    assert ours(a=1, b=2, c=[3]).c == [3]
