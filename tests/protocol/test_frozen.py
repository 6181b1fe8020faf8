"""``protocol.frozen.frozen`` and ``mutable`` make what ``dataclass`` makes.

Each class the project declares with them is compared with a twin declared again with
``dataclass`` (the same ``frozen``, ``kw_only``, ``slots``, ``eq`` and ``repr``) over the
same fields: signature, docstring,
parameters, ``__match_args__``, construction from a valid example (defaults, factories,
fields outside ``__init__``, ``__post_init__``), the instance's attributes, ``==``,
``hash``, ``repr``, ``replace``, ``asdict``, copies and pickling, what assignment and
deletion do (the errors of a frozen class), and the errors of bad calls.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import pickle
import subprocess
import sys
import types
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

import emulator.clock
import emulator.emulated_pump
import emulator.emulator
import emulator.fluid_path
import emulator.mri
import emulator.persistence
import emulator.presets
import emulator.transports.base
import firmware_model.alarms
import firmware_model.delivery
import firmware_model.event_log
import firmware_model.forecast
import firmware_model.mri
import firmware_model.nvm
import firmware_model.prescription
import firmware_model.profile
import firmware_model.pump_records
import firmware_model.telemetry
import protocol.battery
import protocol.codec
import protocol.forecast
import protocol.frames
import protocol.frozen
import protocol.messages
import protocol.prescription
import protocol.response
import protocol.schedule
import protocol.session_device
import protocol.units
import protocol.wire
from emulator import link_faults, patient
from protocol import session_rules
from protocol.enums import BolusKind, EventCode, Flags, Mode
from protocol.frozen import compile_shape, frozen, process_fields
from protocol.frozen_shapes import SHAPES

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
    # with a __post_init__ that checks its values (an example of each below)
    emulator.clock.ClockSnapshot,
    emulator.fluid_path.Segment,
    emulator.fluid_path.TipOutput,
    emulator.fluid_path.TipPiece,
    emulator.transports.base.LinkFailure,
    emulator.transports.base.Watch,
    firmware_model.prescription.Bolus,
    firmware_model.prescription.PatientDoseSettings,
    firmware_model.profile.ToneSpec,
    firmware_model.profile.PumpProfile,
    protocol.prescription.PrescriptionSpec,
    # fields outside __init__
    protocol.schedule.Schedule,
    # a __hash__ of its own
    emulator.persistence.StoredState,
    # positional fields (@frozen(kw_only=False))
    protocol.wire.WireField,
    firmware_model.telemetry._Staged,
    firmware_model.telemetry._StagedRefill,
    firmware_model.telemetry._Route,
    link_faults._Chunk,
    patient._Chain,
    patient._Course,
    # with __slots__ (@frozen(slots=True))
    protocol.frames.Frame,
    firmware_model.event_log.LogEntry,
    firmware_model.forecast._Anchor,
    protocol.forecast.Crossing,
    protocol.codec.Rejected,
    protocol.codec.Received,
    protocol.codec.Dropped,
    # eq=False, repr=False
    protocol.messages.Command,
    # not frozen (@mutable)
    firmware_model.alarms.AlarmTable,
    firmware_model.delivery.BridgeState,
    firmware_model.delivery.DeliveryState,
    firmware_model.mri.MriState,
    emulator.emulator._Served,
    emulator.emulated_pump._World,
]

_SPEC = protocol.prescription.PrescriptionSpec.simple(100_000, concentration_ug_per_ml=500)
_SEGMENT = emulator.fluid_path.Segment(volume_nl=2, concentration_ug_per_ml=500)
_ERROR = ValueError("the link went away")  # one object: exceptions compare by identity

# A valid instance of each class whose ``__post_init__`` refuses the generic 0s (or whose
# fields outside ``__init__`` are computed from the others): the example's init fields are
# given to the class and to its twin.
EXAMPLES: dict[type[Any], Callable[[], Any]] = {
    emulator.clock.ClockSnapshot: lambda: emulator.clock.ClockSnapshot(
        mode=emulator.clock.ClockMode.PAUSED, speed=1.0, pump_time_s=3, wall_s=12.5
    ),
    emulator.fluid_path.Segment: lambda: _SEGMENT,
    emulator.fluid_path.TipOutput: lambda: emulator.fluid_path.TipOutput(segments=(_SEGMENT,)),
    emulator.fluid_path.TipPiece: lambda: emulator.fluid_path.TipPiece(
        duration_s=Fraction(7, 2), volume_nl=4, concentration_ug_per_ml=500
    ),
    emulator.transports.base.LinkFailure: lambda: emulator.transports.base.LinkFailure(
        link="/tmp/ttyPUMP0", error=_ERROR, where="read"
    ),
    emulator.transports.base.Watch: lambda: emulator.transports.base.Watch(
        fd=5, events=emulator.transports.base.EVENT_READ, owner="a link"
    ),
    firmware_model.prescription.Bolus: lambda: firmware_model.prescription.Bolus(
        kind=BolusKind.THERAPEUTIC, volume_nl=1_000, duration_s=60, dose_ng=500
    ),
    firmware_model.prescription.PatientDoseSettings: (
        lambda: firmware_model.prescription.PatientDoseSettings(
            enabled=True, dose_ng=50_000, duration_s=60, lockout_s=3_600, max_per_24h=6
        )
    ),
    firmware_model.profile.ToneSpec: lambda: firmware_model.profile.ToneSpec(
        tones=2, duration_s=3, repeat_s=600
    ),
    firmware_model.profile.PumpProfile: lambda: firmware_model.profile.profile_for(20),
    protocol.prescription.PrescriptionSpec: lambda: _SPEC,
    protocol.schedule.Schedule: lambda: protocol.schedule.Schedule(
        mode=Mode.FLEX, days=(((0, 48_000), (360, 96_000)),)
    ),
    emulator.persistence.StoredState: lambda: emulator.persistence.StoredState(
        pump_image=b"image", pump_t=60, saved_wall_s=1.5, clock_speed=1.0, extra={"a": 1}
    ),
    protocol.wire.WireField: lambda: protocol.wire.WireField(
        "dose_ng", protocol.wire.UInt(32), "a dose", protocol.units.Unit.NG
    ),
    firmware_model.telemetry._Staged: lambda: firmware_model.telemetry._Staged(_SPEC, 7),
    protocol.frames.Frame: lambda: protocol.frames.Frame(
        flags=Flags.RESPONSE, seq=9, op=0x10, payload=b"\x01\x02"
    ),
    firmware_model.event_log.LogEntry: lambda: firmware_model.event_log.LogEntry(
        index=4, clock_s=3_600, code=next(iter(EventCode)), a=-1, b=2
    ),
    firmware_model.delivery.DeliveryState: lambda: firmware_model.delivery.DeliveryState(
        estimate_nl=19_000_000,
        reservoir_nl=19_000_000,
        total_filled_nl=20_000_000,
        total_delivered_nl=1_000_000,
    ),
    protocol.messages.Command: lambda: next(iter(protocol.messages.REGISTRY.values())),
}


def _kw_only(cls: type[Any]) -> bool:
    return all(f.kw_only for f in dataclasses.fields(cls))


def _twin(cls: type[Any]) -> type[Any]:
    """``cls``'s fields declared again, with its methods, by ``dataclass`` itself."""
    params = cls.__dataclass_params__
    slots = "__slots__" in cls.__dict__
    made = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__", "__match_args__")
    own_hash = "__hash__" in cls.__dict__ and (
        cls.__hash__ is not None and "_methods.<locals>" not in cls.__hash__.__code__.co_qualname
    )
    namespace: dict[str, Any] = {
        name: value
        for name, value in cls.__dict__.items()
        if name not in ("__dict__", "__weakref__", "__dataclass_fields__", "__dataclass_params__")
        and name not in (*made, "__annotations__", "__parameters__", "__orig_bases__")
        and name not in ("__slots__", "__getstate__", "__setstate__")
        and (name != "__hash__" or own_hash)
    }
    namespace["__annotations__"] = dict(inspect.get_annotations(cls))
    for f in dataclasses.fields(cls):
        namespace[f.name] = dataclasses.field(
            default=f.default,
            default_factory=f.default_factory,
            init=f.init,
            repr=f.repr,
            hash=f.hash,
            compare=f.compare,
            metadata=f.metadata,
        )
    bases = cls.__dict__.get("__orig_bases__", cls.__bases__)
    twin = types.new_class(cls.__name__, bases, exec_body=lambda ns: ns.update(namespace))
    return dataclasses.dataclass(
        frozen=params.frozen,
        eq=params.eq,
        repr=params.repr,
        kw_only=_kw_only(cls),
        slots=slots,
    )(twin)


