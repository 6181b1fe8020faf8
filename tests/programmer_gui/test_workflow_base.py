"""The workflow base: a page declared once (key, title, view) is added to the window, built
lazily on its first showing and wired then, once; draws wait for the page to be shown."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton, QWidget

from programmer_gui.app import Programmer
from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.views.widgets import connect_clicked


class CountingPage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.button = QPushButton("&Count", self)


class CountingWorkflow(Workflow):
    page = WorkflowPage("counting", "Counting", CountingPage)

    def setup(self) -> None:
        self.wired = 0
        self.shown = 0
        self.events: list[str] = []

    def wire_page(self) -> None:
        self.wired += 1
        connect_clicked(self.page.button, lambda: self.events.append("clicked"))

    def on_page_shown(self) -> None:
        self.shown += 1


def _install(programmer: Programmer) -> CountingWorkflow:
    return CountingWorkflow.install(
        programmer.window, programmer.link, programmer.record, programmer.review
    )


def test_a_declared_page_is_listed_at_once_and_built_and_wired_on_its_first_showing(
    fresh: Programmer,
) -> None:
    window = fresh.window
    workflow = _install(fresh)
    titles = [window.nav.item(row).text() for row in range(window.nav.count())]
    assert titles[-1] == "Counting"
    assert not workflow.page_is_built and workflow.wired == 0
    # Draws asked for while the page does not exist wait; the latest one wins.
    workflow.draw_when_shown(lambda: workflow.events.append("first draw"))
    workflow.draw_when_shown(lambda: workflow.events.append("latest draw"))
    assert workflow.events == [] and not workflow.page_is_built

    workflow.show_page()
    assert window.current_page() == "counting" and workflow.page_is_built
    assert (workflow.wired, workflow.shown) == (1, 1)
    assert workflow.events == ["latest draw"]
    workflow.page.button.click()
    assert workflow.events == ["latest draw", "clicked"]

    # Shown again: not built or wired again; a draw while it shows runs at once.
    window.show_page("connect")
    workflow.draw_when_shown(lambda: workflow.events.append("hidden draw"))
    workflow.show_page()
    workflow.draw_when_shown(lambda: workflow.events.append("shown draw"))
    assert (workflow.wired, workflow.shown) == (1, 2)
    assert workflow.events == ["latest draw", "clicked", "hidden draw", "shown draw"]
    workflow.page.button.click()
    assert workflow.events.count("clicked") == 2  # one connection: wired once


def test_asking_for_the_page_builds_it_without_showing_it(fresh: Programmer) -> None:
    workflow = _install(fresh)
    assert isinstance(workflow.page, CountingPage)
    assert workflow.page_is_built and workflow.wired == 1 and workflow.shown == 0
    assert fresh.window.current_page() == "connect"


def test_a_workflow_that_declares_no_page_is_refused_when_it_is_written() -> None:
    with pytest.raises(TypeError, match="declares no page"):

        class Pageless(Workflow):
            pass


def test_pages_built_at_start_are_there_before_any_showing(fresh: Programmer) -> None:
    window = fresh.window
    for key in ("connect", "alarms"):
        controller = fresh.controllers[key]
        assert isinstance(controller, Workflow)
        assert type(controller).declared_page.at_start and controller.page_is_built, key
    lazy = [c for c in fresh.controllers.values() if isinstance(c, Workflow)]
    assert {c.page_key for c in lazy if not c.page_is_built} == set(window.pages) - {
        "connect",
        "alarms",
        "review",
    }
