"""The base of every workflow controller: what each one is given, and its page, set up once.

Every workflow is given the same four things: the main window (its pages and
banners), the one pump link, the session record and the review controller
(the single review screen every change goes through). :class:`Workflow`
keeps them, parents the controller to the window (Qt then owns it), adds the
workflow's page to the window and gives the subclass its ``install`` (the
one-line installer ``controllers`` lists), the role Vorta's ``BaseTab`` plays
for its tabs.

A workflow declares its page once, as the class attribute ``page``::

    class StopController(Workflow):
        page = WorkflowPage("stop", "Stop / resume", StopPage)

        def setup(self) -> None:  # its state and its link's signals
            self.snapshot: PumpSnapshot | None = None
            self.follow_snapshots(self.on_snapshot)

        def wire_page(self) -> None:  # the page's widgets, once it is built
            connect_clicked(self.page.stop_button, self.open_stop_review)

Most pages are built lazily (#14 item 13): the page's widgets are made the first
time it is shown or ``self.page`` asks for them, and only then is
:meth:`Workflow.wire_page` run, which also shows the state the workflow kept
while the page did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, Self, TypeVar, overload

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from programmer_gui.controllers.review import ReviewController
    from programmer_gui.core.session_record import SessionRecord
    from programmer_gui.core.snapshot import PumpSnapshot
    from programmer_gui.link import PumpLink
    from programmer_gui.views.main_window import MainWindow


_P_co = TypeVar("_P_co", bound=QWidget, covariant=True)


@dataclass(frozen=True)
class WorkflowPage(Generic[_P_co]):
    """A workflow's page: its key, its title in the page list and its view class.

    As the class attribute ``page`` of a :class:`Workflow`, ``self.page`` is the view
    (built now if it was not yet). The view is built lazily, on its first showing,
    unless ``at_start`` (the page shown first, and the alarms, whose tones sound
    whichever page shows); ``needs_connection`` pages are disabled until a pump is
    connected.
    """

    key: str
    title: str
    view: type[_P_co]
    needs_connection: bool = field(default=True, kw_only=True)
    at_start: bool = field(default=False, kw_only=True)

    @overload
    def __get__(self, workflow: None, owner: type[Workflow]) -> Self: ...

    @overload
    def __get__(self, workflow: Workflow, owner: type[Workflow]) -> _P_co: ...

    def __get__(self, workflow: Workflow | None, owner: type[Workflow]) -> Self | _P_co:
        if workflow is None:
            return self
        page = workflow.window.page(self.key)
        assert isinstance(page, self.view)
        return page

    def add_to(self, workflow: Workflow) -> None:
        """Add the page to the workflow's window; ``workflow.wire_page()`` runs once it is
        built (at once when ``at_start``)."""
        workflow.window.add_page(
            self.key,
            self.title,
            self.view() if self.at_start else self.view,
            needs_connection=self.needs_connection,
            on_built=workflow.wire_page,
        )


class Workflow(QObject):
    """A workflow's controller: the window, the link, the record, the review and its page.

    Subclasses declare ``page = WorkflowPage(...)``, set their state and connect the
    link in :meth:`setup`, and connect the page's widgets in :meth:`wire_page`.
    """

    declared_page: ClassVar[WorkflowPage[QWidget]]
    """The subclass's ``page`` (found when the class is made)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        page = getattr(cls, "page", None)
        if not isinstance(page, WorkflowPage):
            raise TypeError(f"{cls.__name__} declares no page = WorkflowPage(key, title, view)")
        cls.declared_page = page

    def __init__(
        self, window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
    ) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.record = record
        self.review_controller = review
        self._drawing_deferred: Callable[[], object] | None = None
        window.page_shown.connect(self._on_window_page_shown)
        self.setup()
        type(self).declared_page.add_to(self)

    def setup(self) -> None:
        """The workflow's state and its connections to the link, before its page joins the
        window (the page does not exist yet: it is built later, unless built at start)."""

    def wire_page(self) -> None:
        """Connect the page's widgets once it is built, and show the state kept so far."""

    def on_page_shown(self) -> None:
        """Run each time the page is shown (after a draw deferred while it was hidden)."""

    @property
    def page_key(self) -> str:
        return type(self).declared_page.key

    @property
    def page_is_built(self) -> bool:
        """Whether the page's widgets exist (those of a lazily built page, once shown or
        asked for)."""
        return self.window.is_built(self.page_key)

    def show_page(self) -> None:
        """Show the workflow's page (building it if it was not yet)."""
        self.window.show_page(self.page_key)

    def draw_when_shown(self, draw: Callable[[], object]) -> None:
        """Run ``draw`` now if the page is the one shown, else once it is shown: a hidden
        page's charts are not redrawn on every snapshot (the latest draw wins)."""
        if self.window.current_page() == self.page_key:
            self._drawing_deferred = None
            draw()
        else:
            self._drawing_deferred = draw

    def follow_snapshots(self, handler: Callable[[PumpSnapshot], None]) -> None:
        """``handler(snapshot)`` for every snapshot while the page is shown; while it is
        hidden (or not built yet), only the latest, once it is shown again (a poll then
        costs the shown page alone: #14 item 13)."""

        def on_snapshot(snapshot: PumpSnapshot) -> None:
            self.draw_when_shown(lambda: handler(snapshot))

        self.link.snapshot.connect(on_snapshot)

    def _on_window_page_shown(self, key: str) -> None:
        if key != self.page_key:
            return
        draw, self._drawing_deferred = self._drawing_deferred, None
        if draw is not None:
            draw()
        self.on_page_shown()

    @classmethod
    def install(
        cls, window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
    ) -> Self:
        """Build the workflow (its page joins the window): the installer ``controllers``
        lists."""
        return cls(window, link, record, review)
