"""What a scenario run leaves behind: every step's checks, notes and frames, and a plot's data.

A :class:`ScenarioResult` is the trace of one run: for each step its name and
line, what was expected and what was found (:class:`Check`), what happened
(a note in words), and the frames that crossed the link while it ran. It
formats itself as the text of a failure report (:meth:`ScenarioResult.failure_report`)
and, in :mod:`emulator.scenarios.report`, as HTML with a reservoir plot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["Check", "Sample", "ScenarioResult", "StepResult", "StepStatus", "format_clock"]

FRAMES_IN_REPORT = 8
"""How many of the last frames on the wire a failure report shows."""


class StepStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    """An expectation was not met (or an expected error did not come)."""
    ERROR = "error"
    """The step raised something the file did not expect (a NAK, a timeout, a defect)."""
    NOT_RUN = "not run"
    """An earlier step failed."""


@dataclass(frozen=True, kw_only=True)
class Check:
    """One expectation and what was found."""

    what: str
    expected: str
    actual: str
    passed: bool


@dataclass(frozen=True, kw_only=True)
class Sample:
    """The reservoir at one pump time (for the plot)."""

    clock_s: int
    reservoir_nl: int
    """The pump's estimate."""
    true_reservoir_nl: int


@dataclass(frozen=True, kw_only=True)
class StepResult:
    index: int
    """1-based."""
    line: int
    verb: str
    name: str
    status: StepStatus
    checks: tuple[Check, ...] = ()
    note: str = ""
    """What happened, in words (a refill's discrepancy, a patient dose granted...)."""
    error: str = ""
    """The unexpected error, when ``status`` is ERROR."""
    clock_s: int = 0
    """Pump clock when the step ended."""
    elapsed_s: float = 0.0
    """Wall time the step took."""
    frames: tuple[str, ...] = ()
    """The last frames that crossed the link during the step, decoded (newest last)."""

    @property
    def passed(self) -> bool:
        return self.status is StepStatus.PASSED

    def detail_lines(self, *, with_error: bool = True) -> list[str]:
        """What happened, the error (unless not ``with_error``) and each check (``ok`` or
        ``FAIL``, expected and actual), indented by two spaces under the step's own line."""
        lines = []
        if self.note:
            lines.append(f"  what happened: {self.note}")
        if with_error and self.error:
            lines.append(f"  error: {self.error}")
        for check in self.checks:
            mark = "ok  " if check.passed else "FAIL"
            lines.append(f"  {mark} {check.what}: expected {check.expected}, actual {check.actual}")
        return lines


@dataclass(frozen=True, kw_only=True)
class ScenarioResult:
    source: str
    title: str
    description: str
    start_s: int
    steps: tuple[StepResult, ...]
    samples: tuple[Sample, ...] = ()
    elapsed_s: float = 0.0
    emulator_error: str = ""
    """Anything the emulator raised inside (re-raised after the run), as text."""
    tags: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.emulator_error and all(s.status is StepStatus.PASSED for s in self.steps)

    @property
    def failed_step(self) -> StepResult | None:
        """The step that stopped the run, if any."""
        return next(
            (s for s in self.steps if s.status in (StepStatus.FAILED, StepStatus.ERROR)), None
        )

    def day_and_time(self, clock_s: int) -> str:
        """The time since the start with the UTC time of day (see :func:`format_clock`)."""
        return format_clock(clock_s, self.start_s)

    def last_frames(self, up_to_step: int, count: int) -> list[tuple[int, str]]:
        """The last ``count`` frames on the wire up to and including step ``up_to_step``,
        each with the index of the step during which it crossed."""
        frames = [
            (step.index, frame)
            for step in self.steps
            if step.index <= up_to_step
            for frame in step.frames
        ]
        return frames[-count:] if count > 0 else []

    def failure_report(self, *, frames: int = FRAMES_IN_REPORT) -> str:
        """The text a QA engineer reads: the step, expected and actual, the last frames."""
        step = self.failed_step
        lines = [f"scenario {self.title!r} ({self.source}) FAILED"]
        if step is None:
            if self.emulator_error:
                lines.append(f"the emulator raised inside: {self.emulator_error}")
            return "\n".join(lines)
        lines.append(
            f"step {step.index} ({self.source}:{step.line}) {step.name!r} {step.status.value} "
            f"at pump time {self.day_and_time(step.clock_s)}"
        )
        lines += step.detail_lines()
        if self.emulator_error:
            lines.append(f"the emulator raised inside: {self.emulator_error}")
        shown = self.last_frames(step.index, frames)
        if shown:
            lines.append(f"last {len(shown)} frame(s) on the wire, up to this step:")
            previous = 0
            for index, frame in shown:
                if index != previous:
                    lines.append(f"  during step {index}:")
                    previous = index
                lines.append(_indent(frame))
        else:
            lines.append("no frames crossed the link before this step failed")
        earlier = [s for s in self.steps if s.index < step.index]
        if earlier:
            lines.append("steps before it:")
            lines += [
                f"  {s.index:>3}. {s.name} ({s.status.value}, {self.day_and_time(s.clock_s)})"
                for s in earlier[-5:]
            ]
        return "\n".join(lines)


def format_clock(clock_s: int, start_s: int) -> str:
    """Pump time as the time since the start and the UTC time of day: ``+84d 23:59:59 (07:59Z)``."""
    elapsed = clock_s - start_s
    sign = "-" if elapsed < 0 else "+"
    days, rest = divmod(abs(elapsed), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    moment = datetime.fromtimestamp(clock_s, tz=UTC)
    return f"{sign}{days}d {hours:02d}:{minutes:02d}:{seconds:02d} ({moment:%H:%M}Z)"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
