"""The MRI workflow: the pre-MRI page's reading and record, the post-MRI check (recorded in
the session report), and the reset of a closed flow-activated valve (RESET_VALVE)."""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.mri import (
    MriReading,
    PostMriCheck,
    PreMriPlan,
    post_mri_check,
    pre_mri_plan,
)
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.mri import MriPage
from programmer_gui.views.widgets import Severity, ask_confirmation, connect_clicked
from protocol.client import PumpClient
from protocol.emergency import VALVE_WORDS, fmt_duration
from protocol.enums import Role, ValveModel

CLINICIAN_ONLY = "The MRI checks need a clinician session (they read the log)."


class MriController(Workflow):
    """Drives the MRI page."""

    page = WorkflowPage("mri", "MRI", MriPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.plan: PreMriPlan | None = None
        self.check: PostMriCheck | None = None
        self.confirm = ask_confirmation
        """Asks before the valve is reset (tests replace it)."""
        self.link.snapshot.connect(self.on_snapshot)

    def wire_page(self) -> None:
        connect_clicked(self.page.record_button, self.record_pre_mri)
        connect_clicked(self.page.check_button, self.run_post_mri_check)
        connect_clicked(self.page.reset_valve_button, self.reset_valve)
        self._update_buttons()

    # -- reading ------------------------------------------------------------------------

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.snapshot = snapshot
        if self.page_is_built:  # else they are set from the state when it is
            self._update_buttons()

    def _clinician(self) -> bool:
        return self.link.is_connected and self.link.role is Role.CLINICIAN

    def _update_buttons(self) -> None:
        page = self.page
        clinician = self._clinician()
        page.record_button.setEnabled(clinician)
        page.check_button.setEnabled(clinician)
        closed = self.check is not None and self.check.valve_closed
        page.reset_valve_button.setEnabled(clinician and closed)
        if not clinician:
            page.message.set_status(Severity.INFO, CLINICIAN_ONLY)
        elif page.message.text == CLINICIAN_ONLY:
            page.message.set_status(Severity.INFO, "")

    def on_page_shown(self) -> None:
        if self._clinician():
            self.read_plan()

    def read_plan(self) -> None:
        """Read the valve model and the status for the pre-MRI facts."""
        self.link.submit(
            lambda client: (client.status(), client.read_valve()),
            on_done=lambda result: self._show_plan(pre_mri_plan(*result)),
            refresh=False,
        )

    def _show_plan(self, plan: PreMriPlan) -> None:
        self.plan = plan
        page = self.page
        page.pump_kind_label.setText(f"Pump kind: {VALVE_WORDS[plan.valve_model]}.")
        if plan.warning:
            discharge = plan.valve_model is ValveModel.VALVE_DISCHARGE
            severity = Severity.CRITICAL if discharge else Severity.WARNING
            text = plan.warning
            if discharge and not plan.must_empty:
                severity, text = Severity.OK, "Original valve pump: the reservoir reads empty."
            page.valve_warning.set_status(severity, text)
        else:
            page.valve_warning.set_status(Severity.INFO, "")
        page.stopped_warning.set_status(Severity.WARNING, plan.stopped_warning)

    # -- before the scan ----------------------------------------------------------------

    def record_pre_mri(self) -> None:
        """Interrogate, show the facts, and record the decision and the reading."""
        page = self.page
        can_go = page.can_go_without_check.isChecked()
        note = page.note_edit.text()

        def done(reading: MriReading) -> None:
            plan = pre_mri_plan(reading.status, reading.valve)
            self._show_plan(plan)
            self.record.record(
                "Pre-MRI check",
                plan.record_detail(can_go_without=can_go, note=note),
                pump_clock_s=reading.status.clock_s,
                wall_s=self.link.wall(),
            )
            if plan.must_empty:
                page.message.set_status(
                    Severity.CRITICAL,
                    "Recorded. The reservoir still holds drug: EMPTY IT before the scan.",
                )
            elif not can_go:
                page.message.set_status(
                    Severity.WARNING,
                    "Recorded: the patient can not go without drug. Plan the bridging "
                    "(oral baclofen) before the scan.",
                )
            else:
                page.message.set_status(Severity.OK, "Pre-MRI check recorded.")

        self.link.submit(MriReading.read, on_done=done, refresh=True)

    # -- after the scan -----------------------------------------------------------------

    def run_post_mri_check(self) -> None:
        """Interrogate in a new session (the snapshot refreshes), read delivery, valve and
        log, and show and record the check; run it again to interrogate again."""

        def job(client: PumpClient) -> MriReading:
            # A new session: the pump counts an interrogation only when one opens (it ends
            # telemetry mode, and a recovery may be logged only at the second one).
            client.open_session()
            return MriReading.read(client)

        def done(reading: MriReading) -> None:
            latest = self.link.latest
            daily = latest.daily_volume_nl if latest is not None else None
            if daily is None:
                return
            self.show_check(post_mri_check(reading, daily_volume_nl=daily))

        self.link.submit(job, on_done=done, refresh=True)

    def show_check(self, check: PostMriCheck) -> None:
        self.check = check
        page = self.page
        if not check.delivering or check.valve_closed:
            severity = Severity.CRITICAL
        elif check.interrogate_again:
            severity = Severity.WARNING
        else:
            severity = Severity.OK
        page.verdict.set_status(severity, check.verdict)
        page.findings_label.setText("\n".join(check.lines()[1:]))
        page.again_badge.set_status(
            Severity.WARNING,
            "Interrogate again: the stall's recovery is not logged yet."
            if check.interrogate_again
            else "",
        )
        self.record.record(
            "Post-MRI check",
            check.record_detail(),
            pump_clock_s=check.now_s,
            wall_s=self.link.wall(),
        )
        page.message.set_status(Severity.INFO, "Post-MRI check recorded in the session report.")
        self._update_buttons()

    def reset_valve(self) -> None:
        """Reopen the closed flow-activated valve (asked first), then check again."""
        if not self.confirm(
            self.window,
            "Reset the valve",
            "Reopen the flow-activated valve? Delivery resumes at the programmed dose.",
            yes_text="&Reset the valve",
        ):
            return

        def done(closed_s: int) -> None:
            latest = self.link.latest
            self.record.record(
                "Valve reset",
                f"the flow-activated valve reopened after {fmt_duration(closed_s)} closed",
                pump_clock_s=None if latest is None else latest.pump_clock_s,
                wall_s=self.link.wall(),
            )
            self.page.message.set_status(Severity.OK, "Valve reset: delivery resumes.")
            self.run_post_mri_check()

        self.link.submit(lambda client: client.reset_valve(), on_done=done, refresh=True)


install = MriController.install
"""The MRI page (before and after the scan)."""
