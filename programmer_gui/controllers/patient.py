"""Patient-activated dose settings: typed values checked live, their effect on the forecast,
then the review; the settings before and after go to the session record.

The typed texts are the workflow's state: they survive polls and reconnections
and are checked again against every new snapshot; until the clinician edits,
they follow what the pump holds.
"""

from __future__ import annotations

from fractions import Fraction

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import InputError
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.patient import (
    DOSE_UG,
    DURATION_MIN,
    LOCKOUT_MIN,
    MAX_PER_24H,
    PatientPlan,
    build_review,
    describe_current,
    plan_settings,
)
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.patient import EFFECT_ROWS, PatientPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import units
from protocol.schedule import volume_for_dose


class PatientController(Workflow):
    """Drives the patient-activated dose page."""

    page = WorkflowPage("patient", "Patient doses", PatientPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.plan: PatientPlan | None = None
        self.touched = False
        """The clinician has edited: keep the texts rather than follow the pump."""
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        for edit in page.edits:
            edit.textEdited.connect(lambda _text: self._on_edited())
        page.enabled_check.clicked.connect(lambda _on: self._on_edited())
        connect_clicked(page.reset_button, self.reset)
        connect_clicked(page.review_button, self.open_review)
        self._update()

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.snapshot = snapshot
        if not self.touched:
            self._load_from_pump(snapshot)
        self._update()

    def _load_from_pump(self, snapshot: PumpSnapshot) -> None:
        page = self.page
        settings = snapshot.patient_settings
        enabled = settings is not None and settings.enabled
        page.enabled_check.setChecked(enabled)
        texts = ("", "", "", "")
        if settings is not None and settings.dose_ng > 0:
            dose = Fraction(settings.dose_ng, 1000)
            texts = (
                DOSE_UG.format(dose),
                str(settings.duration_s // 60),
                str(settings.lockout_s // 60),
                str(settings.max_per_24h),
            )
        for edit, text in zip(page.edits, texts, strict=True):
            edit.setText(text)

    def reset(self) -> None:
        """Drop the edits and show the pump's settings again."""
        self.touched = False
        if self.snapshot is not None:
            self._load_from_pump(self.snapshot)
        self._update()

    def _on_edited(self) -> None:
        self.touched = True
        self._update()

    def _update(self) -> None:
        page = self.page
        enabled = page.enabled_check.isChecked()
        for edit in page.edits:
            edit.setEnabled(enabled)
        page.review_button.setEnabled(False)
        for key, _label, _big in EFFECT_ROWS:
            page.effect.set_value(key, "—")
        self.plan = None
        snapshot = self.snapshot
        if snapshot is None or snapshot.prescription is None:
            page.current_label.setText("—")
            page.message.set_status(Severity.INFO, "Interrogate the pump (clinician role) first.")
            return
        page.current_label.setText("\n".join(describe_current(snapshot)))
        try:
            if enabled:
                plan = plan_settings(
                    enabled=True,
                    dose_ug=DOSE_UG.parse(page.dose_edit.text()),
                    duration_min=int(DURATION_MIN.parse(page.duration_edit.text())),
                    lockout_min=int(LOCKOUT_MIN.parse(page.lockout_edit.text())),
                    max_per_24h=int(MAX_PER_24H.parse(page.max_edit.text())),
                    snapshot=snapshot,
                )
            else:
                plan = plan_settings(
                    enabled=False,
                    dose_ug=0,
                    duration_min=0,
                    lockout_min=0,
                    max_per_24h=0,
                    snapshot=snapshot,
                )
        except InputError as exc:
            page.message.set_status(Severity.CRITICAL, exc.message)
            return
        self.plan = plan
        self._show_effect(plan, snapshot)
        if plan.warnings:
            page.message.set_status(Severity.WARNING, "\n".join(text for _, text in plan.warnings))
        elif self.touched:
            page.message.set_status(Severity.OK, "Review to program the new settings.")
        else:
            page.message.set_status(
                Severity.INFO, "These are the pump's settings; edit them to make a change."
            )
        page.review_button.setEnabled(True)

    def _show_effect(self, plan: PatientPlan, snapshot: PumpSnapshot) -> None:
        effect = self.page.effect
        settings = plan.settings
        if settings.enabled:
            volume = volume_for_dose(settings.dose_ng, plan.concentration_ug_per_ml)
            effect.set_value(
                "volume",
                f"{units.format_volume_nl(volume)} "
                f"({units.format_dose_ug(plan.dose_ug)} at "
                f"{units.format_concentration_ug_per_ml(plan.concentration_ug_per_ml)}), "
                f"over {settings.duration_s // 60} min",
            )
            effect.set_value("per_day", f"{plan.doses_per_day_max} doses")
        else:
            effect.set_value("volume", "no patient doses")
            effect.set_value("per_day", "0 doses")
        effect.set_value("extra", units.format_dose_ug_per_day(plan.extra_ug_per_day_max))
        effect.set_value(
            "total",
            f"{units.format_dose_ug_per_day(plan.total_ug_per_day_max)} "
            f"(basal {units.format_dose_ug_per_day(plan.basal_ug_per_day)})",
        )
        effect.set_value("alarm_without", format_pump_date(snapshot, plan.alarm_at_without_s))
        effect.set_value("alarm_with", format_pump_date(snapshot, plan.alarm_at_with_s))

    def open_review(self) -> None:
        """Present the review of the settings typed."""
        snapshot, plan = self.snapshot, self.plan
        if snapshot is None or plan is None:
            return
        try:
            review = build_review(plan, snapshot)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return
        before = "; ".join(describe_current(snapshot))

        def programmed(after: PumpSnapshot) -> None:
            self.record.record(
                "Patient dose settings",
                "most added per day "
                f"{units.format_dose_ug_per_day(plan.extra_ug_per_day_max)}; low-reservoir "
                f"alarm with every dose taken {format_pump_date(after, plan.alarm_at_with_s)}",
                pump_clock_s=after.pump_clock_s,
                wall_s=self.link.wall(),
                before=before,
                after="; ".join(describe_current(after)),
            )
            self.touched = False
            self.on_snapshot(after)
            self.page.message.set_status(
                Severity.OK, "The pump reports the new patient-dose settings."
            )
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)


install = PatientController.install
"""The patient-activated dose page."""
