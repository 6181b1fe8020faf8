"""The vpump pytest plugin and scenario files at full strength (issue 15), with ``pytester``.

Tags select with ``-m`` as with ``-k``; tags and requirements are JUnit
properties and the JUnit classname splits as CI dashboards expect;
parametrised files give one item per case; the marker takes weekly flex
profiles; a failing Python test on the fixtures shows the decoded frames.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from emulator.pytest_plugin import junit_classname

pytest_plugins = ["pytester"]

TAGGED = """\
scenario: a tagged story
tags: [smoke, motor-stall]
requirement: [SRS-1, SRS-2]
steps:
  - advance: 1d
  - expect: {reservoir: 19.8 mL}
"""

OTHER = """\
scenario: another story
tags: [slow]
requirement: SRS-3
steps:
  - advance: 1d
  - expect: {reservoir: 19.9 mL}
"""

TABLE = """\
scenario: a dose per case
parameters:
  - {case: low, dose: 50 mcg/day, left: 19.9 mL}
  - {case: high, dose: 200 mcg/day, left: 19.6 mL}
  - {case: wrong, dose: 100 mcg/day, left: 1 mL}
steps:
  - program: {simple: "${dose}"}
  - name: one day at ${dose}
    advance: 1d
  - expect: {reservoir: "${left}"}
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def test_tags_select_with_m_and_k_and_go_into_junit(pytester: pytest.Pytester) -> None:
    pytester.makefile(".scenario.yaml", tagged=TAGGED, other=OTHER)
    base = ("-q", "-p", "no:cacheprovider", "--strict-markers")
    result = run(pytester, *base, "-m", "smoke")
    result.assert_outcomes(passed=1, deselected=1)
    run(pytester, *base, "-m", "motor-stall or slow").assert_outcomes(passed=1, failed=1)
    run(pytester, *base, "-m", "not smoke").assert_outcomes(failed=1, deselected=1)
    run(pytester, *base, "-k", "smoke").assert_outcomes(passed=1, deselected=1)
    # Registered as they are collected: no unknown-mark warning even without --strict-markers.
    assert (
        "PytestUnknownMarkWarning" not in run(pytester, "-q", "-p", "no:cacheprovider").stdout.str()
    )

    run(pytester, *base, "--junitxml=out.xml")
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "out.xml").iter("testcase")}
    assert set(cases) == {"tagged", "other"}
    # The file is the class; the directory the package (no ".scenario.yaml" in it).
    assert cases["tagged"].get("classname") == "tagged"
    properties = [(p.get("name"), p.get("value")) for p in cases["tagged"].iter("property")]
    assert ("tags", "smoke, motor-stall") in properties
    assert ("requirement", "SRS-1") in properties and ("requirement", "SRS-2") in properties
    other = [(p.get("name"), p.get("value")) for p in cases["other"].iter("property")]
    assert ("requirement", "SRS-3") in other and (
        "failed_step",
        "2: expect: reservoir 19.9 mL",
    ) in other


def _junit_classname_under_a_directory(pytester: pytest.Pytester, *extra: str) -> None:
    pytester.mkdir("stories")
    (pytester.path / "stories" / "tagged.scenario.yaml").write_text(TAGGED, encoding="utf-8")
    run(pytester, "-q", "-p", "no:cacheprovider", "--junitxml=out.xml", *extra)
    case = next(ET.parse(pytester.path / "out.xml").iter("testcase"))
    assert case.get("classname") == "stories.tagged"
    assert case.get("name") == "tagged"


def test_the_junit_classname_under_a_directory(pytester: pytest.Pytester) -> None:
    _junit_classname_under_a_directory(pytester)
    assert junit_classname("a/b/x.scenario.yaml::x[low]", "ci") == "ci.a.b.x"
    assert junit_classname("tests/test_x.py::test_a") is None


@pytest.mark.slow  # pytest-xdist inside pytest (make test runs it; make check does not)
def test_the_junit_classname_under_xdist(pytester: pytest.Pytester) -> None:
    _junit_classname_under_a_directory(pytester, "-n", "2")