def _example(cls: type[Any]) -> dict[str, Any]:
    """Values a caller might give: a valid example's (:data:`EXAMPLES`), or 0s (the
    defaults where there are any)."""
    if cls in EXAMPLES:
        instance = EXAMPLES[cls]()
        assert type(instance) is cls
        return {f.name: getattr(instance, f.name) for f in dataclasses.fields(cls) if f.init}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = _value_for(cls, f)
    return values


def _call(cls: type[Any], values: dict[str, Any]) -> Any:
    """``cls`` made from ``values``, given positionally where its fields are positional."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    args = [values[f.name] for f in fields if not f.kw_only and f.name in values]
    return cls(*args, **{f.name: values[f.name] for f in fields if f.kw_only and f.name in values})


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
    assert "__init__" in twin.__dict__
    assert ("__setattr__" in twin.__dict__) is cls.__dataclass_params__.frozen
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    assert cls.__init__.__annotations__ == twin.__init__.__annotations__
    assert cls.__init__.__kwdefaults__ == twin.__init__.__kwdefaults__
    assert cls.__init__.__defaults__ == twin.__init__.__defaults__
    assert repr(cls.__dataclass_params__) == repr(twin.__dataclass_params__)
    assert cls.__match_args__ == twin.__match_args__
    assert cls.__doc__ == twin.__doc__
    assert _field_view(cls) == _field_view(twin)
    try:
        values = _example(cls)
        ours, theirs = _call(cls, values), _call(twin, values)
    except TypeError:
        pytest.fail(f"no example for {cls.__name__}")
    shown = {f.name: getattr(ours, f.name) for f in dataclasses.fields(cls)}
    assert shown == {f.name: getattr(theirs, f.name) for f in dataclasses.fields(twin)}
    assert _attributes(ours) == _attributes(theirs)  # the same set on the instance
    params = cls.__dataclass_params__
    assert _attempt(lambda: hash(ours))[0] == _attempt(lambda: hash(theirs))[0]
    if params.repr:
        assert repr(ours) == repr(theirs)
        assert repr(dataclasses.replace(ours)) == repr(dataclasses.replace(theirs))
    if params.eq:
        assert (
            ours == _call(cls, values)
            and ours != theirs
            and ours.__eq__(object()) is NotImplemented
        )
        assert dataclasses.replace(ours) == ours
        if params.frozen:
            assert hash(ours) == hash(theirs) == hash(_call(cls, values))
        else:  # a mutable dataclass with eq is unhashable, as the dataclass says
            assert _attempt(lambda: hash(ours)) == _attempt(lambda: hash(theirs))
    for method, written in (
        ("__repr__", params.repr),
        ("__eq__", params.eq),
        ("__hash__", params.eq),
    ):
        if not written:  # inherited, as the twin's
            assert getattr(cls, method) is getattr(twin, method)
    assert _attributes(copy.copy(ours)) == _attributes(ours)
    if _attempt(lambda: copy.deepcopy(values)) == ("done", values):
        assert dataclasses.asdict(ours) == dataclasses.asdict(theirs)
        assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
        assert _attributes(copy.deepcopy(ours)) == _attributes(ours)
        if cls.__name__[0] != "_":
            assert _attributes(pickle.loads(pickle.dumps(ours))) == _attributes(ours)
    else:  # an exception, an object without __eq__, a mappingproxy: as the dataclass does
        for deep in (dataclasses.asdict, dataclasses.astuple, copy.deepcopy):
            assert _kind_of(deep, ours) == _kind_of(deep, theirs)
    for name in [*shown, "not_a_field"]:
        mine, twins = _call(cls, values), _call(twin, values)
        assigned = _attempt(lambda: setattr(mine, name, 0))  # noqa: B023 - called at once
        assert assigned == _attempt(lambda: setattr(twins, name, 0))  # noqa: B023
        deleted = _attempt(lambda: delattr(mine, name))  # noqa: B023
        assert deleted == _attempt(lambda: delattr(twins, name))  # noqa: B023
        if cls.__dataclass_params__.frozen and name in shown:
            assert assigned == ("FrozenInstanceError", f"cannot assign to field {name!r}")
            assert deleted == ("FrozenInstanceError", f"cannot delete field {name!r}")
    init_fields = [f.name for f in dataclasses.fields(cls) if f.init]
    bad_calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1,) * (len(init_fields) + 1), {}),
        ((), {**values, "extra": 1}),
        ((), {}),
    ]
    if init_fields:
        bad_calls.append(((), {k: v for k, v in values.items() if k != init_fields[0]}))
    for args, kwargs in bad_calls:
        assert _outcome(cls, args, kwargs) == _outcome(twin, args, kwargs)


def _field_view(cls: type[Any]) -> list[tuple[Any, ...]]:
    """What ``dataclass`` records of each field (``__dataclass_fields__``, ClassVars too),
    and the class attribute each field leaves (its default, or none)."""
    return [
        (
            *(getattr(f, name) for name in ("name", "type", "default", "default_factory")),
            *(getattr(f, name) for name in ("init", "repr", "hash", "compare", "kw_only")),
            dict(f.metadata),
            f._field_type.name,
            _class_attribute(cls, f.name),
        )
        for f in cls.__dataclass_fields__.values()
    ]


def _class_attribute(cls: type[Any], name: str) -> Any:
    value = cls.__dict__.get(name, "no class attribute")
    return "a slot" if isinstance(value, types.MemberDescriptorType) else value


def _dataclass(cls: type[Any], *, kw_only: bool) -> type[Any]:
    return dataclasses.dataclass(cls, init=False, repr=False, eq=False, kw_only=kw_only)


def _declaring(process: Callable[..., Any], namespace: dict[str, Any]) -> Callable[[], Any]:
    return lambda: process(type("Bad", (), {"__module__": __name__, **namespace}), kw_only=True)


def _attributes(instance: Any) -> dict[str, Any]:
    """What is set on ``instance``: its ``__dict__``, or its slots that hold a value."""
    if hasattr(instance, "__dict__"):
        return {"__dict__": vars(instance)}
    names = [n for c in type(instance).__mro__ for n in c.__dict__.get("__slots__", ())]
    return {name: getattr(instance, name) for name in names if hasattr(instance, name)}


def _attempt(action: Callable[[], Any]) -> tuple[str, Any]:
    """What ``action`` returns, or the type and text of what it raises."""
    try:
        return ("done", action())
    except Exception as error:  # any error, compared with the twin's
        return (type(error).__name__, str(error))


def _kind_of(deep: Callable[[Any], Any], instance: Any) -> tuple[str, Any]:
    """The name of the type ``deep(instance)`` returns, or what it raises."""
    return _attempt(lambda: type(deep(instance)).__name__)


def _outcome(cls: type[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """What calling ``cls`` does: the error's type and text, or the repr of what it made."""
    try:
        return ("made", repr(cls(*args, **kwargs)))
    except Exception as error:  # any error, compared with the twin's
        return (type(error).__name__, str(error))


