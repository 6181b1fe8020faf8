"""The refill workflow: removed volume and discrepancy, added volume and the CHOSEN
concentration, and on a concentration change the dose and the bridge; then the one review,
whose action is one refill transaction.

Everything typed stays on the page across polls and reconnections and is
checked again against each new snapshot.
"""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import CoreError, InputError
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.dose import ConfirmationRequiredError, check_dose_limits, dose_ng
from programmer_gui.core.implant import catheter_text
from programmer_gui.core.refill import (
    COMMERCIAL_CONCENTRATIONS_UG_PER_ML,
    RefillWorkflow,
    dead_volume_bounds_nl,
    review_volume_nl,
)
from programmer_gui.core.review import Review, format_rate_ml_per_day
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.refill import RefillPage
from programmer_gui.views.widgets import (
    Confirm,
    Severity,
    connect_clicked,
    value_confirmer,
)
from protocol import messages as m
from protocol import units

OTHER = -1
"""Combo data of the "Other (override)" entry."""
CHOOSE = 0
"""Combo data of the first entry: nothing chosen yet (the concentration is never defaulted)."""


class RefillController(Workflow):
    """Drives the refill page and hands the refill to the review page."""

    page = WorkflowPage("refill", "Refill", RefillPage)

    def setup(self) -> None:
        self.workflow: RefillWorkflow | None = None
        self.confirm: Confirm = value_confirmer(lambda: self.page)
        """Asks when a new dose is 10x or a tenth of the current one (tests replace it)."""
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        page.concentration_combo.addItem("Choose the concentration\u2026", CHOOSE)
        for conc in COMMERCIAL_CONCENTRATIONS_UG_PER_ML:
            page.concentration_combo.addItem(units.format_concentration_ug_per_ml(conc), conc)
        page.concentration_combo.addItem("Other (needs the explicit override)…", OTHER)
        for edit in (
            page.removed_edit,
            page.added_edit,
            page.other_edit,
            page.dose_edit,
        ):
            edit.textEdited.connect(lambda _text: self._on_edited())
            edit.returnPressed.connect(self.open_review)
        page.concentration_combo.currentIndexChanged.connect(lambda _i: self.update_preview())
        # The previous refill's success goes as soon as the next one is being entered.
        page.concentration_combo.activated.connect(lambda _i: page.result.hide())
        for check in (page.override_check, page.bridge_check, page.keep_radio):
            check.toggled.connect(lambda _on: self.update_preview())
        connect_clicked(page.review_button, self.open_review)
        connect_clicked(page.clear_button, self.clear)
        self.update_preview()

    # -- state -------------------------------------------------------------------------------

    def _on_edited(self) -> None:
        self.page.result.hide()  # the previous refill's success is not this one's
        self.update_preview()

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        try:
            self.workflow = RefillWorkflow(snapshot)
        except CoreError as exc:
            self.workflow = None
            self.page.message.set_status(Severity.INFO, exc.message)
            return
        workflow = self.workflow
        before = self.page.before
        before.set_value("expected", units.format_volume_nl(workflow.expected_nl))
        before.set_value(
            "concentration", units.format_concentration_ug_per_ml(snapshot.concentration_ug_per_ml)
        )
        before.set_value("capacity", units.format_volume_nl(workflow.capacity_nl))
        before.set_value(
            "tolerance", f"± {units.format_volume_nl(workflow.threshold_nl)} for this model"
        )
        implant = snapshot.implant_record
        if implant is None:
            self.page.catheter_label.setText(
                "No implant record: the bridge needs one (Implant record page)."
            )
        else:
            low, high = dead_volume_bounds_nl(device=snapshot.device, implant=implant)
            dead = (
                units.format_volume_nl(low)
                if low == high
                else f"{units.format_volume_nl(low)} to {units.format_volume_nl(high)}"
            )
            self.page.catheter_label.setText(
                f"{catheter_text(implant)}; dead volume with the pump's tubing {dead}."
            )
        self.update_preview()

    def concentration(self) -> int | str | None:
        """The concentration chosen (None until one is: it is never defaulted)."""
        data = self.page.concentration_combo.currentData()
        if data == OTHER:
            return self.page.other_edit.text()
        if data == CHOOSE or data is None:
            return None
        return int(data)

    def clear(self) -> None:
        page = self.page
        for edit in (
            page.removed_edit,
            page.added_edit,
            page.other_edit,
            page.dose_edit,
            page.lot_edit,
        ):
            edit.clear()
        page.concentration_combo.setCurrentIndex(0)
        page.override_check.setChecked(False)
        page.keep_radio.setChecked(True)
        page.bridge_check.setChecked(True)
        if self.link.latest is not None:
            self.on_snapshot(self.link.latest)
        self.update_preview()

    def update_preview(self) -> None:
        """Check each entry as typed; say what is wrong or what it will mean."""
        page = self.page
        page.review_button.setEnabled(False)
        other = page.concentration_combo.currentData() == OTHER
        page.other_edit.setEnabled(other)
        page.override_check.setEnabled(other)
        page.dose_edit.setEnabled(page.new_dose_radio.isChecked())
        workflow = self.workflow
        if workflow is None:
            page.discrepancy.set_status(Severity.INFO, "Interrogate the pump first.")
            page.change_box.hide()
            return
        problems: list[str] = []
        removed_nl: int | None = None
        if page.removed_edit.text().strip():
            try:
                check = workflow.check_removed(page.removed_edit.text())
            except InputError as exc:
                page.discrepancy.set_status(Severity.CRITICAL, exc.message)
                problems.append(exc.message)
            else:
                removed_nl = check.removed_nl
                page.discrepancy.set_status(
                    Severity.WARNING if check.flagged else Severity.OK, check.text
                )
        else:
            page.discrepancy.set_status(
                Severity.INFO,
                f"Empty the reservoir, then type the volume removed (expected "
                f"{units.format_volume_nl(workflow.expected_nl)}).",
            )
            problems.append("Type the volume removed.")
        if removed_nl is not None:
            room = workflow.room_nl(removed_nl)
            page.room_label.setText(f"At most {units.format_volume_nl(room)} fits.")
            if page.added_edit.text().strip():
                try:
                    workflow.check_added(page.added_edit.text(), removed_nl=removed_nl)
                except InputError as exc:
                    problems.append(exc.message)
            else:
                problems.append("Type the volume added.")
        else:
            page.room_label.setText("")
        changed = self._preview_concentration(workflow, problems)
        page.change_box.setVisible(changed)
        if problems:
            page.message.set_status(
                Severity.CRITICAL
                if any(not p.startswith(("Type ", "Concentration: choose")) for p in problems)
                else Severity.INFO,
                "\n".join(problems),
            )
            return
        page.message.set_status(Severity.OK, "Ready to review the refill.")
        page.review_button.setEnabled(True)

    def _preview_concentration(self, workflow: RefillWorkflow, problems: list[str]) -> bool:
        page = self.page
        try:
            choice = workflow.choose_concentration(
                self.concentration(), override=page.override_check.isChecked()
            )
        except InputError as exc:
            problems.append(exc.message)
            return False
        if not choice.changed:
            return False
        conc = choice.concentration_ug_per_ml
        snapshot = workflow.snapshot
        before = units.format_dose_ug_per_day(snapshot.dose_ug_per_day)
        pending = None
        if page.keep_radio.isChecked():
            try:
                pending = workflow.same_dose(conc)
            except InputError as exc:
                problems.append(exc.message)
                page.new_rate_label.setText("")
            else:
                new_volume = review_volume_nl(snapshot, pending, conc)
                page.new_rate_label.setText(
                    f"24-hour dose: {before} before, {before} after (the same mcg/day): "
                    f"{format_rate_ml_per_day(new_volume)} of "
                    f"{units.format_concentration_ug_per_ml(conc)} "
                    f"(was {format_rate_ml_per_day(snapshot.daily_volume_nl)})."
                )
        else:
            text = page.dose_edit.text()
            try:
                dose = workflow.dose_entry.parse(text)
                rate = check_dose_limits(
                    snapshot, dose, label=workflow.dose_entry.label, concentration_ug_per_ml=conc
                )
            except InputError as exc:
                problems.append(exc.message)
                page.new_rate_label.setText("")
            else:
                page.new_rate_label.setText(
                    f"24-hour dose: {before} before, {units.format_dose_ug_per_day(dose)} "
                    f"after: {format_rate_ml_per_day(rate)} of "
                    f"{units.format_concentration_ug_per_ml(conc)}."
                )
                pending = m.PrescriptionSpec.simple(dose_ng(dose), concentration_ug_per_ml=conc)
        if not page.bridge_check.isChecked():
            page.bridge_label.setText(
                "Bridge declined: the old drug in the catheter reaches the patient at the new "
                "rates (a wrong dose for days)."
            )
            return True
        unavailable = workflow.bridge_unavailable_reason(conc)
        if unavailable is not None:
            page.bridge_label.setText(f"Bridge not possible: {unavailable}.")
            problems.append(f"Bridge not possible: {unavailable}; or decline the bridge.")
            return True
        if pending is None or removed_nl_after(page, workflow) is None:
            page.bridge_label.setText("The bridge's duration shows once the volumes are typed.")
            return True
        after_nl = removed_nl_after(page, workflow)
        assert after_nl is not None
        bridge = workflow.bridge(concentration_ug_per_ml=conc, pending=pending, after_nl=after_nl)
        page.bridge_label.setText("Bridge: " + bridge.text(snapshot))
        return True

    # -- to the review -----------------------------------------------------------------------

    def open_review(self) -> None:
        workflow = self.workflow
        if workflow is None:
            return
        page = self.page

        def build(confirmed: bool) -> Review:
            return workflow.review(
                removed_text=page.removed_edit.text(),
                added_text=page.added_edit.text(),
                concentration=self.concentration(),
                override=page.override_check.isChecked(),
                bridge_accepted=page.bridge_check.isChecked(),
                drug_lot=page.lot_edit.text().strip(),
                dose_text=page.dose_edit.text() if page.new_dose_radio.isChecked() else None,
                confirmed=confirmed,
            )

        try:
            try:
                review = build(False)
            except ConfirmationRequiredError as needed:
                if not self.confirm("Check the decimal point", needed.check.text):
                    return
                review = build(True)
        except InputError as exc:
            page.message.set_status(Severity.CRITICAL, exc.message)
            return
        self.review_controller.present(
            review, on_programmed=self._on_programmed, on_cancel=self._on_cancel
        )

    def _on_programmed(self, snapshot: PumpSnapshot) -> None:
        alarm = snapshot.status.low_reservoir_alarm_at_s
        alarm_text = "not within 10 years" if alarm is None else format_pump_date(snapshot, alarm)
        volume = units.format_volume_nl(snapshot.status.reservoir_nl)
        conc = units.format_concentration_ug_per_ml(snapshot.concentration_ug_per_ml)
        self.clear()
        bridge = ""
        status = snapshot.status
        if snapshot.bridging:
            bridge = (
                f" The bridge runs: ends {format_pump_date(snapshot, status.bridge_ends_at_s)} "
                "(countdown on the Status page)."
            )
        self.page.result.set_status(
            Severity.OK,
            f"Refill recorded and confirmed: {volume} of {conc}; "
            f"{units.format_dose_ug_per_day(snapshot.dose_ug_per_day)}. "
            f"New low-reservoir alarm date: {alarm_text}.{bridge}",
        )
        self.page.result.show()
        self.show_page()

    def _on_cancel(self) -> None:
        self.show_page()


def removed_nl_after(page: RefillPage, workflow: RefillWorkflow) -> int | None:
    """The reservoir after the refill as typed so far (None while a volume is missing)."""
    try:
        check = workflow.check_removed(page.removed_edit.text())
        added = workflow.check_added(page.added_edit.text(), removed_nl=check.removed_nl)
    except InputError:
        return None
    return workflow.reservoir_after_nl(removed_nl=check.removed_nl, added_nl=added)


install = RefillController.install
"""The refill page."""
