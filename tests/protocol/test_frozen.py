"""``protocol.frozen.frozen`` makes what ``dataclass(frozen=True, kw_only=True)`` makes.

Each class the project declares with it is compared with a twin declared again with
``dataclass(frozen=True, kw_only=True)`` over the same fields: signature, docstring,
parameters, construction (defaults, factories, ``__post_init__``), ``==``, ``hash``,
``repr``, and the errors of assignment, deletion and bad calls.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

import emulator.clock
import emulator.fluid_path
import emulator.mri
import emulator.presets
import emulator.transports.base
import firmware_model.alarms
import firmware_model.delivery
import firmware_model.nvm
import firmware_model.prescription
import firmware_model.profile
import firmware_model.pump_records
import protocol.battery
import protocol.forecast
import protocol.prescription
import protocol.response
import protocol.schedule
from emulator import link_faults, patient
from protocol import session_rules
from protocol.frozen import frozen

DECLARED: list[type[Any]] = [
    link_faults.LinkImpairment,
    link_faults.Fault,
    link_faults.DirectionCounters,
    link_faults.LinkCounters,
    patient.PatientParams,
    patient.Assessment,
    patient.ResponseMilestones,
    session_rules.SessionEvent,
    session_rules.Accepted,
    session_rules.Reply,
    emulator.mri.MriExit,
    emulator.mri.ScheduledMriEnd,
    emulator.presets.PumpSetup,
    firmware_model.alarms.AlarmRule,
    firmware_model.alarms.ActiveAlarm,
    firmware_model.alarms.AlarmView,
    firmware_model.delivery.RefillPlan,
    firmware_model.nvm.PumpImage,
    firmware_model.pump_records.RefillResult,
    firmware_model.pump_records.RefillOrder,
    firmware_model.pump_records.PatientDoseGrant,
    firmware_model.pump_records.PumpStatus,
    protocol.battery.BatteryModel,
    protocol.forecast.Plan,
    protocol.forecast.BridgePlan,
    protocol.forecast.Query,
    protocol.forecast.Dates,
    protocol.response.ResponseChange,
    protocol.schedule.RunningBolus,
    protocol.schedule.PatientRule,
]


def _twin(cls: type[Any]) -> type[Any]:
    """``cls``'s fields declared again, with its methods, by ``dataclass`` itself."""
    namespace: dict[str, Any] = {
        name: value
        for name, value in cls.__dict__.items()
        if name not in ("__dict__", "__weakref__", "__dataclass_fields__", "__dataclass_params__")
        and name not in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__")
        and name not in ("__delattr__", "__match_args__", "__annotations__")
    }
    namespace["__annotations__"] = dict(inspect.get_annotations(cls))
    for f in dataclasses.fields(cls):
        namespace[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            metadata=f.metadata,
        )
    twin = type(cls.__name__, cls.__bases__, namespace)
    return dataclasses.dataclass(frozen=True, kw_only=True)(twin)


