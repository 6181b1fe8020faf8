"""The session report: a preview kept up to date with the session record, and "Save PDF…"."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.alarms import GUIDE
from programmer_gui.core.report import Report, build_report, next_refill_text
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.report import ReportPage, report_html, write_pdf
from programmer_gui.views.widgets import Severity


class ReportController(Workflow):
    """Drives the session report page."""

    page = WorkflowPage("report", "Session report", ReportPage)

    def setup(self) -> None:
        self.report: Report | None = None
        self.choose_path: Callable[[], str] = lambda: QFileDialog.getSaveFileName(
            self.page, "Save the session report", self.suggested_name(), "PDF files (*.pdf)"
        )[0]
        """Asks where to save (tests replace it)."""
        # The record observes each snapshot first (its controller connects before this one).
        # Rebuilt when shown (and before a save), not for every poll while another page is.
        self.link.snapshot.connect(lambda _snapshot: self.draw_when_shown(self.refresh))

    def wire_page(self) -> None:
        self.page.refresh_button.clicked.connect(lambda _checked=False: self.refresh())
        self.page.save_button.clicked.connect(lambda _checked=False: self.save())
        self.refresh()

    def on_page_shown(self) -> None:
        # Actions are recorded without a signal: build the report afresh whenever it is shown.
        self.refresh()

    def suggested_name(self) -> str:
        """``session-report-<serial>-<date>.pdf`` on the programmer's clock."""
        last = self.record.last_snapshot
        serial = "pump" if last is None else last.device.serial
        day = time.strftime("%Y-%m-%d", time.localtime(self.link.wall()))
        return f"session-report-{serial}-{day}.pdf"

    def refresh(self) -> Report:
        """Build the report of the session so far and show it."""
        report = build_report(self.record, generated_wall_s=self.link.wall())
        self.report = report
        page = self.page
        scroll = page.preview.verticalScrollBar().value()
        page.preview.setHtml(report_html(report))
        page.preview.verticalScrollBar().setValue(scroll)
        last = self.record.last_snapshot
        actions = self.record.actions
        page.summary.set_value("actions", f"{len(actions)}")
        alarms = sorted(self.record.alarms_seen)
        page.summary.set_value(
            "alarms", ", ".join(GUIDE[code].title for code in alarms) if alarms else "none"
        )
        if last is None:
            page.summary.set_value("pump", "—")
            page.summary.set_value("refill", "—")
            page.save_button.setEnabled(False)
            page.message.set_status(Severity.INFO, "Interrogate a pump to start the session.")
            return report
        page.summary.set_value("pump", _pump_text(last))
        page.summary.set_value("refill", next_refill_text(last))
        page.save_button.setEnabled(True)
        if page.message.severity is not Severity.OK:
            page.message.set_status(
                Severity.INFO, "Save the report as a PDF at the end of the session."
            )
        return report

    def save(self, path: str | None = None) -> Path | None:
        """Write the report as it stands to ``path`` (asked for when None); returns where it
        went, or None when nothing was saved (cancelled or failed: the page says which)."""
        report = self.refresh()
        if self.record.last_snapshot is None:
            return None
        chosen = self.choose_path() if path is None else path
        if not chosen:
            return None
        target = Path(chosen)
        if target.suffix.lower() != ".pdf":
            target = target.with_name(target.name + ".pdf")
        try:
            pages = write_pdf(report, target)
        except OSError as exc:
            self.page.message.set_status(Severity.CRITICAL, f"The report was NOT saved: {exc}")
            return None
        self.page.message.set_status(
            Severity.OK, f"Saved the report ({pages} page{'s' if pages != 1 else ''}) to {target}."
        )
        return target


def _pump_text(snapshot: PumpSnapshot) -> str:
    device = snapshot.device
    return f"{device.model} mL pump, serial {device.serial}, firmware {device.firmware_version}"


install = ReportController.install
"""The session report page."""