def _pair(namespace: dict[str, Any], *, kw_only: bool = True) -> tuple[type[Any], type[Any]]:
    ours: type[Any] = frozen(kw_only=kw_only)(
        type("Shape", (), {"__module__": __name__, **namespace})
    )
    theirs: type[Any] = dataclasses.dataclass(frozen=True, kw_only=kw_only)(
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


def test_a_class_with_its_own_methods_or_an_initvar_is_refused() -> None:
    for method in ("__eq__", "__repr__", "__init__", "__setattr__", "__delattr__"):
        own = {"__annotations__": {"a": "int"}, method: lambda *args: None}
        with pytest.raises(TypeError, match=f"defines {method}"):
            frozen(type("Own", (), own))
    initvar = {"__annotations__": {"a": "int", "b": dataclasses.InitVar[int]}}
    with pytest.raises(TypeError, match="InitVar"):
        frozen(type("WithInitVar", (), initvar))


def test_fields_outside_init_are_set_as_dataclass_sets_them() -> None:
    """A default stays the class's (not set on the instance), a factory's value is set,
    a field without either is left for ``__post_init__``."""

    def post_init(self: Any) -> None:
        object.__setattr__(self, "later", self.a * 2)

    def namespace() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "d": "int", "f": "list[int]", "later": "int"},
            "d": dataclasses.field(default=5, init=False),
            "f": dataclasses.field(default_factory=list, init=False, compare=False),
            "later": dataclasses.field(init=False, repr=False),
            "__post_init__": post_init,
        }

    for kw_only in (True, False):
        ours, theirs = _pair(namespace(), kw_only=kw_only)
        assert str(inspect.signature(ours)) == str(inspect.signature(theirs))
        made, made_twin = ours(a=3), theirs(a=3)
        assert vars(made) == vars(made_twin) == {"a": 3, "f": [], "later": 6}
        assert repr(made) == repr(made_twin) == "Shape(a=3, d=5, f=[])"
        assert made.d == 5 and ours.__match_args__ == theirs.__match_args__