def _example(cls: type[Any]) -> dict[str, Any]:
    """Values a caller might give (the defaults where there are any)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = _value_for(cls, f)
    return values


def _value_for(cls: type[Any], f: dataclasses.Field[Any]) -> Any:
    if cls is link_faults.Fault:
        return {
            "direction": next(iter(link_faults.Direction)),
            "kind": next(iter(link_faults.FaultKind)),
        }.get(f.name, 3)
    if cls is patient.Assessment and f.name == "state":
        return next(iter(patient.RiskState))
    if cls is session_rules.SessionEvent:
        return {"kind": next(iter(session_rules.SessionEventKind))}.get(f.name, 0)
    return 0


@pytest.mark.parametrize("cls", DECLARED, ids=lambda c: c.__name__)
def test_a_declared_class_is_what_dataclass_makes(cls: type[Any]) -> None:
    twin = _twin(cls)
    assert "__init__" in twin.__dict__ and "__setattr__" in twin.__dict__
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__init__.__annotations__ == twin.__init__.__annotations__
    assert repr(cls.__dataclass_params__) == repr(twin.__dataclass_params__)
    assert cls.__match_args__ == twin.__match_args__
    try:
        values = _example(cls)
        ours, theirs = cls(**values), twin(**values)
    except TypeError:
        pytest.fail(f"no example for {cls.__name__}")
    shown = {f.name: getattr(ours, f.name) for f in dataclasses.fields(cls)}
    assert shown == {f.name: getattr(theirs, f.name) for f in dataclasses.fields(twin)}
    assert repr(ours) == repr(theirs)
    assert hash(ours) == hash(theirs) == hash(cls(**values))
    assert ours == cls(**values) and ours != theirs and ours.__eq__(object()) is NotImplemented
    for name in [*shown, "not_a_field"]:
        for target in (ours, theirs):
            with pytest.raises(dataclasses.FrozenInstanceError) as assigned:
                setattr(target, name, 0)
            assert str(assigned.value) == f"cannot assign to field {name!r}"
            with pytest.raises(dataclasses.FrozenInstanceError) as deleted:
                delattr(target, name)
            assert str(deleted.value) == f"cannot delete field {name!r}"
    for args, kwargs in [((1,), values), ((), {**values, "extra": 1})]:
        with pytest.raises(TypeError) as our_error:
            cls(*args, **kwargs)
        with pytest.raises(TypeError) as their_error:
            twin(*args, **kwargs)
        assert str(our_error.value) == str(their_error.value)


def _pair(namespace: dict[str, Any]) -> tuple[type[Any], type[Any]]:
    ours: type[Any] = frozen(type("Shape", (), {"__module__": __name__, **namespace}))
    theirs: type[Any] = dataclasses.dataclass(frozen=True, kw_only=True)(
        type("Shape", (), {"__module__": __name__, **namespace})
    )
    return ours, theirs


def test_defaults_factories_field_options_and_post_init_are_the_dataclass_ones() -> None:
    seen: list[Any] = []

    def namespace() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "int", "c": "list[int]", "d": "int"},
            "b": 7,
            "c": dataclasses.field(default_factory=list),
            "d": dataclasses.field(default=0, repr=False, compare=False),
            "__post_init__": lambda self: seen.append(self.a),
        }

    ours, theirs = _pair(namespace())
    assert (
        ours.__doc__
        == theirs.__doc__
        == "Shape(*, a: 'int', b: 'int' = 7, c: 'list[int]' = <factory>, d: 'int' = 0)"
    )
    assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
    made, made_twin = ours(a=1, d=5), theirs(a=1, d=5)
    assert seen == [1, 1]
    assert repr(made) == repr(made_twin) == "Shape(a=1, b=7, c=[])"
    assert made == ours(a=1, d=6) and made_twin == theirs(a=1, d=6)  # d is not compared
    assert ours(a=1).c is not made.c
    with pytest.raises(TypeError, match="unhashable"):
        hash(made)  # a list inside, as the dataclass's
    with pytest.raises(TypeError, match="unhashable"):
        hash(made_twin)
    with pytest.raises(TypeError) as our_error:
        ours()
    with pytest.raises(TypeError) as their_error:
        theirs()
    assert str(our_error.value) == str(their_error.value)


def test_a_subclass_that_is_no_dataclass_may_add_attributes_as_with_dataclass() -> None:
    namespace = {"__annotations__": {"a": "int"}}
    for base in _pair(namespace):
        child = type("Child", (base,), {})() if False else type("Child", (base,), {})
        instance = child(a=1)
        instance.extra = 2
        assert instance.extra == 2
        with pytest.raises(dataclasses.FrozenInstanceError):
            instance.a = 3
        del instance.extra
        with pytest.raises(dataclasses.FrozenInstanceError):
            del instance.a


def test_a_dataclass_may_derive_from_a_frozen_class_and_the_other_way() -> None:
    base: type[Any] = frozen(type("Base", (), {"__annotations__": {"a": "int"}}))
    child: type[Any] = dataclasses.dataclass(frozen=True, kw_only=True)(
        type("Child", (base,), {"__annotations__": {"b": "int"}})
    )
    grandchild: type[Any] = frozen(type("Grandchild", (child,), {"__annotations__": {"c": "int"}}))
    assert repr(grandchild(a=1, b=2, c=3)) == "Grandchild(a=1, b=2, c=3)"
    assert base.__dataclass_params__.frozen and child.__dataclass_params__.frozen
    with pytest.raises(TypeError, match="non-frozen"):
        dataclasses.dataclass(type("Thawed", (base,), {"__annotations__": {"d": "int"}}))


def test_a_class_with_its_own_methods_or_a_hidden_field_is_refused() -> None:
    with pytest.raises(TypeError, match="defines __eq__"):
        frozen(type("Own", (), {"__annotations__": {"a": "int"}, "__eq__": lambda s, o: True}))
    hidden = {"__annotations__": {"n": "int"}, "n": dataclasses.field(default=0, init=False)}
    with pytest.raises(TypeError, match="init field"):
        frozen(type("Hidden", (), hidden))
