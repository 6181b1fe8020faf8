"""The simple continuous dose change: live figures while typing, refusals, then the review.

The text typed is the workflow's state: it is kept across polls and
reconnections and re-checked against every new snapshot, so nothing typed is
lost when the link drops.
"""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import CoreError, InputError
from programmer_gui.core.dose import ConfirmationRequiredError, DoseChange
from programmer_gui.core.review import change_percent, format_change
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.dose import DosePage
from programmer_gui.views.widgets import (
    Confirm,
    Severity,
    connect_clicked,
    value_confirmer,
)
from protocol import units

_EMPTY = "—"


class DoseController(Workflow):
    """Drives the dose page and hands a valid change to the review page."""

    page = WorkflowPage("dose", "Change dose", DosePage)

    def setup(self) -> None:
        self.change: DoseChange | None = None
        self.confirm: Confirm = value_confirmer(lambda: self.page)
        """Asks when a value is 10x or a tenth of the current one (tests replace it)."""
        self._touched = False
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        self.page.dose_edit.textEdited.connect(self._on_edited)
        self.page.dose_edit.returnPressed.connect(self.open_review)
        connect_clicked(self.page.review_button, self.open_review)
        connect_clicked(self.page.reset_button, self.reset)
        self._update_preview()

    # -- state -------------------------------------------------------------------------------

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        """Re-check the typed text against what the pump reports now."""
        page = self.page
        try:
            self.change = DoseChange(snapshot)
        except CoreError as exc:
            self.change = None
            page.current.set_value("prescription", exc.message)
            self._update_preview()
            return
        change = self.change
        page.current.set_value("prescription", change.current_text)
        page.current.set_value("dose", units.format_dose_ug_per_day(change.current_dose_ug_per_day))
        page.current.set_value(
            "concentration", units.format_concentration_ug_per_ml(snapshot.concentration_ug_per_ml)
        )
        page.current.set_value("limits", change.limits.text)
        if not self._touched and not page.dose_edit.text():
            page.dose_edit.setText(change.initial_text)
        self._update_preview()

    def _on_edited(self, _text: str) -> None:
        self._touched = True
        self.page.result.hide()
        self._update_preview()

    def reset(self) -> None:
        self._touched = False
        self.page.dose_edit.setText("" if self.change is None else self.change.initial_text)
        self._update_preview()

    def _update_preview(self) -> None:
        page = self.page
        change = self.change
        text = page.dose_edit.text()
        page.review_button.setEnabled(False)
        for key in ("rate", "alarm", "change"):
            page.preview.set_value(key, _EMPTY)
        if change is None:
            page.message.set_status(Severity.INFO, "Interrogate the pump (clinician role) first.")
            return
        if not text.strip():
            page.message.set_status(Severity.INFO, "Type the new daily dose in mcg/day.")
            return
        if not self._touched and text == change.initial_text:
            # The pump's own dose, shown as the starting point: nothing to review yet.
            page.message.set_status(
                Severity.INFO, "This is the dose the pump runs now: type a new daily dose."
            )
            return
        try:
            preview = change.preview(text)
        except InputError as exc:
            page.message.set_status(Severity.CRITICAL, exc.message)
            return
        page.preview.set_value("rate", preview.rate_text)
        page.preview.set_value("alarm", preview.alarm_date_text)
        percent = change_percent(change.current_dose_ug_per_day, preview.dose_ug_per_day)
        page.preview.set_value(
            "change",
            f"{format_change(percent, pending=preview.dose_ug_per_day)} "
            f"(from {units.format_dose_ug_per_day(change.current_dose_ug_per_day)})",
        )
        notes = [w.text for w in preview.warnings]
        if preview.confirmation is not None:
            notes.insert(0, preview.confirmation.text)
        if notes:
            page.message.set_status(Severity.WARNING, "\n".join(notes))
        else:
            page.message.set_status(Severity.OK, "Within the pump's limits. Review to program.")
        page.review_button.setEnabled(True)

    # -- to the review -----------------------------------------------------------------------

    def open_review(self) -> None:
        """Build the review (asking first about a 10x / 0.1x value) and present it."""
        change = self.change
        if change is None:
            return
        text = self.page.dose_edit.text()
        try:
            try:
                review = change.review(text)
            except ConfirmationRequiredError as needed:
                if not self.confirm("Check the decimal point", needed.check.text):
                    self.page.dose_edit.setFocus()
                    return
                review = change.review(text, confirmed=True)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return
        self.review_controller.present(
            review, on_programmed=self._on_programmed, on_cancel=self._on_cancel
        )

    def _on_programmed(self, snapshot: PumpSnapshot) -> None:
        self._touched = False
        self.on_snapshot(snapshot)
        self.page.dose_edit.setText("" if self.change is None else self.change.initial_text)
        self._update_preview()
        self.page.result.set_status(
            Severity.OK,
            "Programmed and confirmed: the pump now runs "
            f"{units.format_dose_ug_per_day(snapshot.dose_ug_per_day)}.",
        )
        self.page.result.show()
        self.show_page()

    def _on_cancel(self) -> None:
        self.show_page()
        self.page.dose_edit.setFocus()


install = DoseController.install
"""The dose page."""
