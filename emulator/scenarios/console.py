"""``pump-emulator run FILE...``: scenario files from a terminal, no Python and no pytest.

Every file is checked first (YAML, schema, units); if any is bad, the problems
are printed with their file and line and nothing runs (exit 2), unless
``--keep-going``: then the bad files are reported and every good one runs
(exit 2 still, after the run). Then each scenario runs with a progress line
per step and, for a failing one, the full failure report (step, expected and
actual values, the last frames on the wire).
Exit status: 0 every scenario passed, 1 at least one failed, 2 a bad file.
A parametrised file runs once per case.

The files are those pytest collects: names ending in ``.scenario.yaml``
(directories are searched for them; a ``.scenario.yml`` or other name given or
found is reported as a bad file, since pytest would skip it). ``--tag TAG``
runs only the scenarios with one of the tags given (``--skip-tag TAG`` leaves
those out). ``--html FILE`` also writes a report: when it was written (UTC), a summary
linking to each scenario (and a failure to its step), then each scenario's
steps and reservoir plot; ``--junitxml FILE`` a JUnit XML report for CI (one test case
per scenario, a bad file as an error), ``--coverage`` the protocol coverage:
the opcodes, NAK codes, alarms and faults the scenarios exercised, and what
they never did (printed, and in the HTML report).
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TextIO

from emulator import coverage as protocol_coverage
from emulator.scenarios.errors import Problem, ScenarioFileError
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
    parser.add_argument(
        "--junitxml",
        type=Path,
        metavar="FILE",
        help="also write a JUnit XML report (a test case per scenario, bad files as errors)",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="report bad files and run every good one (exit 2 still when a file was bad)",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="run only scenarios with this tag (repeat: any of them)",
    )
    parser.add_argument(
        "--skip-tag",
        action="append",
        default=[],
        metavar="TAG",
        help="leave out scenarios with this tag (repeatable)",
    )
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="report the opcodes, NAK codes, alarms and faults the scenarios exercised",
    )


MISNAMED = ".scenario.yml"
"""A name pytest does not collect: refused here too, with the name it should have."""


def expand(paths: list[Path]) -> list[Path]:
    """Files as given; directories replaced by the scenario files under them (and the
    misnamed ``*.scenario.yml`` ones, to be reported), sorted."""
    result: list[Path] = []
    for path in paths:
        if path.is_dir():
            result += sorted([*path.rglob(f"*{SUFFIX}"), *path.rglob(f"*{MISNAMED}")])
        else:
            result.append(path)
    return result


def _name_problem(path: Path) -> Problem | None:
    """Why pytest would not collect ``path`` (None: it would)."""
    if path.name.endswith(SUFFIX):
        return None
    stem = path.name.removesuffix(MISNAMED).removesuffix(".yml").removesuffix(".yaml")
    return Problem(
        source=str(path),
        line=0,
        column=0,
        message=f"not a scenario file name: pytest collects only *{SUFFIX} files and would "
        f"skip this one (rename it {stem}{SUFFIX})",
    )


def _selected(scenario: Scenario, tags: list[str], skip: list[str]) -> bool:
    if tags and not set(tags) & set(scenario.tags):
        return False
    return not set(skip) & set(scenario.tags)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check every file, then run each scenario; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    files = expand(list(args.files))
    if not files:
        print(f"pump-emulator run: no {SUFFIX} files found", file=err)
        return EXIT_BAD_FILE
    scenarios: list[Scenario] = []
    bad: list[tuple[Path, list[Problem]]] = []
    for path in files:
        misnamed = _name_problem(path)
        try:
            loaded = load_scenarios(path)  # one per case of a parametrised file
        except ScenarioFileError as exc:
            bad.append((path, ([misnamed] if misnamed else []) + list(exc.problems)))
            continue
        if misnamed is not None:  # a good story under a name pytest would skip
            bad.append((path, [misnamed]))
        else:
            scenarios += loaded
    for _, problems in bad:
        for problem in problems:
            print(f"{problem}", file=err)
    keep_going = getattr(args, "keep_going", False)
    if bad and not keep_going:
        print(f"pump-emulator run: {len(bad)} bad file(s); nothing was run", file=err)
        return EXIT_BAD_FILE
    tags, skip = list(getattr(args, "tag", [])), list(getattr(args, "skip_tag", []))
    chosen = [s for s in scenarios if _selected(s, tags, skip)]
    if (tags or skip) and not args.quiet:
        print(f"{len(chosen)} of {len(scenarios)} scenario(s) selected by tag", file=out)
    coverage = protocol_coverage.start() if getattr(args, "coverage", False) else None
    results: list[ScenarioResult] = []
    started = time.perf_counter()
    try:
        for scenario in chosen:
            results.append(_run_one(scenario, quiet=args.quiet, out=out))
            if coverage is not None:
                coverage.harvest()
    finally:
        if coverage is not None:
            protocol_coverage.stop(coverage)
    failed = [r for r in results if not r.passed]
    elapsed = time.perf_counter() - started
    print(
        f"{len(results)} scenario(s): {len(results) - len(failed)} passed, {len(failed)} failed "
        f"in {elapsed:.2f} s" + (f"; {len(bad)} bad file(s) not run" if bad else ""),
        file=out,
    )
    for result in failed:
        step = result.failed_step
        where = f" at step {step.index} (line {step.line})" if step is not None else ""
        print(f"  FAILED {result.source}: {result.title}{where}", file=out)
    for path, _ in bad:
        print(f"  BAD FILE {path}", file=out)
    if coverage is not None:
        print(coverage.report_text(), file=out)
    if args.html is not None:
        page = _html_page(results)
        if coverage is not None:
            page = page.replace("</body>", coverage.report_html() + "</body>", 1)
        args.html.write_text(page, encoding="utf-8")
        print(f"report: {args.html}", file=out)
    junit = getattr(args, "junitxml", None)
    if junit is not None:
        junit.write_text(junit_xml(results, bad, elapsed_s=elapsed), encoding="utf-8")
        print(f"JUnit XML: {junit}", file=out)
    out.flush()
    if bad:
        return EXIT_BAD_FILE
    return EXIT_FAILED if failed else EXIT_PASSED


def junit_xml(
    results: list[ScenarioResult],
    bad: list[tuple[Path, list[Problem]]] | None = None,
    *,
    elapsed_s: float = 0.0,
) -> str:
    """A JUnit XML report: one test case per scenario (classname: its directory, dotted;
    name: its file without the suffix) with the properties ``scenario``, ``tags``,
    ``steps`` and ``failed_step``; the failure report as the failure's text; each bad
    file as a test case with an error."""
    bad = bad or []
    failures = sum(not r.passed for r in results)
    suite = ET.Element(
        "testsuite",
        name="vpump scenarios",
        tests=str(len(results) + len(bad)),
        failures=str(failures),
        errors=str(len(bad)),
        skipped="0",
        time=f"{elapsed_s:.3f}",
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_classname(Path(result.source)),
            name=Path(result.source).name.removesuffix(SUFFIX),
            time=f"{result.elapsed_s:.3f}",
        )
        props = ET.SubElement(case, "properties")
        step = result.failed_step
        for name, value in (
            ("scenario", result.title),
            ("tags", ", ".join(result.tags)),
            ("steps", str(len(result.steps))),
            ("failed_step", "" if step is None else f"{step.index} (line {step.line})"),
        ):
            if value:
                ET.SubElement(props, "property", name=name, value=value)
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=_first_line(result))
            failure.text = result.failure_report()
    for path, problems in bad:
        case = ET.SubElement(
            suite, "testcase", classname=_classname(path), name=path.name, time="0.000"
        )
        error = ET.SubElement(case, "error", message="bad scenario file")
        error.text = "\n".join(str(p) for p in problems)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode")


def _classname(path: Path) -> str:
    parent = path.parent
    parts = [p for p in parent.parts if p not in ("/", ".", "")]
    return ".".join(parts[-2:]) or "scenarios"


def _first_line(result: ScenarioResult) -> str:
    step = result.failed_step
    if step is None:
        return "the emulator raised inside"
    return f"step {step.index} (line {step.line}) {step.name!r} {step.status.value}"


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
