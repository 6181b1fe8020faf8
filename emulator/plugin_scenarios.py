"""Scenario files as pytest items (the vpump plugin collects ``*.scenario.yaml``): one item
per file or per case, tags as keywords and markers, JUnit properties and classnames without
``.scenario.yaml``, and pytest-html's extras when an HTML report is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFailed, ScenarioFileError
from emulator.scenarios.executor import run_scenario
from emulator.scenarios.loader import SUFFIX, load_scenarios
from emulator.scenarios.result import ScenarioResult

__all__ = ["JunitClassnames", "ScenarioFile", "ScenarioItem", "html_extras", "junit_classname"]


class ScenarioFile(pytest.File):
    """A ``*.scenario.yaml`` file: one test item, or one per case of its ``parameters:``
    table (``name[case]``); a bad file becomes one failing item."""

    def collect(self) -> Iterator[pytest.Item]:
        name = self.path.name.removesuffix(SUFFIX)
        try:
            scenarios = load_scenarios(self.path)
        except ScenarioFileError as exc:
            bad: ScenarioItem = ScenarioItem.from_parent(self, name=name, load_error=exc)
            yield bad
            return
        for scenario in scenarios:
            label = f"{name}[{scenario.case}]" if scenario.case else name
            item: ScenarioItem = ScenarioItem.from_parent(self, name=label, scenario=scenario)
            yield item


_TAG_MARKERS = pytest.StashKey[set[str]]()


class ScenarioItem(pytest.Item):
    """One scenario run as a test. Its tags are keywords (``-k``) and markers (``-m``); its
    tags and requirements are JUnit properties."""

    def __init__(
        self,
        *,
        scenario: md.Scenario | None = None,
        load_error: ScenarioFileError | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.result: ScenarioResult | None = None
        self.scenario = scenario
        self.load_error = load_error
        self.title = self.name
        if scenario is None:
            return
        self.title = scenario.title
        self.extra_keyword_matches.update(scenario.tags)
        registered = self.config.stash.setdefault(_TAG_MARKERS, set())
        for tag in scenario.tags:
            if tag not in registered:  # registered, so --strict-markers accepts them
                registered.add(tag)
                self.config.addinivalue_line("markers", f"{tag}: a scenario tag")
            self.add_marker(tag)
        if scenario.tags:
            self.user_properties.append(("tags", ", ".join(scenario.tags)))
        self.user_properties += [("requirement", r) for r in scenario.requirements]

    def runtest(self) -> None:
        if self.scenario is None:
            assert self.load_error is not None
            raise self.load_error
        result = run_scenario(self.scenario)
        self.result = result
        self.user_properties.append(("scenario", result.title))
        self.user_properties.append(("steps", str(len(result.steps))))
        if not result.passed:
            failed = result.failed_step
            if failed is not None:
                self.user_properties.append(("failed_step", f"{failed.index}: {failed.name}"))
            raise ScenarioFailed(result.failure_report(), result)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        error = excinfo.value
        if isinstance(error, ScenarioFileError):
            return "bad scenario file (nothing was run):\n" + "\n".join(
                f"  {p}" for p in error.problems
            )
        if isinstance(error, ScenarioFailed):
            return str(error)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.title}"


def junit_classname(nodeid: str, prefix: str | None = None) -> str | None:
    """The JUnit classname of a scenario item, as CI dashboards split it (package, then class):
    ``examples/scenarios/x.scenario.yaml::x[case]`` is ``examples.scenarios.x``; None for
    other items."""
    path, sep, _ = nodeid.partition("::")
    if not sep or not path.endswith(SUFFIX):
        return None
    dotted = path.removesuffix(SUFFIX).replace("/", ".").replace("\\", ".")
    return f"{prefix}.{dotted}" if prefix else dotted


class JunitClassnames:
    """Gives scenario items a JUnit classname without the ``.scenario.yaml`` (whose dots CI
    dashboards read as packages). Set once the test case is open; pytest keeps a classname
    set that way (as it keeps ``record_xml_attribute``'s), with pytest-xdist too."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            return  # the case is written out then: it was named at setup
        from _pytest.junitxml import xml_key  # noqa: PLC0415 - only with --junitxml

        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        classname = junit_classname(report.nodeid, xml.prefix)
        reporter = xml.node_reporters.get((report.nodeid, getattr(report, "node", None)))
        if classname is not None and reporter is not None:
            reporter.attrs["classname"] = classname


def html_extras(config: pytest.Config) -> Any:
    """pytest-html's ``extras`` module when the report is being written, else None."""
    if not config.pluginmanager.hasplugin("html") or not config.getoption("htmlpath", None):
        return None
    try:
        from pytest_html import extras  # noqa: PLC0415 - optional dependency
    except ImportError:
        return None
    return extras