def test_positional_fields_are_the_dataclass_ones() -> None:
    def namespace() -> dict[str, Any]:
        return {
            "__annotations__": {"a": "int", "b": "int", "k": "dataclasses.KW_ONLY", "c": "int"},
            "b": 2,
        }

    ours, theirs = _pair(namespace(), kw_only=False)
    assert (
        str(inspect.signature(ours))
        == str(inspect.signature(theirs))
        == "(a: 'int', b: 'int' = 2, *, c: 'int') -> None"
    )
    assert ours.__match_args__ == theirs.__match_args__ == ("a", "b")
    assert repr(ours(1, c=3)) == repr(theirs(1, c=3)) == "Shape(a=1, b=2, c=3)"
    assert ours(1, 2, c=3) == ours(a=1, b=2, c=3)
    for args, kwargs in [((1, 2, 3), {}), ((1,), {}), ((1,), {"a": 1, "c": 3}), ((), {"c": 3})]:
        assert _outcome(ours, args, kwargs) == _outcome(theirs, args, kwargs)
    late = {"__annotations__": {"a": "int", "b": "int"}, "a": 1}
    with pytest.raises(TypeError) as our_error:
        frozen(kw_only=False)(type("Late", (), late))
    with pytest.raises(TypeError) as their_error:
        dataclasses.dataclass(frozen=True)(type("Late", (), dict(late)))
    assert str(our_error.value) == str(their_error.value)


