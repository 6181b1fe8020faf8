"""Stop and resume: each through the review page (the withdrawal warning must be
acknowledged); the reason goes to the pump's log, the note to the session record."""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import InputError
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.core.stop import (
    build_resume_review,
    build_stop_review,
    delivery_state,
    is_stopped,
    plan_stop,
)
from programmer_gui.views.stop import StopPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol.enums import StopReason


class StopController(Workflow):
    """Drives the stop and resume page."""

    page = WorkflowPage("stop", "Stop / resume", StopPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        connect_clicked(self.page.stop_button, self.open_stop_review)
        connect_clicked(self.page.resume_button, self.open_resume_review)
        self._update()

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.snapshot = snapshot
        self._update()

    def _update(self) -> None:
        page = self.page
        snapshot = self.snapshot
        if snapshot is None or snapshot.prescription is None:
            page.state_label.setText("Interrogate the pump (clinician role) first.")
            page.stop_button.setEnabled(False)
            page.resume_button.setEnabled(False)
            return
        stopped = is_stopped(snapshot)
        # Both marks are in DejaVu Sans (the stop-button emoji is not).
        page.state_label.setText(("■ " if stopped else "▶ ") + delivery_state(snapshot))
        # Stop only what runs; Resume only what Stop pump stopped (a Stopped prescription is
        # changed by programming one).
        page.stop_button.setEnabled(not snapshot.stopped)
        page.resume_button.setEnabled(stopped)

    @property
    def reason(self) -> StopReason:
        return StopReason(int(self.page.reason_combo.currentData()))

    def open_stop_review(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        try:
            plan = plan_stop(reason=self.reason, note=self.page.note_edit.text(), snapshot=snapshot)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return
        review = build_stop_review(plan, snapshot)

        def programmed(after: PumpSnapshot) -> None:
            self.record.record(
                "Stop reason",
                plan.record_detail(),
                pump_clock_s=after.pump_clock_s,
                wall_s=self.link.wall(),
            )
            self.page.note_edit.clear()
            self.page.message.set_status(
                Severity.CRITICAL, "The pump is STOPPED. Resume as soon as it is safe."
            )
            self.on_snapshot(after)
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)

    def open_resume_review(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        try:
            review = build_resume_review(snapshot)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return

        def programmed(after: PumpSnapshot) -> None:
            self.page.message.set_status(Severity.OK, "Delivery resumed.")
            self.on_snapshot(after)
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)


install = StopController.install
"""The stop and resume page."""
