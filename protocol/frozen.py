"""Dataclasses made at a fraction of the cost of defining them.

``@dataclass(frozen=True, kw_only=True)`` writes the source of ``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` for each class and compiles
each: on Python 3.11 that parsing was a quarter of the instructions ``pump-emulator
serve`` spent starting (#16). Here (:func:`frozen`, :func:`mutable`, and
:func:`protocol.wire.record` for messages):

- the fields are processed as ``dataclass`` processes them (:func:`process_fields`,
  which gives ``dataclass`` itself any class it does not handle: a ClassVar, InitVar or
  KW_ONLY that might be meant, a non-string annotation, ``__slots__`` to make ...);
- ``__eq__``, ``__hash__``, ``__repr__``, ``__setattr__`` and ``__delattr__`` are closures
  over the class's fields, nothing compiled;
- ``__init__``'s code is made once per shape: the kinds of the fields (in ``__init__`` or
  not, keyword-only or positional, given or made by a factory), whatever they are called
  and whatever their defaults (those are the function's, not its code's); each class gets
  that code with its parameters renamed to its fields' names. The shapes the project uses
  are compiled ahead, into :mod:`protocol.frozen_shapes` (``scripts/frozen_shapes.py``
  writes it), so a start compiles none.

``tests/protocol/test_frozen.py`` proves each class the project declares so equal to the
dataclass it stands for (a twin declared with ``dataclass``): fields, signature,
docstring, ``__match_args__``, construction, ``==``, ``hash``, ``repr``, ``replace``,
``asdict``, copies, pickling, assignment and the errors of bad calls.

Supported is what the project declares: keyword-only or positional fields, plain, with a
default or a ``default_factory``, in ``__init__`` or not (``field(init=False)``);
``__post_init__``; a ``__hash__`` of the class's own (kept, as ``dataclass`` keeps it);
``slots``, ``eq`` and ``repr`` as ``dataclass`` takes them. Refused with a TypeError: an
``__eq__``, ``__repr__``, ``__init__``, ``__setattr__`` or ``__delattr__`` of the class's
own where one is written here, and ``InitVar`` pseudo-fields. (No ``order`` or
``unsafe_hash``: such a class stays a ``dataclass``.)
"""

from __future__ import annotations

import abc
import dataclasses
import operator
import reprlib
import sys
import typing
from collections.abc import Callable
from types import CellType, CodeType, FunctionType, MemberDescriptorType
from typing import Any, ClassVar, TypeVar, dataclass_transform, overload

from protocol.frozen_shapes import SHAPES

__all__ = [
    "compile_shape",
    "compiled_at_run_time",
    "dataclass_init",
    "frozen",
    "mutable",
    "process_fields",
    "shapes_module",
    "thawed_bases",
]

_T = TypeVar("_T")
_MISSING: Any = dataclasses.MISSING
_OWN = ("__init__", "__repr__", "__eq__", "__setattr__", "__delattr__")

# The code of ``__init__`` by shape (see :func:`_shape_source`): the classes of one shape
# share one compilation, their parameters renamed to their fields' names.
_INIT_CODE: dict[tuple[tuple[tuple[bool, bool, str], ...], bool], CodeType] = {}
"""The code by shape, of every shape asked for since the process started."""
_INITVAR: Any = getattr(dataclasses, "_FIELD_INITVAR")  # noqa: B009 - private to dataclasses


_HAS_FACTORY: Any = getattr(dataclasses, "_HAS_DEFAULT_FACTORY")  # noqa: B009 - its own sentinel
_SELF = "__frozen_self__"


