"""``pump-emulator run`` on a library: --keep-going past bad files, --junitxml, tag selection,
the file names pytest collects, and --coverage (issue 15, items 4 and 11)."""

from __future__ import annotations

import argparse
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from emulator.scenarios import console

PASSING = (
    "scenario: passes\ntags: [smoke, refill]\nsteps:\n  - advance: 1d\n"
    "  - expect: {reservoir: 19.8 mL}\n"
)
FAILING = (
    "scenario: fails\ntags: [slow]\nsteps:\n  - interrogate:\n  - advance: 1d\n"
    "  - expect: {reservoir: 20 mL}\n"
)
BAD = "scenario: bad\nsteps:\n  - advance: 1 fortnight\n"


def write(directory: Path, name: str, text: str, suffix: str = ".scenario.yaml") -> Path:
    path = directory / f"{name}{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    parser = argparse.ArgumentParser()
    console.add_arguments(parser)
    status = console.run(parser.parse_args([str(a) for a in argv]), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    write(tmp_path, "a_passes", PASSING)
    write(tmp_path, "b_fails", FAILING)
    write(tmp_path, "c_bad", BAD)
    return tmp_path


def test_a_bad_file_still_blocks_everything_without_keep_going(library: Path) -> None:
    status, out, err = run(library)
    assert status == console.EXIT_BAD_FILE
    assert "c_bad.scenario.yaml:3:" in err
    assert "nothing was run" in err
    assert "passes" not in out


def test_keep_going_reports_the_bad_file_and_runs_the_rest(library: Path) -> None:
    status, out, err = run(library, "--keep-going", "-q")
    assert status == console.EXIT_BAD_FILE  # a bad file is still a bad run
    assert "c_bad.scenario.yaml:3:" in err
    assert "2 scenario(s): 1 passed, 1 failed" in out
    assert "1 bad file(s) not run" in out
    assert "FAILED" in out and "BAD FILE" in out
    (library / "c_bad.scenario.yaml").unlink()
    assert run(library, "--keep-going", "-q")[0] == console.EXIT_FAILED


def test_the_junit_report(library: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "scenarios.xml"
    report.parent.mkdir()
    status, out, _ = run(library, "--keep-going", "-q", "--junitxml", report)
    assert status == console.EXIT_BAD_FILE
    assert f"JUnit XML: {report}" in out
    suite = ET.parse(report).getroot()
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"a_passes", "b_fails", "c_bad.scenario.yaml"}
    passing = cases["a_passes"]
    props = {p.get("name"): p.get("value") for p in passing.iter("property")}
    assert props == {"scenario": "passes", "tags": "smoke, refill", "steps": "2"}
    assert passing.find("failure") is None
    failure = cases["b_fails"].find("failure")
    assert failure is not None
    assert "step 3 (line 6)" in (failure.get("message") or "")
    assert "FAIL reservoir: expected 20 mL, actual 19.8 mL" in (failure.text or "")
    error = cases["c_bad.scenario.yaml"].find("error")
    assert error is not None and "1 fortnight" in (error.text or "")
    assert passing.get("classname") == ".".join(Path(library).parts[-2:])


def test_tags_select_and_leave_out(library: Path) -> None:
    (library / "c_bad.scenario.yaml").unlink()
    status, out, _ = run(library, "--tag", "smoke")
    assert status == console.EXIT_PASSED
    assert "1 of 2 scenario(s) selected by tag" in out
    assert "1 scenario(s): 1 passed, 0 failed" in out
    status, out, _ = run(library, "--tag", "refill", "--tag", "slow", "-q")
    assert status == console.EXIT_FAILED and "2 scenario(s)" in out
    status, out, _ = run(library, "--skip-tag", "slow", "-q")
    assert status == console.EXIT_PASSED and "1 scenario(s): 1 passed" in out
    status, out, _ = run(library, "--tag", "nothing-has-it", "-q")
    assert status == console.EXIT_PASSED and "0 scenario(s)" in out


def test_it_runs_the_names_pytest_collects_and_refuses_the_others(tmp_path: Path) -> None:
    good = write(tmp_path, "good", PASSING)
    yml = write(tmp_path, "short", PASSING, suffix=".scenario.yml")
    plain = write(tmp_path, "plain", PASSING, suffix=".yaml")
    status, _, err = run(yml)
    assert status == console.EXIT_BAD_FILE
    assert "pytest collects only *.scenario.yaml" in err
    assert "rename it short.scenario.yaml" in err
    assert run(plain)[0] == console.EXIT_BAD_FILE
    # a directory: the .yml file is reported (pytest would skip it), the plain .yaml ignored
    status, out, err = run(tmp_path, "--keep-going", "-q")
    assert status == console.EXIT_BAD_FILE
    assert "short.scenario.yml" in err and "plain.yaml" not in err
    assert "1 scenario(s): 1 passed" in out
    assert run(good)[0] == console.EXIT_PASSED
    # a misnamed file that is also bad: both told at once
    (tmp_path / "sub").mkdir()
    worse = write(tmp_path / "sub", "worse", BAD, suffix=".yml")
    status, _, err = run(worse)
    assert status == console.EXIT_BAD_FILE
    assert "rename it worse.scenario.yaml" in err and "1 fortnight" in err


def test_coverage_in_text_and_html(library: Path, tmp_path: Path) -> None:
    (library / "c_bad.scenario.yaml").unlink()
    html = tmp_path / "report.html"
    status, out, _ = run(library, "-q", "--coverage", "--html", html)
    assert status == console.EXIT_FAILED
    assert "vpump protocol coverage" in out
    assert "STATUS x1" in out  # the failing scenario's interrogate
    page = html.read_text(encoding="utf-8")
    assert '<div class="vpump-coverage">' in page and page.rstrip().endswith("</html>")
    _, plain, _ = run(library, "-q")
    assert "protocol coverage" not in plain