def test_a_parametrised_file_is_one_item_per_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".scenario.yaml", table=TABLE)
    result = run(pytester, "-v", "-p", "no:cacheprovider", "--junitxml=out.xml")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*table.scenario.yaml::table[[]low[]] PASSED*",
            "*table.scenario.yaml::table[[]high[]] PASSED*",
            "*table.scenario.yaml::table[[]wrong[]] FAILED*",
            "*scenario 'a dose per case [[]wrong[]]'*FAILED*",
            "*step 3 (*table.scenario.yaml:10) 'expect: reservoir 1 mL' failed*",
            "*FAIL reservoir: expected 1 mL, actual 19.8 mL*",
        ]
    )
    names = {c.get("name") for c in ET.parse(pytester.path / "out.xml").iter("testcase")}
    assert names == {"table[low]", "table[high]", "table[wrong]"}
    run(pytester, "-q", "-p", "no:cacheprovider", "-k", "high").assert_outcomes(passed=1)


def test_a_bad_case_is_reported_with_its_line(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".scenario.yaml",
        bad=TABLE.replace("dose: 200 mcg/day", "dose: 200 mg/day").replace("${left}", "${lef}"),
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*bad scenario file (nothing was run):*",
            "*bad.scenario.yaml:10:25: ${lef}: no such parameter or counter "
            "(known: case, dose, left)*",
            "*bad.scenario.yaml:7:23: '200 mg/day' is not valid here*",
        ]
    )


def test_the_marker_takes_a_weekly_flex_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        DAY = [{"at": "00:00", "dose": "100 mcg/day"}, {"at": "07:00", "dose": "150 mcg/day"}]
        WEEKEND = [{"at": "00:00", "dose": "120 mcg/day"}]
        WEEK = {d: DAY for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}
        WEEK |= {"saturday": WEEKEND, "sunday": WEEKEND}

        @pytest.mark.vpump(concentration="500 mcg/mL", prescription={"flex_weekly": WEEK})
        def test_saturday(virtual_pump, pump_client):
            # The fixture starts on Monday 2026-09-21 08:00 UTC: Saturday is 4 d 16 h later.
            # 100 x 7/24 + 150 x 17/24 mcg/day, in whole ng/day
            assert pump_client.status().daily_dose_ng == 135_416
            virtual_pump.advance("4d 16h")
            assert pump_client.status().daily_dose_ng == 120_000

        @pytest.mark.vpump(prescription={"flex_weekly": {"monday": DAY}})
        def test_a_week_needs_every_day(virtual_pump):
            pass
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*:16: vpump option prescription: missing 'tuesday', 'wednesday', 'thursday', "
            "'friday', 'saturday', 'sunday' (flex_weekly has a flex profile for each day*"
        ]
    )


def test_a_failing_fixture_test_shows_the_decoded_frames(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_a_wrong_dose(pump_client):
            status = pump_client.status()
            assert status.daily_dose_ng == 150_000

        def test_no_traffic(virtual_pump):
            assert virtual_pump.now_s == 0
        """
    )
    result = run(pytester, "-q", "-p", "no:cacheprovider", "--html=report.html")
    result.assert_outcomes(failed=2)
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert "STATUS response" in html and "no frames crossed the link" in html
    result.stdout.fnmatch_lines(
        [
            "*vpump: last frames on the wire, decoded*",
            "*programmer -> pump: SEQ * STATUS request*",
            "*pump -> programmer: SEQ * STATUS response*",
        ]
    )
    result.stdout.fnmatch_lines(["*no frames crossed the link*"])


def test_a_fixture_client_on_a_cut_link_times_out_without_waiting(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from protocol.errors import LinkTimeout

        @pytest.mark.vpump(timeout="3600 s", retries=3)
        def test_cut(virtual_pump, pump_client):
            virtual_pump.emulator.set_link(disconnected=True)
            # Four attempts of an hour each, if they were waited out.
            with pytest.raises(LinkTimeout, match="after 4 attempt"):
                pump_client.status()
            virtual_pump.emulator.set_link(disconnected=False)
            assert pump_client.status().reservoir_nl == 20_000_000
        """
    )
    run(pytester, "-q", "-p", "no:cacheprovider").assert_outcomes(passed=1)
