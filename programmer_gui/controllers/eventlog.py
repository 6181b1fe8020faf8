"""The event log: read it from the pump (only the entries not yet read), filter, export CSV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core.eventlog import event_row, merge, read_after, write_csv
from programmer_gui.views.eventlog import EventLogPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import messages as m


class EventLogController(Workflow):
    """Drives the event log page; other workflows (trends, stop) read :attr:`entries`."""

    page = WorkflowPage("log", "Event log", EventLogPage)

    def setup(self) -> None:
        self.entries: list[m.LogEntry] = []
        self.serial: str | None = None
        self._status: tuple[Severity, str] | None = None
        """What the last read said (the page shows it)."""
        self.choose_path: Callable[[], str] = lambda: QFileDialog.getSaveFileName(
            self.page, "Export the event log", "event-log.csv", "CSV files (*.csv)"
        )[0]
        """Asks where to save (tests replace it)."""
        self.link.connected.connect(self._on_connected)

    def wire_page(self) -> None:
        page = self.page
        for check in page.group_checks.values():
            check.toggled.connect(lambda _on: self._apply_filter())
        page.search_edit.textChanged.connect(lambda _t: self._apply_filter())
        connect_clicked(page.read_button, self.read)
        connect_clicked(page.export_button, self.export)
        self._show()

    def _show(self) -> None:
        """The entries held and the last read's outcome, on the page (once it is built)."""
        if not self.page_is_built:
            return  # shown from here when it is
        self.page.model.set_rows([event_row(e) for e in self.entries])
        self._apply_filter()
        if self._status is not None:
            self.page.message.set_status(*self._status)

    def _on_connected(self, device: m.DeviceInfoResponse) -> None:
        if device.serial != self.serial:
            self.serial = device.serial
            self.entries = []
            self._show()
        self.read()

    def read(self) -> None:
        """Read the entries after the last one held (all of them the first time)."""

        def done(new: list[m.LogEntry]) -> None:
            self.entries = merge(self.entries, new)
            self._status = (
                Severity.OK,
                f"Read {len(new)} new entr{'y' if len(new) == 1 else 'ies'}.",
            )
            self._show()

        def failed(error: Exception) -> None:
            self._status = (Severity.CRITICAL, f"The log was not read: {error}")
            self._show()

        self.link.submit(read_after(self.entries), on_done=done, on_error=failed, refresh=False)

    def _apply_filter(self) -> None:
        page = self.page
        groups = frozenset(name for name, check in page.group_checks.items() if check.isChecked())
        page.proxy.set_filter(categories=groups, text=page.search_edit.text())
        page.count_label.setText(
            f"{page.proxy.rowCount()} of {page.model.rowCount()} entries shown"
        )

    def export(self) -> None:
        """Write the rows shown (filtered, in the table's order) where the user chooses."""
        path = self.choose_path()
        if not path:
            return
        rows = self.page.shown_rows()
        try:
            with Path(path).open("w", encoding="utf-8", newline="") as out:
                count = write_csv(rows, out)
        except OSError as exc:
            self.page.message.set_status(Severity.CRITICAL, f"Not saved: {exc}")
            return
        self.page.message.set_status(Severity.OK, f"Saved {count} entries to {path}.")


install = EventLogController.install
"""The event log page."""
