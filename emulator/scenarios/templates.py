"""Reuse inside a scenario file: a table of cases (``parameters:``) and ``repeat:`` steps.

Both are unrolled on the YAML data before the schema and the values are
checked, keeping the line and column of everything (so a problem in the
third row's value, or in the 30th pass of a repeat, still names the line it
is written on):

* ``parameters:`` is a list of rows, each a mapping with a ``case`` name and
  values; the file becomes one scenario per row, named by it, in which
  ``${name}`` is replaced by the row's value (``${case}`` too). A string that
  is only ``${name}`` takes the value as written (a number stays a number).
* a step ``repeat: {times: N, counter: visit, steps: [...]}`` stands for its
  steps N times over; ``${visit}`` (the counter, 1 to N; default name ``i``)
  may be used inside them. Repeats nest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from emulator.scenarios.errors import Problem, ScenarioFileError, unique_problems
from emulator.scenarios.source import Located, PathKey

__all__ = ["MAX_CASES", "MAX_REPEATED_STEPS", "expand_cases"]

MAX_CASES = 1_000
"""Most rows a ``parameters:`` table may have."""
MAX_REPEATED_STEPS = 20_000
"""Most steps a file may unroll to (a 7-year story of visits needs a few hundred)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def expand_cases(located: Located) -> tuple[list[tuple[str, Located]], list[Problem]]:
    """``(case, document)`` for each row of the file's ``parameters:`` (``("", document)``
    for a file without them), ``${...}`` replaced and ``repeat:`` unrolled, and the problems
    of the placeholders and repeats (the documents are still checked: every problem of a
    file is reported at once). Raises :class:`ScenarioFileError` for a bad table."""
    data = located.data
    problems: list[Problem] = []
    rows: list[tuple[str, dict[str, Any]]] = [("", {})]
    if isinstance(data, dict) and "parameters" in data:
        rows = _rows(located, data["parameters"], problems)
    if problems:
        raise ScenarioFileError(problems)
    result = []
    for case, values in rows:
        expander = _Expander(located, problems, case)
        result.append((case, expander.document(values)))
    return result, unique_problems(problems)


def _rows(
    located: Located, raw: object, problems: list[Problem]
) -> list[tuple[str, dict[str, Any]]]:
    where: PathKey = ("parameters",)
    if not isinstance(raw, list) or not raw:
        problems.append(
            located.problem(
                where,
                "parameters is a list of cases, each a mapping with a case name and values, "
                "e.g. - {case: saturday, day: 5d}",
            )
        )
        return []
    if len(raw) > MAX_CASES:
        problems.append(located.problem(where, f"at most {MAX_CASES} cases"))
        return []
    rows: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(raw):
        path: PathKey = (*where, index)
        if not isinstance(row, dict) or "case" not in row:
            problems.append(
                located.problem(path, "a case is a mapping with a case name: {case: NAME, ...}")
            )
            continue
        case = str(row["case"])
        if not _CASE.fullmatch(case):
            problems.append(
                located.problem(
                    (*path, "case"),
                    f"{case!r}: a case name is letters, digits and _ . + - (it names a test)",
                )
            )
            continue
        if case in seen:
            problems.append(
                located.problem(
                    (*path, "case"), f"case {case!r} again (first on line {seen[case]})"
                )
            )
            continue
        seen[case] = located.where((*path, "case"))[0]
        values: dict[str, Any] = {}
        for key, value in row.items():
            if not _NAME.fullmatch(key):
                problems.append(
                    located.problem((*path, key), f"{key!r}: a parameter name is a word", key=True)
                )
            elif isinstance(value, dict | list) or value is None:
                problems.append(
                    located.problem(
                        (*path, key), f"parameter {key!r}: a value is text, a number or a flag"
                    )
                )
            else:
                values[key] = value
        rows.append((case, values))
    return rows


