"""YAML with positions: the data of a scenario file and the line of every value and key.

PyYAML's safe loader builds plain data and forgets where it came from; the
loader here composes the node tree and builds the same data while noting
the line and column of each value (and of each mapping key) under its path
(``("steps", 3, "refill", "added")``), so every later complaint, from the
JSON Schema or from the unit parser, can name the line. It also refuses
duplicate keys (which PyYAML silently lets the last one win) and keeps dates
and times of day (``22:00``, which YAML 1.1 reads as the integer 1320) as
text: the scenario parser reads them strictly, in UTC.

Bounded: a document may expand (aliases included) to at most
:data:`MAX_VALUES` values and nest at most :data:`MAX_DEPTH` deep, so a
"billion laughs" of aliases or a deep nesting is refused as a bad file (exit 2)
instead of taking gigabytes or a RecursionError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from emulator.scenarios.errors import Problem, ScenarioFileError

MAX_VALUES = 100_000
"""Most values a scenario document may expand to, aliases counted each time they are used
(a scenario has hundreds)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (a scenario nests about 5 deep)."""

PathKey = tuple[str | int, ...]
_SEXAGESIMAL_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
"""Where a value sits in the document: the keys and indexes leading to it."""


class _Loader(yaml.SafeLoader):
    """The safe loader without the implicit timestamp type (dates stay strings), refusing a
    nesting deeper than :data:`MAX_DEPTH` as it composes (before any RecursionError)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooBigError(
                    f"nested more than {MAX_DEPTH} deep", (mark.line + 1, mark.column + 1)
                )
            node: Node | None = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, kw_only=True)
class Located:
    """A YAML document's data with the position of everything in it."""

    source: str
    data: Any
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """(line, column), 1-based, of each value by path."""
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    """(line, column) of each mapping key, by the path of its value."""

    def where(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path`` (its key's if ``key``), else of its nearest ancestor."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        """A :class:`Problem` at ``path``."""
        line, column = self.where(path, key=key)
        return Problem(source=self.source, line=line, column=column, message=message)


def load_yaml(text: str, source: str) -> Located:
    """Parse one YAML document; raises :class:`ScenarioFileError` naming the line."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except _TooBigError as exc:
            raise ScenarioFileError([_bounds(source, str(exc), exc.mark)]) from None
        except RecursionError:
            raise ScenarioFileError([_bounds(source, "nested too deeply")]) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
            message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            raise ScenarioFileError(
                [Problem(source=source, line=line, column=column, message=f"not YAML: {message}")]
            ) from None
        except yaml.YAMLError as exc:
            raise ScenarioFileError(
                [Problem(source=source, line=0, column=0, message=f"not YAML: {exc}")]
            ) from None
        if node is None:
            raise ScenarioFileError(
                [Problem(source=source, line=0, column=0, message="the file is empty")]
            )
        located = Located(source=source, data=None)
        problems: list[Problem] = []
        budget = _Budget()
        try:
            data = _build(loader, node, (), located, problems, budget)
        except _TooBigError as exc:
            raise ScenarioFileError([_bounds(source, str(exc), exc.mark)]) from None
        if problems:
            raise ScenarioFileError(problems)
        return Located(
            source=source,
            data=data,
            positions=located.positions,
            key_positions=located.key_positions,
        )
    finally:
        loader.dispose()


def _bounds(source: str, what: str, mark: tuple[int, int] = (0, 0)) -> Problem:
    return Problem(
        source=source,
        line=mark[0],
        column=mark[1],
        message=f"refused: the document is {what} (at most {MAX_VALUES} values, "
        f"{MAX_DEPTH} levels; YAML aliases count each time they are used)",
    )


class _TooBigError(Exception):
    def __init__(self, what: str, mark: tuple[int, int]) -> None:
        super().__init__(what)
        self.mark = mark


@dataclass
class _Budget:
    values: int = 0


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(  # noqa: PLR0917 - one recursive walk, its state passed down
    loader: _Loader,
    node: Node,
    path: PathKey,
    located: Located,
    problems: list[Problem],
    budget: _Budget,
) -> Any:
    budget.values += 1
    if budget.values > MAX_VALUES:
        raise _TooBigError(f"larger than {MAX_VALUES} values", _mark(node))
    if len(path) > MAX_DEPTH:
        raise _TooBigError(f"nested more than {MAX_DEPTH} deep", _mark(node))
    located.positions[path] = _mark(node)
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
            line, column = _mark(key_node)
            if not isinstance(key, str):
                problems.append(
                    Problem(
                        source=located.source,
                        line=line,
                        column=column,
                        message=f"a key must be text, got {key!r}",
                    )
                )
                continue
            if key in result:
                first = located.key_positions[(*path, key)][0]
                problems.append(
                    Problem(
                        source=located.source,
                        line=line,
                        column=column,
                        message=f"duplicate key {key!r} (first on line {first})",
                    )
                )
                continue
            located.key_positions[(*path, key)] = (line, column)
            result[key] = _build(loader, value_node, (*path, key), located, problems, budget)
        return result
    if isinstance(node, SequenceNode):
        return [
            _build(loader, item, (*path, index), located, problems, budget)
            for index, item in enumerate(node.value)
        ]
    if isinstance(node, ScalarNode) and node.tag in _SEXAGESIMAL_TAGS and ":" in node.value:
        return node.value  # YAML 1.1 reads 22:00 as 1320; a scenario means a time of day
    return loader.construct_object(node)
