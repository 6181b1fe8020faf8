"""``pump-emulator run``: progress lines, a summary, an HTML report and the exit status."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.scenarios import console

PASSING = "scenario: passes\nsteps:\n  - advance: 1d\n  - expect: {reservoir: 19.8 mL}\n"
FAILING = "scenario: fails\nsteps:\n  - advance: 1d\n  - expect: {reservoir: 20 mL}\n"
BAD = "scenario: bad\nsteps:\n  - advance: 1 fortnight\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = argparse.ArgumentParser()
    console.add_arguments(args)
    status = console.run(args.parse_args([str(a) for a in argv]), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_passing_files_print_a_line_per_step_and_exit_0(tmp_path: Path) -> None:
    status, out, _ = run(write(tmp_path, "a", PASSING))
    assert status == console.EXIT_PASSED
    assert "[1/2] ok   +1d 00:00:00 (08:00Z)  advance 1d" in out
    assert "[2/2] ok" in out and "1 scenario(s): 1 passed, 0 failed" in out


def test_a_failing_scenario_prints_its_report_and_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "a", PASSING)
    write(tmp_path, "b", FAILING)
    status, out, _ = run("-q", tmp_path)
    assert status == console.EXIT_FAILED
    assert "[1/2]" not in out  # quiet
    assert "FAIL reservoir: expected 20 mL, actual 19.8 mL" in out
    assert "2 scenario(s): 1 passed, 1 failed" in out
    assert "FAILED " + str(tmp_path / "b.scenario.yaml") + ": fails at step 2 (line 4)" in out


def test_a_bad_file_stops_everything_before_a_step_runs(tmp_path: Path) -> None:
    status, out, err = run(write(tmp_path, "a", PASSING), write(tmp_path, "z", BAD))
    assert status == console.EXIT_BAD_FILE
    assert f"{tmp_path / 'z.scenario.yaml'}:3:14: '1 fortnight'" in err
    assert "nothing was run" in err and out == ""


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    assert run(tmp_path)[0] == console.EXIT_BAD_FILE


def test_the_html_report(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    status, out, _ = run("--html", report, write(tmp_path, "b", FAILING))
    assert status == console.EXIT_FAILED and f"report: {report}" in out
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "0 of 1 passed" in html and "<svg" in html


def test_the_console_script_has_the_run_subcommand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-q", str(write(tmp_path, "a", PASSING))]) == 0
    assert "1 passed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["run", "--help"])
    assert caught.value.code == 0
    assert "Exit status: 0 every scenario passed, 1 at least one failed, 2 a bad" in (
        capsys.readouterr().out
    )