@dataclass
class _Expander:
    """Builds one case's document, positions remapped to the unrolled paths."""

    located: Located
    problems: list[Problem]
    case: str
    positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    steps_made: int = 0

    def document(self, values: dict[str, Any]) -> Located:
        data = self.located.data
        self._place((), ())
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                self._place((key,), (key,))
                if key == "parameters":
                    out[key] = value  # the table itself is not a template
                elif key == "steps" and isinstance(value, list):
                    steps: list[Any] = []
                    self._steps(value, ("steps",), values, steps)
                    out[key] = steps
                else:
                    out[key] = self._copy(value, (key,), (key,), values)
            data = out
        return Located(
            source=self.located.source,
            data=data,
            positions=self.positions,
            key_positions=self.key_positions,
        )

    def _place(self, old: PathKey, new: PathKey) -> None:
        if old in self.located.positions:
            self.positions[new] = self.located.positions[old]
        if old in self.located.key_positions:
            self.key_positions[new] = self.located.key_positions[old]

    def _copy(self, value: Any, old: PathKey, new: PathKey, values: dict[str, Any]) -> Any:
        self._place(old, new)
        if isinstance(value, dict):
            return {k: self._copy(v, (*old, k), (*new, k), values) for k, v in value.items()}
        if isinstance(value, list):
            return [self._copy(v, (*old, i), (*new, i), values) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return self._substitute(value, old, values)
        return value

    def _substitute(self, text: str, old: PathKey, values: dict[str, Any]) -> Any:
        whole = _PLACEHOLDER.fullmatch(text.strip())
        if whole is not None and whole[1] in values:
            return values[whole[1]]

        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name not in values:
                known = ", ".join(sorted(values)) or "none here"
                self.problems.append(
                    self.located.problem(
                        old, f"${{{name}}}: no such parameter or counter (known: {known})"
                    )
                )
                return match[0]
            return (
                str(values[name]).lower() if isinstance(values[name], bool) else str(values[name])
            )

        return _PLACEHOLDER.sub(one, text)

    def _steps(self, raw: list[Any], old: PathKey, values: dict[str, Any], out: list[Any]) -> None:
        for index, item in enumerate(raw):
            path: PathKey = (*old, index)
            if isinstance(item, dict) and "repeat" in item:
                self._repeat(item, path, values, out)
                continue
            if self.steps_made >= MAX_REPEATED_STEPS:
                self.problems.append(
                    self.located.problem(path, f"more than {MAX_REPEATED_STEPS} steps unrolled")
                )
                return
            new: PathKey = ("steps", len(out))
            out.append(self._copy(item, path, new, values))
            self.steps_made += 1

    def _repeat(
        self, item: dict[str, Any], path: PathKey, values: dict[str, Any], out: list[Any]
    ) -> None:
        spec = item["repeat"]
        where: PathKey = (*path, "repeat")
        extra = sorted(k for k in item if k not in ("repeat", "name"))
        if extra:
            self.problems.append(
                self.located.problem(
                    (*path, extra[0]),
                    f"{extra[0]!r}: a repeat step takes only repeat (and a name)",
                    key=True,
                )
            )
            return
        if not isinstance(spec, dict) or not isinstance(spec.get("steps"), list):
            self.problems.append(
                self.located.problem(
                    where, "repeat takes {times: N, counter: NAME (optional), steps: [...]}"
                )
            )
            return
        unknown = sorted(k for k in spec if k not in ("times", "counter", "steps"))
        if unknown:
            self.problems.append(
                self.located.problem(
                    (*where, unknown[0]),
                    f"unknown key {unknown[0]!r} in repeat; known keys: counter, steps, times",
                    key=True,
                )
            )
        times = spec.get("times")
        if isinstance(times, str) and _PLACEHOLDER.fullmatch(times.strip()):
            times = self._substitute(times, (*where, "times"), values)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            self.problems.append(
                self.located.problem((*where, "times"), f"{times!r}: times is a whole number >= 1")
            )
            return
        counter = str(spec.get("counter", "i"))
        if not _NAME.fullmatch(counter):
            self.problems.append(
                self.located.problem((*where, "counter"), f"{counter!r}: a counter name is a word")
            )
            return
        if not spec["steps"]:
            self.problems.append(self.located.problem((*where, "steps"), "repeat has no steps"))
            return
        for n in range(1, times + 1):
            if self.steps_made >= MAX_REPEATED_STEPS:
                self.problems.append(
                    self.located.problem(where, f"more than {MAX_REPEATED_STEPS} steps unrolled")
                )
                return
            self._steps(spec["steps"], (*where, "steps"), {**values, counter: n}, out)