def test_an_own_hash_is_kept_as_dataclass_keeps_it() -> None:
    def namespace() -> dict[str, Any]:
        return {"__annotations__": {"a": "int"}, "__hash__": lambda self: 42}

    ours, theirs = _pair(namespace())
    assert hash(ours(a=1)) == hash(theirs(a=1)) == 42
    assert ours(a=1) == ours(a=1) and ours(a=1) != ours(a=2)


def test_classes_of_one_shape_share_their_init_code_under_their_own_names() -> None:
    # Classes made by type() at run time: mypy cannot know their fields, hence type[Any].
    first: type[Any] = frozen(
        type("First", (), {"__annotations__": {"a": "int", "b": "str"}, "b": ""})
    )
    second: type[Any] = frozen(
        type("Second", (), {"__annotations__": {"x": "int", "y": "str"}, "y": ""})
    )
    assert first.__init__.__code__.co_code == second.__init__.__code__.co_code
    assert first.__init__.__code__.co_varnames[1:] == ("a", "b")
    assert second.__init__.__code__.co_varnames[1:] == ("x", "y")
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'x'"):
        second()
    assert repr(second(x=1)) == "Second(x=1, y='')"


_CODE_ATTRIBUTES = (
    "co_code",
    "co_consts",
    "co_names",
    "co_varnames",
    "co_freevars",
    "co_cellvars",
    "co_argcount",
    "co_posonlyargcount",
    "co_kwonlyargcount",
    "co_flags",
    "co_nlocals",
    "co_stacksize",
    "co_exceptiontable",
    "co_linetable",
    "co_name",
    "co_qualname",
)


