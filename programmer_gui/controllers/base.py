"""The base of every workflow controller: what each one is given, set up once.

Every workflow is given the same four things: the main window (its pages and
banners), the one pump link, the session record and the review controller
(the single review screen every change goes through). :class:`Workflow`
keeps them, parents the controller to the window (Qt then owns it) and gives
the subclass its ``install`` (the one-line installer ``controllers`` lists),
the role Vorta's ``BaseTab`` plays for its tabs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Self, TypeVar

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from programmer_gui.controllers.review import ReviewController
    from programmer_gui.core.session_record import SessionRecord
    from programmer_gui.core.snapshot import PumpSnapshot
    from programmer_gui.link import PumpLink
    from programmer_gui.views.main_window import MainWindow


_W = TypeVar("_W", bound=QWidget)


class Workflow(QObject):
    """A workflow's controller: the window, the link, the record and the review.

    Subclasses build their page, wire it and add it to the window in their own
    ``__init__`` after calling this one.
    """

    def __init__(
        self, window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
    ) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.record = record
        self.review_controller = review
        self._drawing_deferred: dict[str, Callable[[], object]] = {}
        window.page_shown.connect(self._draw_deferred)

    def page_of(self, key: str, kind: type[_W]) -> _W:
        """The widget of the page ``key`` (built now if the page is built lazily, on first
        show, and was not yet: :meth:`MainWindow.add_page`)."""
        page = self.window.page(key)
        assert isinstance(page, kind)
        return page

    def draw_when_shown(self, key: str, draw: Callable[[], object]) -> None:
        """Run ``draw`` now if the page ``key`` is the one shown, else once it is shown: a
        hidden page's charts are not redrawn on every snapshot (the latest draw wins)."""
        if self.window.current_page() == key:
            self._drawing_deferred.pop(key, None)
            draw()
        else:
            self._drawing_deferred[key] = draw

    def follow_snapshots(self, key: str, handler: Callable[[PumpSnapshot], None]) -> None:
        """``handler(snapshot)`` for every snapshot while the page ``key`` is shown; while it
        is hidden, only the latest, once it is shown again (a poll then costs the shown
        page alone: #14 item 13)."""

        def on_snapshot(snapshot: PumpSnapshot) -> None:
            self.draw_when_shown(key, lambda: handler(snapshot))

        self.link.snapshot.connect(on_snapshot)

    def _draw_deferred(self, key: str) -> None:
        draw = self._drawing_deferred.pop(key, None)
        if draw is not None:
            draw()

    @classmethod
    def install(
        cls, window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
    ) -> Self:
        """Build the workflow (its page joins the window): the installer ``controllers``
        lists."""
        return cls(window, link, record, review)
