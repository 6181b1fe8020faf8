"""``pump-emulator run FILE...``: scenario files from a terminal, no Python and no pytest.

Every file is checked first (YAML, schema, units); if any is bad, the problems
are printed with their file and line and nothing runs (exit 2). Then each
scenario runs with a progress line per step and, for a failing one, the full
failure report (step, expected and actual values, the last frames on the
wire). Exit status: 0 every scenario passed, 1 at least one failed, 2 a bad
file. A parametrised file runs once per case. ``--html FILE`` also writes a
report: when it was written (UTC), a summary linking to each scenario (and a
failure to its step), then each scenario's steps and reservoir plot.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TextIO

from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.executor import run_scenario
from emulator.scenarios.loader import SUFFIX, load_scenarios
from emulator.scenarios.model import Scenario
from emulator.scenarios.report import render_html
from emulator.scenarios.result import ScenarioResult, StepResult, StepStatus, format_clock

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_BAD_FILE = 2

_MARKS = {
    StepStatus.PASSED: "ok  ",
    StepStatus.FAILED: "FAIL",
    StepStatus.ERROR: "ERR ",
    StepStatus.NOT_RUN: "skip",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``run`` subcommand's arguments."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help=f"scenario files ({SUFFIX}), or directories to run every one inside",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress lines: failures and the summary"
    )
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="also write an HTML report of every scenario"
    )


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories replaced by the scenario files under them, sorted."""
    result: list[Path] = []
    for path in paths:
        if path.is_dir():
            result += sorted(path.rglob(f"*{SUFFIX}"))
        else:
            result.append(path)
    return result


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check every file, then run each scenario; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    files = expand(list(args.files))
    if not files:
        print(f"pump-emulator run: no {SUFFIX} files found", file=err)
        return EXIT_BAD_FILE
    scenarios: list[Scenario] = []
    bad = 0
    for path in files:
        try:
            scenarios += load_scenarios(path)  # one per case of a parametrised file
        except ScenarioFileError as exc:
            bad += 1
            for problem in exc.problems:
                print(f"{problem}", file=err)
    if bad:
        print(f"pump-emulator run: {bad} bad file(s); nothing was run", file=err)
        return EXIT_BAD_FILE
    results: list[ScenarioResult] = []
    started = time.perf_counter()
    for scenario in scenarios:
        results.append(_run_one(scenario, quiet=args.quiet, out=out))
    failed = [r for r in results if not r.passed]
    elapsed = time.perf_counter() - started
    print(
        f"{len(results)} scenario(s): {len(results) - len(failed)} passed, {len(failed)} failed "
        f"in {elapsed:.2f} s",
        file=out,
    )
    for result in failed:
        step = result.failed_step
        where = f" at step {step.index} (line {step.line})" if step is not None else ""
        print(f"  FAILED {result.source}: {result.title}{where}", file=out)
    if args.html is not None:
        args.html.write_text(_html_page(results), encoding="utf-8")
        print(f"report: {args.html}", file=out)
    out.flush()
    return EXIT_FAILED if failed else EXIT_PASSED


def _run_one(scenario: Scenario, *, quiet: bool, out: TextIO) -> ScenarioResult:
    total = len(scenario.steps)
    if not quiet:
        print(f"{scenario.source}: {scenario.title}", file=out)

    def progress(step: StepResult) -> None:
        if quiet:
            return
        when = format_clock(step.clock_s, scenario.pump.start_s)
        print(
            f"  [{step.index:>{len(str(total))}}/{total}] {_MARKS[step.status]} {when}  "
            f"{step.name}" + (f"  ({step.note})" if step.note else ""),
            file=out,
            flush=True,
        )

    result = run_scenario(scenario, on_step=progress)
    if result.passed:
        if not quiet:
            print(f"  passed ({total} steps, {result.elapsed_s:.2f} s)", file=out)
    else:
        print(_indent(result.failure_report()), file=out)
    return result


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _html_page(results: list[ScenarioResult], *, generated: datetime | None = None) -> str:
    """The whole report: a summary linking to each scenario (and a failure to its step),
    when it was written (UTC), then every scenario's steps and plot."""
    passed = sum(r.passed for r in results)
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = "\n<hr>\n".join(
        render_html(r, anchor=_anchor(i)) for i, r in enumerate(results, start=1)
    )
    summary = "".join(_summary_line(r, _anchor(i)) for i, r in enumerate(results, start=1))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>vpump scenarios</title></head><body>"
        f"<h1>vpump scenarios: {passed} of {len(results)} passed</h1>\n"
        f'<p class="vpump-generated">Generated {escape(when)}.</p>\n'
        f"<ul>{summary}</ul>\n{body}</body></html>\n"
    )


def _anchor(number: int) -> str:
    return f"scenario-{number}"


def _summary_line(result: ScenarioResult, anchor: str) -> str:
    status = "passed" if result.passed else "FAILED"
    line = f'<li><a href="#{anchor}">{escape(result.title)}</a>: {status}'
    step = result.failed_step
    if step is not None:
        line += f' at <a href="#{anchor}-step-{step.index}">step {step.index}</a>'
    return line + "</li>"