@pytest.mark.parametrize("key", list(SHAPES), ids=str)
def test_a_precompiled_shape_is_what_compiling_it_gives(key: Any) -> None:
    """Only the file and first line differ (``protocol/frozen_shapes.py`` against
    ``<frozen __init__>``)."""
    precompiled = next(c for c in SHAPES[key].__code__.co_consts if isinstance(c, types.CodeType))
    compiled = compile_shape(*key)
    for attribute in _CODE_ATTRIBUTES:
        assert getattr(precompiled, attribute) == getattr(compiled, attribute), attribute


def test_serve_compiles_no_shape_at_start() -> None:
    """Every shape the serve command's modules need is in ``protocol/frozen_shapes.py``
    (if this fails: ``python scripts/frozen_shapes.py`` rewrites it)."""
    probe = (
        "import emulator.cli, protocol.frozen as f, sys; "
        "sys.stdout.write(repr(f.compiled_at_run_time()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout == "[]"


def test_fields_are_processed_as_dataclass_processes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``process_fields`` (what ``frozen``, ``mutable`` and ``record`` use) against
    ``dataclass(init=False, repr=False, eq=False)``: inherited and overridden fields,
    ``field()`` defaults and factories (their class attributes), metadata, ``kw_only`` per
    field, an undocumented class (all without ``dataclass``); a ClassVar (which it gives
    to ``dataclass``), and the errors ``dataclass`` raises."""

    def namespace(*, classvar: bool) -> dict[str, Any]:
        annotations = {"b": "int", "c": "list[int]", "d": "str"}
        return {
            "__module__": __name__,
            "__annotations__": {**annotations, **({"e": "ClassVar[int]"} if classvar else {})},
            "b": 3,
            "c": dataclasses.field(default_factory=list, metadata={"unit": "nL"}),
            "d": dataclasses.field(default="x", repr=False, kw_only=False),
            "e": 9,
        }

    base_namespace = {"__module__": __name__, "__annotations__": {"a": "int", "b": "str"}}
    real_dataclass = dataclasses.dataclass
    for kw_only, classvar in itertools.product((True, False), (False, True)):
        made = []
        for process in (process_fields, _dataclass):
            if process is process_fields and not classvar and protocol.frozen._REPLICA:
                monkeypatch.setattr(dataclasses, "dataclass", None)  # not called
            base = process(type("Base", (), dict(base_namespace)), kw_only=kw_only)
            child = process(type("Child", (base,), namespace(classvar=classvar)), kw_only=kw_only)
            made.append((base, child))
            monkeypatch.setattr(dataclasses, "dataclass", real_dataclass)
        (our_base, ours), (their_base, theirs) = made
        for mine, twin in ((our_base, their_base), (ours, theirs)):
            assert _field_view(mine) == _field_view(twin)
            assert mine.__match_args__ == twin.__match_args__
            assert mine.__doc__ == twin.__doc__
            assert repr(mine.__dataclass_params__) == repr(twin.__dataclass_params__)
            assert set(vars(mine)) == set(vars(twin))  # the same class attributes, and:
            skip = ("__dataclass_fields__", "__dataclass_params__", "__dict__", "__weakref__")
            for name in set(vars(mine)) - set(skip):
                assert vars(mine)[name] == vars(twin)[name], name
    for bad in (
        {"__annotations__": {"a": "list[int]"}, "a": []},  # a mutable default
        {"__annotations__": {}, "a": dataclasses.field(default=1)},  # no annotation
    ):
        outcomes = [_attempt(_declaring(process, bad)) for process in (process_fields, _dataclass)]
        assert outcomes[0] == outcomes[1] and outcomes[0][0] in ("ValueError", "TypeError")
