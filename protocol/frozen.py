"""Frozen, keyword-only dataclasses made at a fraction of the cost of defining them.

``@dataclass(frozen=True, kw_only=True)`` writes the source of ``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` for each class and compiles
each: on Python 3.11 that parsing was a quarter of the instructions ``pump-emulator
serve`` spent starting (#16). :func:`frozen` processes the fields with ``dataclass`` and
nothing generated, gives the class those methods as closures over its fields, and
compiles ``__init__`` once per shape (the same field names and kinds of default).
``tests/protocol/test_frozen.py`` proves each one equal to the dataclass's.

What it supports is what the project declares: every field an init field (plain, with a
default or a ``default_factory``), no ``__eq__``, ``__hash__``, ``__repr__``,
``__init__``, ``__setattr__`` or ``__delattr__`` of the class's own (a TypeError says
so), ``__post_init__`` called when the class has one.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from types import CodeType
from typing import Any, TypeVar, dataclass_transform

__all__ = ["dataclass_init", "frozen", "thawed_bases"]

_T = TypeVar("_T")
_MISSING: Any = dataclasses.MISSING
_OWN = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")

# Compiled ``__init__`` factories by source text: classes of one shape share one compilation.
_INIT_CODE: dict[str, CodeType] = {}


class _HasFactory:
    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _HasFactory()


def dataclass_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` ``dataclass(frozen=True, kw_only=True)`` would generate for ``cls``
    (keyword-only parameters in field order, each set with ``object.__setattr__``, then
    ``__post_init__`` where the class has one), compiled once per shape."""
    params: list[str] = []
    lines: list[str] = []
    closure: dict[str, Any] = {}
    fields = dataclasses.fields(cls)
    for index, f in enumerate(fields):
        if not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: every field must be an init field")
        if f.default is not _MISSING:
            params.append(f"{f.name}=__dflt_{index}__")
            closure[f"__dflt_{index}__"] = f.default
        elif f.default_factory is not _MISSING:
            params.append(f"{f.name}=__dflt_{index}__")
            closure[f"__dflt_{index}__"] = _HAS_FACTORY
            closure[f"__factory_{index}__"] = f.default_factory
            lines.append(f"  if {f.name} is __dflt_{index}__: {f.name} = __factory_{index}__()")
        else:
            params.append(f.name)
        lines.append(f"  __frozen_set__(__frozen_self__, {f.name!r}, {f.name})")
    if hasattr(cls, "__post_init__"):
        lines.append("  __frozen_self__.__post_init__()")
    if not lines:
        lines.append("  pass")
    names = ", ".join(["__frozen_set__", *closure])
    star = ", *, " if params else ""
    source = (
        f"def __create_fn__({names}):\n"
        f" def __init__(__frozen_self__{star}{', '.join(params)}):\n"
        + "\n".join(" " + line for line in lines)
        + "\n return __init__"
    )
    code = _INIT_CODE.get(source)
    if code is None:
        code = _INIT_CODE[source] = compile(source, "<frozen __init__>", "exec")
    namespace: dict[str, Any] = {}
    exec(code, {}, namespace)  # our own text, compiled above
    init: Callable[..., None] = namespace["__create_fn__"](object.__setattr__, **closure)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    return init


class thawed_bases:  # noqa: N801 - a context manager used like a function
    """While open, the frozen dataclass bases of ``cls`` say they are not frozen, so
    ``dataclass(frozen=False)`` accepts ``cls``; they say frozen again when it closes."""

    def __init__(self, cls: type) -> None:
        self.params = [
            params
            for base in cls.__mro__[1:]
            if (params := base.__dict__.get("__dataclass_params__")) is not None and params.frozen
        ]

    def __enter__(self) -> None:
        for params in self.params:
            params.frozen = False

    def __exit__(self, *exc: object) -> None:
        for params in self.params:
            params.frozen = True


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function of an instance returning the tuple of its ``names`` attributes."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda obj: (get_one(obj),)
    return lambda obj: ()


def _methods(cls: type[Any]) -> dict[str, Any]:
    fields = dataclasses.fields(cls)
    compared = _tuple_of(tuple(f.name for f in fields if f.compare))
    hashed = _tuple_of(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    shown = tuple(f.name for f in fields if f.repr)
    field_names = frozenset(f.name for f in fields)

    def __eq__(self: Any, other: object) -> bool:  # noqa: N807 - the method itself
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:  # noqa: N807
        return hash(hashed(self))

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:  # noqa: N807
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    def __setattr__(self: Any, name: str, value: Any) -> None:  # noqa: N807
        if type(self) is cls or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:  # noqa: N807
        if type(self) is cls or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    methods = {
        "__eq__": __eq__,
        "__hash__": __hash__,
        "__repr__": __repr__,
        "__setattr__": __setattr__,
        "__delattr__": __delattr__,
    }
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
    return methods


@dataclass_transform(kw_only_default=True, frozen_default=True)
def frozen(cls: type[_T]) -> type[_T]:
    """What ``@dataclass(frozen=True, kw_only=True)`` makes of ``cls``, made cheaply (see
    the module's text): the same fields, ``__init__``, ``==``, ``hash``, ``repr``,
    :exc:`dataclasses.FrozenInstanceError` on assignment and ``__dataclass_params__``."""
    own = [name for name in _OWN if name in cls.__dict__]
    if own:
        raise TypeError(f"{cls.__name__} defines {', '.join(own)}: use dataclass")
    documented = cls.__dict__.get("__doc__") is not None
    with thawed_bases(cls):
        processed = dataclasses.dataclass(
            cls, init=False, repr=False, eq=False, frozen=False, kw_only=True
        )
    params = processed.__dataclass_params__  # type: ignore[attr-defined]
    params.init = params.repr = params.eq = params.frozen = True
    processed.__init__ = dataclass_init(processed)  # type: ignore[method-assign]
    for name, method in _methods(processed).items():
        setattr(processed, name, method)
    if not documented:
        document(processed)
    return processed


def document(cls: type) -> None:
    """The docstring ``dataclass`` gives a class without one: its name and signature."""
    import inspect  # noqa: PLC0415 - imported by dataclasses already

    cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
