"""The errors of scenario files: a bad file (ours to fix) or a failing step (the pump's)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from emulator.errors import EmulatorError, EmulatorPeerError, EmulatorUsageError


class ScenarioError(EmulatorError):
    """Root of the scenario errors."""


class UnitError(ScenarioError, EmulatorUsageError, ValueError):
    """A value with units (``20 mL``, ``90d``, ``start + 3d``) that does not parse strictly."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with a scenario file, where it is."""

    source: str
    line: int
    """1-based line, 0 when the whole file is at fault."""
    column: int
    """1-based column, 0 when unknown."""
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        if self.line and self.column:
            where += f":{self.column}"
        return f"{where}: {self.message}"


def unique_problems(problems: Iterable[Problem]) -> list[Problem]:
    """``problems`` in order, each place and message once (two checks may find the same)."""
    seen: set[tuple[int, int, str]] = set()
    result = []
    for p in problems:
        if (p.line, p.column, p.message) not in seen:
            seen.add((p.line, p.column, p.message))
            result.append(p)
    return result


class ScenarioFileError(ScenarioError, EmulatorUsageError, ValueError):
    """A scenario file that cannot be run: not YAML, against the schema, or a bad value.

    Raised before any step runs; ``problems`` names each with its file and line.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("a ScenarioFileError needs at least one problem")
        self.problems = tuple(problems)
        first = problems[0]
        self.source = first.source
        self.line = first.line
        super().__init__("\n".join(str(p) for p in problems))


class ScenarioFailed(ScenarioError, EmulatorPeerError, AssertionError):  # noqa: N818 - API name
    """A step of a scenario did not go as the file expects (the pump under test is at fault).

    ``result`` is the :class:`~emulator.scenarios.result.ScenarioResult` with the trace.
    """

    def __init__(self, message: str, result: object) -> None:
        self.result = result
        super().__init__(message)