def _shape_source(shape: tuple[tuple[bool, bool, str], ...], post_init: bool) -> str:
    """The text of a factory returning ``__init__`` for one shape: per field whether it is
    an init field, whether keyword-only, and how it is set: ``"given"`` (the argument),
    ``"factory"`` (the argument, or the factory's value where none was given), and for a
    field outside ``__init__`` ``"default"`` (its default), ``"factory"`` (the factory's
    value) or ``"unset"`` (not at all: the class holds its default, or ``__post_init__``
    sets it). Defaults are the function's (``__defaults__``, ``__kwdefaults__``), not its
    code's. Field ``i`` is the parameter ``__frozen_p{i}__`` (renamed to the field's name
    per class), its name the free variable ``__frozen_n{i}__``."""
    positional: list[str] = []
    keyword: list[str] = []
    free = ["__frozen_set__"]
    lines: list[str] = []
    for i, (init, kw_only, kind) in enumerate(shape):
        param, name = f"__frozen_p{i}__", f"__frozen_n{i}__"
        default, factory = f"__frozen_d{i}__", f"__frozen_f{i}__"
        if kind == "unset":
            continue
        free.append(name)
        if kind == "default":
            free.append(default)
        elif kind == "factory":
            free.extend([default, factory])
        if not init:
            value = f"{factory}()" if kind == "factory" else default
            lines.append(f"__frozen_set__({_SELF}, {name}, {value})")
            continue
        (keyword if kw_only else positional).append(param)
        if kind == "factory":
            lines.append(f"if {param} is {default}: {param} = {factory}()")
        lines.append(f"__frozen_set__({_SELF}, {name}, {param})")
    if post_init:
        lines.append(f"{_SELF}.__post_init__()")
    params = ", ".join([_SELF, *positional, *(["*", *keyword] if keyword else [])])
    body = "".join(f"        {line}\n" for line in lines or ["pass"])
    head = f"def __create_fn__({', '.join(free)}):\n    def __init__({params}):\n"
    return f"{head}{body}    return __init__\n"


_Shape = tuple[tuple[tuple[bool, bool, str], ...], bool]

# Shapes compiled here since the process started: those protocol.frozen_shapes lacks.
_COMPILED: list[_Shape] = []


def compile_shape(shape: tuple[tuple[bool, bool, str], ...], post_init: bool) -> CodeType:
    """The code of ``__init__`` for one shape, compiled from :func:`_shape_source`."""
    factory = compile(_shape_source(shape, post_init), "<frozen __init__>", "exec").co_consts[0]
    return next(c for c in factory.co_consts if isinstance(c, CodeType))


def _template(shape: tuple[tuple[bool, bool, str], ...], post_init: bool) -> CodeType:
    """The code of ``__init__`` for one shape: from :mod:`protocol.frozen_shapes` (in its
    bytecode cache) where it is there, else compiled the first time it is asked for."""
    key = (shape, post_init)
    code = _INIT_CODE.get(key)
    if code is None:
        factory = SHAPES.get(key)
        if factory is not None:
            code = next(c for c in factory.__code__.co_consts if isinstance(c, CodeType))
        else:
            code = compile_shape(shape, post_init)
            _COMPILED.append(key)
        _INIT_CODE[key] = code
    return code


def compiled_at_run_time() -> list[_Shape]:
    """The shapes this process compiled because :mod:`protocol.frozen_shapes` lacks them."""
    return list(_COMPILED)


def shapes_module() -> str:
    """The text of :mod:`protocol.frozen_shapes` holding every shape this process used."""
    parts = [_SHAPES_HEADER]
    for shape, post_init in sorted(_INIT_CODE):
        parts.append(_shape_source(shape, post_init))
        parts.append(f"SHAPES[{(shape, post_init)!r}] = __create_fn__\n")
    return "\n".join(parts)


_SHAPES_HEADER = '''"""The code of :mod:`protocol.frozen`'s ``__init__`` for each shape the
project's classes have, compiled into this module's bytecode cache instead of at every
start (#16).

Generated by ``python scripts/frozen_shapes.py``: do not edit. A shape missing here is
compiled when first asked for, so a stale file costs start-up time, never a wrong
``__init__``; ``tests/protocol/test_frozen.py`` proves each entry is what compiling its
shape gives, and that ``pump-emulator serve`` finds every shape it needs here.
"""
# mypy: ignore-errors
# ruff: noqa
# fmt: off

from __future__ import annotations

from typing import Any

SHAPES: dict[Any, Any] = {}
'''


