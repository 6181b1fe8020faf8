"""Boluses: the plan recomputed as the clinician types, the review, and the running bolus.

Typed texts are the state (kept across polls and reconnections); the plan
is worked out again from each new snapshot.
"""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import InputError
from programmer_gui.core.bolus import (
    BolusPlan,
    build_review,
    priming,
    progress,
    therapeutic,
)
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.entry import NumberEntry
from programmer_gui.core.implant import catheter_text
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.bolus import BolusPage
from programmer_gui.views.widgets import (
    Confirm,
    Severity,
    confirmer,
    connect_clicked,
)
from protocol import units
from protocol.client import PumpClient
from protocol.enums import BolusKind
from protocol.units import format_duration

DOSE = NumberEntry(label="Bolus dose", unit="mcg", max_decimals=1, example="50")
DURATION = NumberEntry(label="Duration", unit="min", max_decimals=0, example="60")
KIND_BY_INDEX = (BolusKind.THERAPEUTIC, BolusKind.PRIMING)
EXPLAIN = {
    BolusKind.THERAPEUTIC: "A single dose over the duration you choose; the basal therapy "
    "pauses while it runs and resumes after it.",
    BolusKind.PRIMING: "Fills an EMPTY catheter (after implant or a catheter revision) at the "
    "maximum rate, the only bolus that runs there: drug and the fluid in the line MIX at "
    "that rate. The volume comes from the implant record. (After a concentration change the "
    "bridge is part of the refill, never a bolus.)",
}


