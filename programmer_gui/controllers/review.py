"""The one review page every change ends on, and the "Program pump" it guards.

:meth:`ReviewController.present` shows a :class:`~programmer_gui.core.review.Review`.
"Program pump" is enabled only when every warning is acknowledged and the link
is up; it asks for a confirmation, runs the review's action on the link's
worker, reads the pump again and reports success only when ``verify`` holds on
what the pump now reports. Any failure says the pump did not confirm the change
and shows what it reports; the review stays on the page, so the clinician can
reconnect and program again without typing anything twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from programmer_gui.core import ActionError
from programmer_gui.core.review import Review, describe_prescription
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import LinkState, PumpLink, describe_error, is_link_failure
from programmer_gui.views.main_window import MainWindow
from programmer_gui.views.review import ReviewPage
from programmer_gui.views.widgets import (
    Confirm,
    Severity,
    confirmer,
    connect_clicked,
)
from protocol.errors import NakError


def pump_reports(snapshot: PumpSnapshot | None) -> str:
    """What the pump runs as last read, in one line."""
    if snapshot is None or snapshot.prescription is None:
        return "unknown (not read)"
    return describe_prescription(
        snapshot.prescription,
        snapshot.concentration_ug_per_ml,
        minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
    )


@dataclass
class _Presented:
    review: Review
    on_programmed: Callable[[PumpSnapshot], None]
    on_cancel: Callable[[], None]
    return_to: str | None
    programming: bool = False
    failed: bool = False
    done: bool = False


PROGRAMMING_STAYS = (
    "Sent: wait for the pump's answer (Cancel and the other pages are back once it has answered)."
)
"""While programming runs, Cancel cannot recall what was sent; the page says so."""


class ReviewController(QObject):
    """Shows reviews and programs the pump from them."""

    def __init__(self, window: MainWindow, link: PumpLink, record: SessionRecord) -> None:
        super().__init__(window)
        self.window = window
        self.link = link
        self.record = record
        self.page = ReviewPage()
        # The hint says when the warnings to acknowledge are below the visible part.
        bar = self.page.scroll_area.verticalScrollBar()
        bar.valueChanged.connect(lambda _v: self._update_program_button())
        bar.rangeChanged.connect(lambda _lo, _hi: self._update_program_button())
        self.confirm: Confirm = confirmer(
            lambda: self.page, yes_text="&Program pump", no_text="&Go back (change nothing)"
        )
        """Asks before anything is sent (tests replace it)."""
        self.annotate: Callable[[Review], Review] = lambda review: review
        """Adds warnings to every review before it is shown (the titration watch sets it)."""
        self.confirm_leave: Confirm = confirmer(
            lambda: self.page, yes_text="&Discard the change", no_text="&Stay on the review"
        )
        """Asks before a pending review is left for another page (tests replace it)."""
        window.leave_guards.append(self._may_leave)
        self._current: _Presented | None = None
        connect_clicked(self.page.program_button, self.program)
        connect_clicked(self.page.cancel_button, self.cancel)
        link.state_changed.connect(lambda _state: self._update_program_button())
        link.snapshot.connect(self._on_snapshot)
        window.add_page("review", "Review", self.page)

    @property
    def review(self) -> Review | None:
        """The review on the page (None: none presented)."""
        return None if self._current is None else self._current.review

    def present(
        self,
        review: Review,
        *,
        on_programmed: Callable[[PumpSnapshot], None],
        on_cancel: Callable[[], None],
        chart: QWidget | None = None,
    ) -> None:
        """Show ``review``; ``on_programmed(snapshot)`` once the pump reports the new settings,
        ``on_cancel()`` if the clinician goes back. ``chart`` is shown above the warnings."""
        review = self.annotate(review)
        self._current = _Presented(
            review=review,
            on_programmed=on_programmed,
            on_cancel=on_cancel,
            return_to=self.window.current_page(),
        )
        page = self.page
        page.heading.setText(review.title)
        page.dose.set_value("current", review.current_daily_dose_text)
        page.dose.set_value("pending", review.pending_daily_dose_text)
        page.dose.set_value("change", review.change_text)
        page.set_rows([(r.label, r.current, r.pending, r.changed) for r in review.rows])
        page.set_notes(
            list(review.notes) + [f"{label}: {value}" for label, value in review.details]
        )
        page.set_chart(chart)
        page.set_warnings([w.text for w in review.warnings])
        for check in page.warning_checks:
            check.toggled.connect(lambda _on: self._update_program_button())
        page.set_result(None)
        page.cancel_button.setText("&Cancel (change nothing)")
        page.program_button.show()
        self._update_program_button()
        self.window.show_page("review")
        # Every review opens at its title, never at the previous review's scroll position.
        page.scroll_area.verticalScrollBar().setValue(0)
        if page.warning_checks:
            page.warning_checks[0].setFocus()
        else:
            page.program_button.setFocus()

    # -- the buttons -------------------------------------------------------------------------

    def all_acknowledged(self) -> bool:
        return all(check.isChecked() for check in self.page.warning_checks)

    def _update_program_button(self) -> None:
        current = self._current
        page = self.page
        if current is None or current.done:
            page.program_button.setEnabled(False)
            page.cancel_button.setEnabled(True)
            page.program_hint.setText("")
            return
        page.cancel_button.setEnabled(not current.programming)
        if current.programming:
            page.program_button.setEnabled(False)
            page.program_hint.setText(PROGRAMMING_STAYS)
            return
        if self.link.state is not LinkState.CONNECTED:
            page.program_button.setEnabled(False)
            page.program_hint.setText("Reconnect to the pump to program.")
            return
        missing = sum(not check.isChecked() for check in page.warning_checks)
        page.program_button.setEnabled(missing == 0)
        below = " (below: scroll down to them)" if page.warnings_below_view() else ""
        page.program_hint.setText(
            f"Acknowledge {missing} more warning{'s' if missing != 1 else ''}{below} to program."
            if missing
            else ""
        )

    def _may_leave(self, leaving: str, going_to: str) -> bool:
        """Whether the navigation may leave the review page: while programming, no (the
        page is where the pump's answer appears); with a change not yet sent, only when the
        clinician chooses to discard it."""
        current = self._current
        if leaving != "review" or current is None or current.done:
            return True
        if current.programming:
            self.window.statusBar().showMessage(PROGRAMMING_STAYS, 15_000)
            return False
        title = self.window.pages[going_to].title
        if not self.confirm_leave(
            "Leave the review",
            f"{current.review.title} has not been sent to the pump.\n\n"
            f"Discard it and go to {title}? The pump keeps what it runs now.",
        ):
            return False
        self._current = None
        self.record.record(
            "Review discarded",
            current.review.action.description,
            pump_clock_s=None if self.link.latest is None else self.link.latest.pump_clock_s,
            wall_s=self.link.wall(),
        )
        return True

    def cancel(self) -> None:
        """Leave the review; nothing is sent."""
        current = self._current
        if current is None or current.programming:
            return
        self._current = None
        if current.done:
            return
        current.on_cancel()

    def program(self) -> None:
        """Confirm, then run the review's action and verify what the pump reports."""
        current = self._current
        if current is None or current.programming or current.done:
            return
        if not self.all_acknowledged() or self.link.state is not LinkState.CONNECTED:
            return
        review = current.review
        question = (
            f"{review.action.description}.\n\n24-hour dose: {review.current_daily_dose_text} "
            f"→ {review.pending_daily_dose_text} ({review.change_text})."
        )
        if not self.confirm("Program the pump", question):
            return
        before = self.link.latest
        current.programming = True
        current.failed = False
        self.page.set_result(
            Severity.INFO,
            "Programming the pump … The change is on its way and cannot be called back; "
            "this page says what the pump reports as soon as it answers.",
        )
        self._update_program_button()

        def done(text: str) -> None:
            current.programming = False
            after = self.link.latest
            if after is None or after is before:
                self._fail(
                    current,
                    "The change was sent but the pump could not be read back to confirm it.",
                )
                return
            if not review.action.verify(after):
                self._fail(current, "The pump does not report the new settings after programming.")
                return
            self._succeed(current, after, text)

        def failed(error: Exception) -> None:
            current.programming = False
            self._fail(current, describe_error(error), error=error)

        self.link.submit(review.action.run, on_done=done, on_error=failed, refresh=True)

    # -- outcomes ----------------------------------------------------------------------------

    def _succeed(self, current: _Presented, snapshot: PumpSnapshot, text: str) -> None:
        current.done = True
        review = current.review
        self.record.record(
            review.title.removeprefix("Review: ").capitalize(),
            review.action.description,
            pump_clock_s=snapshot.pump_clock_s,
            wall_s=self.link.wall(),
            before=review.current_daily_dose_text,
            after=review.pending_daily_dose_text,
        )
        self.page.set_result(Severity.OK, f"Programmed and confirmed. {text}")
        self.page.program_button.hide()
        self.page.cancel_button.setText("&Done")
        self._update_program_button()
        self.window.statusBar().showMessage("The pump reports the new settings.", 15_000)
        if self._current is current:
            self._current = None
        # Back to the workflow's page first: it catches up with the pump (a hidden page
        # follows only once shown), then says what was programmed.
        if current.return_to is not None and current.return_to in self.window.pages:
            self.window.show_page(current.return_to)
        current.on_programmed(snapshot)

    def _fail(self, current: _Presented, reason: str, *, error: Exception | None = None) -> None:
        current.failed = True
        latest = self.link.latest
        refused = isinstance(error, NakError) or (
            isinstance(error, ActionError) and isinstance(error.__cause__, NakError)
        )
        if refused:
            keeps = "The pump refused the change and keeps its previous prescription"
        elif error is not None and is_link_failure(error):
            keeps = (
                "The pump did not confirm the change. Until it is reconnected and reports the "
                "new settings, assume it runs its previous prescription"
            )
        else:
            keeps = "The pump did not confirm the change; assume it runs its previous prescription"
        completed = ""
        if isinstance(error, ActionError) and error.completed:
            completed = f" Steps the pump carried out: {'; '.join(error.completed)}."
        self.page.set_result(
            Severity.CRITICAL,
            f"NOT PROGRAMMED. {reason} {keeps}.{completed}\n"
            f"The pump last reported: {pump_reports(latest)}.",
        )
        self.record.record(
            "Programming failed",
            f"{current.review.action.description}: {reason}",
            pump_clock_s=None if latest is None else latest.pump_clock_s,
            wall_s=self.link.wall(),
        )
        self._update_program_button()

    def _on_snapshot(self, snapshot: PumpSnapshot) -> None:
        current = self._current
        if current is None or not current.failed or current.programming or current.done:
            return
        # After a failure the page keeps saying what the pump reports; a change that did go
        # through before the link failed is recognised when the pump is read again.
        if current.review.action.verify(snapshot):
            self._succeed(
                current, snapshot, "The pump reports the new settings (confirmed on a later read)."
            )
            return
        self.page.set_result(
            Severity.CRITICAL,
            f"NOT PROGRAMMED. The pump runs its previous prescription: {pump_reports(snapshot)}. "
            "Press Program pump to try again.",
        )


def install(window: MainWindow, link: PumpLink, record: SessionRecord) -> ReviewController:
    """The review page (app.py creates it before the workflow installers, which get it)."""
    return ReviewController(window, link, record)