def dataclass_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` ``dataclass(frozen=True)`` would generate for the processed ``cls``
    (the init fields as parameters, positional ones first and keyword-only ones after,
    as each field says; every field set with ``object.__setattr__`` in field order, a
    field outside ``__init__`` from its factory, or from its default where the class has
    ``__slots__``; then ``__post_init__`` where the class has one). Its code is compiled
    once per shape, whatever the fields are called."""
    if any(f._field_type is _INITVAR for f in cls.__dataclass_fields__.values()):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: InitVar pseudo-fields are not supported")
    fields = dataclasses.fields(cls)
    slots = "__slots__" in cls.__dict__
    shape: list[tuple[bool, bool, str]] = []
    values: dict[str, Any] = {"__frozen_set__": object.__setattr__}
    renamed: dict[str, str] = {}
    defaults: list[Any] = []
    kwdefaults: dict[str, Any] = {}
    for i, f in enumerate(fields):
        if f.name.startswith("__frozen_"):
            raise TypeError(f"{cls.__name__}.{f.name}: a name protocol.frozen uses itself")
        values[f"__frozen_n{i}__"] = f.name
        renamed[f"__frozen_p{i}__"] = f.name
        if f.default is not _MISSING:
            kind, default = "default", f.default
        elif f.default_factory is not _MISSING:
            kind, default = "factory", _HAS_FACTORY
            values[f"__frozen_f{i}__"] = f.default_factory
        else:
            kind, default = "unset", _MISSING
        values[f"__frozen_d{i}__"] = default
        if not f.init:
            if kind == "default" and not slots:
                kind = "unset"  # the class attribute holds it, as with dataclass
        else:
            if kind != "factory":
                kind = "given"
            if not f.kw_only:
                if default is not _MISSING:
                    defaults.append(default)
                elif defaults:
                    raise TypeError(f"non-default argument {f.name!r} follows default argument")
            elif default is not _MISSING:
                kwdefaults[f.name] = default
        shape.append((f.init, f.kw_only is True, kind))
    template = _template(tuple(shape), hasattr(cls, "__post_init__"))
    code = template.replace(co_varnames=tuple(renamed.get(n, n) for n in template.co_varnames))
    closure = tuple(CellType(values[name]) for name in code.co_freevars)
    init: Callable[..., None] = FunctionType(code, {}, "__init__", tuple(defaults) or None, closure)
    init.__kwdefaults__ = kwdefaults or None
    init.__module__ = cls.__module__
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in fields if f.init} | {"return": None}
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


_FIELD: Any = getattr(dataclasses, "_FIELD")  # noqa: B009 - the kind of a real field
_PARAMS: Any = getattr(dataclasses, "_DataclassParams")  # noqa: B009
_IDENTIFIER: Any = getattr(dataclasses, "_MODULE_IDENTIFIER_RE")  # noqa: B009
_REPLICA = sys.version_info[:2] == (3, 11)
"""Whether this Python's ``dataclass`` processes fields as :func:`process_fields` does
(3.11's, which it was written and proven against); on any other ``dataclass`` does it."""


def _may_be_special(value: Any) -> bool:
    """Whether ``dataclass`` might take an annotation naming ``value`` for a ``ClassVar``,
    an ``InitVar`` or ``KW_ONLY`` (erring on yes)."""
    return (
        value is ClassVar
        or getattr(value, "__origin__", None) is ClassVar
        or value is dataclasses.InitVar
        or isinstance(value, dataclasses.InitVar)
        or value is dataclasses.KW_ONLY
    )


def process_fields(
    cls: type[_T], *, kw_only: bool, slots: bool = False, document: bool = True
) -> type[_T]:
    """What ``dataclass(cls, init=False, repr=False, eq=False, frozen=False, kw_only=...,
    slots=...)`` does with the frozen dataclass bases of ``cls`` thawed (fields, class
    attributes, ``__dataclass_fields__``, ``__dataclass_params__``, ``__match_args__``,
    docstring, abstract methods), done here where the class is plain: every annotation a
    string (``from __future__ import annotations``) naming nothing in its module that
    could make it a ``ClassVar``, ``InitVar`` or ``KW_ONLY``, no mutable default, no
    field without an annotation, no ``__slots__`` to make, and a docstring or none. That
    skips ``dataclass``'s three look-ups of each annotation (a regular expression and
    the module's namespace each), which were most of what a record cost to define (#16).
    Any other class is given to ``dataclass`` itself. ``document=False`` leaves out the
    docstring ``dataclass`` would write for a class without one (its signature so far),
    for a caller that writes it once it has given the class its ``__init__``."""
    module = sys.modules.get(cls.__module__)
    annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - dataclass's
    plain = _REPLICA and module is not None and not slots and cls.__dict__.get("__doc__") != ""
    fields: list[dataclasses.Field[Any]] = []
    if plain:
        namespace = module.__dict__  # type: ignore[union-attr]
        for name, annotation in annotations.items():
            if type(annotation) is not str:
                plain = False
                break
            match = _IDENTIFIER.match(annotation)
            if match is not None and (
                namespace.get(match[1]) in (typing, dataclasses)  # "typing.ClassVar[...]"
                if match[1]
                else _may_be_special(namespace.get(match[2]))  # "ClassVar[...]"
            ):
                plain = False
                break
            default = getattr(cls, name, _MISSING)
            if isinstance(default, dataclasses.Field):
                f = default
            else:
                if isinstance(default, MemberDescriptorType):
                    default = _MISSING
                f = dataclasses.field(default=default)
            if f.default.__class__.__hash__ is None:  # a mutable default: dataclass says so
                plain = False
                break
            fields.append(f)
        plain = plain and not any(
            isinstance(value, dataclasses.Field) and name not in annotations
            for name, value in cls.__dict__.items()
        )
    if not plain:
        with thawed_bases(cls):
            return dataclasses.dataclass(
                cls, init=False, repr=False, eq=False, frozen=False, kw_only=kw_only, slots=slots
            )
    all_fields: dict[str, dataclasses.Field[Any]] = {}
    setattr(cls, "__dataclass_params__", _PARAMS(False, False, False, False, False, False))  # noqa: B010
    for base in cls.__mro__[-1:0:-1]:
        base_fields = getattr(base, "__dataclass_fields__", None)
        if base_fields is not None:
            all_fields.update(base_fields)
    for f, name in zip(fields, annotations, strict=True):
        f.name = name
        f.type = annotations[name]
        f._field_type = _FIELD  # type: ignore[attr-defined]
        if f.kw_only is _MISSING:
            f.kw_only = kw_only
        all_fields[name] = f
        if isinstance(getattr(cls, name, None), dataclasses.Field):
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    setattr(cls, "__dataclass_fields__", all_fields)  # noqa: B010
    if document and not getattr(cls, "__doc__"):  # noqa: B009 - as dataclass writes it
        import inspect  # noqa: PLC0415 - imported by dataclasses already

        try:
            signature = str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            signature = ""
        cls.__doc__ = cls.__name__ + signature
    if "__match_args__" not in cls.__dict__:
        cls.__match_args__ = tuple(  # type: ignore[attr-defined]
            f.name
            for f in all_fields.values()
            if f._field_type in (_FIELD, _INITVAR) and f.init and not f.kw_only  # type: ignore[attr-defined]
        )
    abc.update_abstractmethods(cls)
    return cls


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function of an instance returning the tuple of its ``names`` attributes."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if len(names) == 1:
        get_one = operator.attrgetter(names[0])
        return lambda obj: (get_one(obj),)
    return lambda obj: ()


def _methods(cls: type[Any], *, declared: type[Any]) -> dict[str, Any]:
    """``__eq__``, ``__hash__``, ``__repr__``, ``__setattr__`` and ``__delattr__`` as
    ``dataclass`` writes them for ``cls``; ``declared`` is the class as declared, which
    the frozen ``__setattr__`` compares with (``cls`` itself, or the class it replaced
    where ``dataclass`` made a new one with ``__slots__``, as ``dataclass`` does)."""
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
        if type(self) is declared or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(declared, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:  # noqa: N807
        if type(self) is declared or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(declared, self).__delattr__(name)

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


@overload
def frozen(cls: type[_T], /) -> type[_T]: ...


@overload
def frozen(
    *, kw_only: bool = True, slots: bool = False, eq: bool = True, repr: bool = True
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(kw_only_default=True, frozen_default=True)
def frozen(
    cls: type[_T] | None = None,
    /,
    *,
    kw_only: bool = True,
    slots: bool = False,
    eq: bool = True,
    repr: bool = True,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """What ``@dataclass(frozen=True, kw_only=True)`` makes of ``cls`` (``@frozen``), or
    with the options given (``@frozen(kw_only=False)``: positional fields, in
    ``__match_args__``; ``slots``, ``eq`` and ``repr`` as ``dataclass`` takes them), made
    cheaply (see the module's text): the same fields, ``__init__``, ``==``, ``hash`` (the
    class's own where it has one, as ``dataclass`` keeps it), ``repr``,
    :exc:`dataclasses.FrozenInstanceError` on assignment, pickling state with ``slots``,
    and ``__dataclass_params__``."""

    def make(cls: type[_T]) -> type[_T]:
        return _make(cls, frozen=True, kw_only=kw_only, slots=slots, eq=eq, repr=repr)

    return make if cls is None else make(cls)


@overload
def mutable(cls: type[_T], /) -> type[_T]: ...


@overload
def mutable(*, kw_only: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(kw_only_default=True)
def mutable(
    cls: type[_T] | None = None, /, *, kw_only: bool = True
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """What ``@dataclass(kw_only=True)`` makes of ``cls`` (``@mutable``), or
    ``@dataclass`` (``@mutable(kw_only=False)``), made cheaply: the same fields,
    ``__init__`` (setting each field with ``setattr``, as ``self.name = value`` does),
    ``==``, ``repr``, ``__hash__`` None (or the class's own) and ``__dataclass_params__``."""

    def make(cls: type[_T]) -> type[_T]:
        return _make(cls, frozen=False, kw_only=kw_only, slots=False, eq=True, repr=True)

    return make if cls is None else make(cls)


def _make(
    cls: type[_T], *, frozen: bool, kw_only: bool, slots: bool, eq: bool, repr: bool
) -> type[_T]:
    written = {"__init__"} | ({"__eq__"} if eq else set()) | ({"__repr__"} if repr else set())
    written |= {"__setattr__", "__delattr__"} if frozen else set()
    own = [name for name in _OWN if name in written and name in cls.__dict__]
    if own:
        raise TypeError(f"{cls.__name__} defines {', '.join(own)}: use dataclass")
    own_hash = "__hash__" in cls.__dict__  # kept, as dataclass keeps it (no own __eq__ here)
    documented = cls.__dict__.get("__doc__") is not None
    processed = process_fields(cls, kw_only=kw_only, slots=slots, document=documented)
    params = processed.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = True, repr, eq, frozen
    processed.__init__ = dataclass_init(processed)  # type: ignore[method-assign]
    methods = _methods(processed, declared=cls)
    if frozen:
        processed.__setattr__ = methods["__setattr__"]  # type: ignore[method-assign]
        processed.__delattr__ = methods["__delattr__"]  # type: ignore[method-assign]
    if repr:
        processed.__repr__ = methods["__repr__"]  # type: ignore[method-assign]
    if eq:
        processed.__eq__ = methods["__eq__"]  # type: ignore[method-assign]
        if not own_hash:  # dataclass's hash: of the fields if frozen, else none
            processed.__hash__ = methods["__hash__"] if frozen else None  # type: ignore[method-assign, assignment]
    if slots and frozen:  # what dataclass gives a frozen class with __slots__ for pickling
        for name in ("__getstate__", "__setstate__"):
            if name not in cls.__dict__:
                setattr(processed, name, getattr(dataclasses, f"_dataclass_{name[2:-2]}"))
    if not documented:
        document(processed)
    return processed


def document(cls: type) -> None:
    """The docstring ``dataclass`` gives a class without one: its name and signature."""
    import inspect  # noqa: PLC0415 - imported by dataclasses already

    cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