class BolusController(Workflow):
    """Drives the bolus page."""

    page = WorkflowPage("bolus", "Boluses", BolusPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.plan: BolusPlan | None = None
        self.started_volume_nl: int | None = None
        self.started_text: str | None = None
        """The success shown while the bolus started here runs (None: none started)."""
        self.confirm: Confirm = confirmer(
            lambda: self.page, yes_text="&Stop the bolus now", no_text="&Keep the bolus running"
        )
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        for edit in (page.dose_edit, page.duration_edit, page.length_edit):
            edit.textEdited.connect(lambda _text: self._update())
        page.kind_combo.currentIndexChanged.connect(lambda _i: self._update())
        page.tubing_check.toggled.connect(lambda _on: self._update())
        connect_clicked(page.review_button, self.open_review)
        connect_clicked(page.cancel_button, self.cancel_bolus)
        self._update()

    @property
    def kind(self) -> BolusKind:
        return KIND_BY_INDEX[self.page.kind_combo.currentIndex()]

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.snapshot = snapshot
        self._update()
        self._show_running()

    def _show_running(self) -> None:
        page = self.page
        snapshot = self.snapshot
        running = (
            None
            if snapshot is None
            else progress(snapshot.status, volume_nl=self.started_volume_nl)
        )
        page.cancel_button.setEnabled(running is not None)
        # An empty "0 % delivered" bar would read as a bolus that has not started.
        page.progress.setVisible(running is not None)
        if running is None:
            page.running_label.setText("No bolus is running.")
            page.progress.setValue(0)
            self.started_volume_nl = None
            return
        page.running_label.setText(running.text())
        fraction = running.fraction_done
        if fraction is None:
            page.progress.setRange(0, 0)  # busy indicator: the full volume is unknown
        else:
            page.progress.setRange(0, 100)
            page.progress.setValue(round(fraction * 100))

    def _update(self) -> None:
        page = self.page
        kind = self.kind
        page.explain.setText(EXPLAIN[kind])
        therapeutic_kind = kind is BolusKind.THERAPEUTIC
        page.dose_edit.setEnabled(therapeutic_kind)
        page.duration_edit.setEnabled(therapeutic_kind)
        page.length_edit.setEnabled(not therapeutic_kind)
        implant = None if self.snapshot is None else self.snapshot.implant_record
        page.length_edit.setText("" if implant is None else catheter_text(implant))
        page.tubing_check.setEnabled(kind is BolusKind.PRIMING)
        page.review_button.setEnabled(False)
        for key in ("volume", "duration", "reservoir", "alarm"):
            page.figures.set_value(key, "—")
        self.plan = None
        snapshot = self.snapshot
        if snapshot is None or snapshot.prescription is None:
            page.message.set_status(Severity.INFO, "Interrogate the pump (clinician role) first.")
            return
        running = progress(snapshot.status) is not None
        if not running:
            self.started_text = None
        if (
            running
            and therapeutic_kind
            and not (page.dose_edit.text().strip() or page.duration_edit.text().strip())
        ):
            # The bolus just started is a success, shown with its progress below; a new
            # one is refused only once the clinician starts typing it.
            page.message.set_status(
                Severity.OK if self.started_text else Severity.INFO,
                self.started_text
                or "A bolus is running (see below): a new one can be reviewed once it ends.",
            )
            return
        try:
            if therapeutic_kind:
                dose = DOSE.parse(page.dose_edit.text())
                minutes = DURATION.parse(page.duration_edit.text())
                plan = therapeutic(dose_ug=dose, duration_s=int(minutes * 60), snapshot=snapshot)
            else:
                plan = priming(
                    include_tubing=page.tubing_check.isChecked(),
                    snapshot=snapshot,
                )
        except InputError as exc:
            page.message.set_status(
                Severity.INFO
                if not page.dose_edit.text() and therapeutic_kind
                else Severity.CRITICAL,
                exc.message,
            )
            return
        self.plan = plan
        page.figures.set_value(
            "volume",
            f"{units.format_volume_nl(plan.volume_nl)} ({units.format_dose_ug(plan.dose_ug)} at "
            f"{units.format_concentration_ug_per_ml(plan.concentration_ug_per_ml)})",
        )
        page.figures.set_value("duration", format_duration(plan.duration_s))
        page.figures.set_value(
            "reservoir",
            f"{units.format_volume_nl(plan.reservoir_before_nl)} now → "
            f"{units.format_volume_nl(plan.reservoir_after_nl)} after",
        )
        page.figures.set_value(
            "alarm",
            f"{format_pump_date(snapshot, plan.alarm_at_before_s)} → "
            f"{format_pump_date(snapshot, plan.alarm_at_after_s)}",
        )
        if plan.refusals:
            page.message.set_status(Severity.CRITICAL, "Refused:\n" + "\n".join(plan.refusals))
            return
        if plan.warnings:
            page.message.set_status(Severity.WARNING, "\n".join(t for _, t in plan.warnings))
        else:
            page.message.set_status(Severity.OK, "Review to start the bolus.")
        page.review_button.setEnabled(True)

    def open_review(self) -> None:
        snapshot, plan = self.snapshot, self.plan
        if snapshot is None or plan is None:
            return
        try:
            review = build_review(plan, snapshot)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return

        def programmed(after: PumpSnapshot) -> None:
            self.started_volume_nl = plan.volume_nl
            self.started_text = (
                "Started and confirmed by the pump: "
                f"{review.action.description.removeprefix('Start ')}. "
                "Its progress is shown below."
            )
            self.page.dose_edit.clear()
            self.page.duration_edit.clear()
            self.on_snapshot(after)
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)

    def cancel_bolus(self) -> None:
        """Ask, then cancel the running bolus; the session record notes what it delivered."""
        snapshot = self.snapshot
        if snapshot is None or progress(snapshot.status) is None:
            return
        if not self.confirm(
            "Cancel the bolus", "Stop the running bolus now? The basal therapy resumes."
        ):
            return

        def job(client: PumpClient) -> int:
            return client.cancel_bolus()

        def done(delivered_nl: int) -> None:
            latest = self.link.latest
            self.record.record(
                "Bolus cancelled",
                f"{units.format_volume_nl(delivered_nl)} had been delivered",
                pump_clock_s=None if latest is None else latest.pump_clock_s,
                wall_s=self.link.wall(),
            )
            self.page.message.set_status(
                Severity.OK,
                f"Bolus cancelled after {units.format_volume_nl(delivered_nl)}; "
                "the basal therapy resumes.",
            )

        def failed(error: Exception) -> None:
            self.page.message.set_status(Severity.CRITICAL, f"The bolus was not cancelled: {error}")

        self.link.submit(job, on_done=done, on_error=failed, refresh=True)


install = BolusController.install
"""The bolus page."""
