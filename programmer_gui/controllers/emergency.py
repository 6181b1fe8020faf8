"""The emergency summary: read in one click (also from the connect page, and in the patient
role), shown in plain clinical words, saved as a one-page PDF; recorded in the session
report."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QPageLayout, QPageSize, QTextDocument
from PySide6.QtWidgets import QFileDialog, QFormLayout, QPushButton

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.emergency import summary_html
from programmer_gui.views.emergency import EmergencyPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol.emergency import EmergencyReading, delivering_now


class EmergencyController(Workflow):
    """Drives the emergency page and its button on the connect page."""

    page = WorkflowPage("emergency", "Emergency", EmergencyPage)

    def setup(self) -> None:
        self.reading: EmergencyReading | None = None
        self._after_connect = False
        self.choose_path: Callable[[], str] = lambda: QFileDialog.getSaveFileName(
            self.page, "Save the emergency summary", "emergency-summary.pdf", "PDF (*.pdf)"
        )[0]
        """Asks where to save (tests replace it)."""
        self.link.connected.connect(self._on_connected)
        self.connect_button = self._add_to_connect_page()

    def wire_page(self) -> None:
        connect_clicked(self.page.read_button, self.read)
        connect_clicked(self.page.pdf_button, self.save_pdf)
        self._update()

    def _add_to_connect_page(self) -> QPushButton | None:
        """A button on the connect page: connect if needed, then the summary (one click)."""
        page = self.window.pages.get("connect")
        connect_button = getattr(page.widget, "connect_button", None) if page else None
        if connect_button is None:
            return None
        box = connect_button.parentWidget()
        form = box.layout() if box is not None else None
        if not isinstance(form, QFormLayout):
            return None
        button = QPushButton("&Emergency summary (connects first)", box)
        button.setToolTip("Connect with the settings above and show the emergency summary")
        form.addRow(button)

        def clicked() -> None:
            if self.link.is_connected:
                self.show_and_read()
            else:
                self._after_connect = True
                connect_button.click()

        connect_clicked(button, clicked)
        return button

    def _on_connected(self, _device: object) -> None:
        if self._after_connect:
            self._after_connect = False
            self.show_and_read()
        self._update()

    def _update(self) -> None:
        if self.page_is_built:  # else set from the state when it is
            self.page.pdf_button.setEnabled(self.reading is not None)

    def show_and_read(self) -> None:
        self.show_page()
        self.read()

    def read(self) -> None:
        """One interrogation (either role), shown and recorded."""
        self.link.submit(EmergencyReading.read, on_done=self._show, refresh=True)

    def _show(self, reading: EmergencyReading) -> None:
        self.reading = reading
        self.page.summary_label.setText(summary_html(reading))
        self.record.record(
            "Emergency summary",
            f"read; delivering now: {delivering_now(reading)}",
            pump_clock_s=reading.status.clock_s,
            wall_s=self.link.wall(),
        )
        self.page.message.set_status(Severity.INFO, "")
        self._update()

    def save_pdf(self) -> None:
        """Write the summary where the user chooses, as one A4 page."""
        if self.reading is None:
            return
        path = self.choose_path()
        if not path:
            return
        pages = write_pdf(self.reading, path)
        self.page.message.set_status(
            Severity.OK if pages == 1 else Severity.WARNING,
            f"Saved to {path} ({pages} page{'s' if pages != 1 else ''}).",
        )


def write_pdf(reading: EmergencyReading, path: str) -> int:
    """The summary as a PDF at ``path`` (A4, 15 mm margins); returns its page count."""
    from PySide6.QtPrintSupport import QPrinter  # noqa: PLC0415 - with the first PDF only

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(path)
    printer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    document = QTextDocument()
    document.setHtml(summary_html(reading, point_size=10))
    document.setPageSize(printer.pageRect(QPrinter.Unit.Point).size())
    pages = document.pageCount()
    document.print_(printer)
    return pages


install = EmergencyController.install
"""The emergency summary page (and its button on the connect page)."""
