"""The titration warnings on every review: the pump's dose-change times, kept current.

:class:`TitrationWatch` has no page. It reads the pump's event log (only the entries not
yet read) after the first interrogation and whenever an interrogation shows another
prescription checksum than the one the log was read at (a change, by this programmer or
another), and keeps the PROGRAMMED times. It sets the review controller's ``annotate``
hook, so every review that changes the 24-h dose gets the warnings of
:mod:`programmer_gui.core.titration`, with the pump's clock (the latest STATUS) as "now".
While the log is unread or behind the prescription, the review says the time of the last
change is unknown rather than guess.

The origin of the spasticity comes from the pump's implant record (read at each
interrogation): :attr:`TitrationWatch.origin_of`; with no record, or "unknown" in it, the
narrower cerebral range applies and the warning says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from programmer_gui.core.eventlog import merge, read_after
from programmer_gui.core.review import Review
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.core.titration import (
    SpasticityOrigin,
    dose_change_times,
    recorded_origin,
    with_titration_warnings,
)
from programmer_gui.link import PumpLink
from programmer_gui.views.main_window import MainWindow
from protocol import messages as m

if TYPE_CHECKING:
    from programmer_gui.controllers.review import ReviewController

__all__ = ["TitrationWatch", "install", "origin_in_implant_record"]


def origin_in_implant_record(snapshot: PumpSnapshot) -> SpasticityOrigin | None:
    """The origin of the spasticity the pump's implant record documents (None: no record,
    or the record says unknown)."""
    return recorded_origin(snapshot.implant_record)


class TitrationWatch(QObject):
    """Keeps the connected pump's dose-change times and adds the titration warnings."""

    def __init__(self, window: MainWindow, link: PumpLink, review: ReviewController) -> None:
        super().__init__(window)
        self.link = link
        self.entries: list[m.LogEntry] = []
        self.serial: str | None = None
        self.read_at_checksum: int | None = None
        """The prescription checksum the pump reported when the log was last read."""
        self.reading = False
        self.failed = False
        self.origin_of: Callable[[PumpSnapshot], SpasticityOrigin | None] = origin_in_implant_record
        """The origin of the spasticity for a snapshot's pump (from its implant record);
        None: not recorded."""
        link.snapshot.connect(self.on_snapshot)
        review.annotate = self.annotate

    @property
    def up_to_date(self) -> bool:
        """The log was read since the prescription the latest interrogation shows."""
        latest = self.link.latest
        return (
            latest is not None
            and not self.reading
            and not self.failed
            and self.read_at_checksum == latest.status.prescription_checksum
        )

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        if snapshot.device.serial != self.serial:
            # Another pump: nothing of the last one's history applies.
            self.serial = snapshot.device.serial
            self.entries = []
            self.read_at_checksum = None
        if snapshot.status.prescription_checksum != self.read_at_checksum and not self.reading:
            self.read(snapshot)

    def read(self, snapshot: PumpSnapshot) -> None:
        """Read the entries after the last one held (all of them the first time)."""
        checksum = snapshot.status.prescription_checksum
        serial = snapshot.device.serial
        self.reading = True

        def done(new: list[m.LogEntry]) -> None:
            self.reading = False
            if serial != self.serial:
                return
            self.entries = merge(self.entries, new)
            self.read_at_checksum = checksum
            self.failed = False
            latest = self.link.latest
            if latest is not None and latest.status.prescription_checksum != checksum:
                self.read(latest)  # it changed again meanwhile

        def failed(_error: Exception) -> None:
            self.reading = False
            self.failed = True

        # In the background: housekeeping must not show the link busy nor hold up controls.
        self.link.submit(
            read_after(self.entries), on_done=done, on_error=failed, refresh=False, background=True
        )

    def annotate(self, review: Review) -> Review:
        """``review`` with the titration warnings of its change of the 24-h dose."""
        snapshot = self.link.latest
        if snapshot is None:
            return review
        return with_titration_warnings(
            review,
            changed_at_s=dose_change_times(self.entries) if self.up_to_date else None,
            now_s=snapshot.pump_clock_s,
            origin=self.origin_of(snapshot),
        )


def install(
    window: MainWindow, link: PumpLink, record: SessionRecord, review: ReviewController
) -> TitrationWatch:
    """The titration warnings on the review page (no page of its own)."""
    return TitrationWatch(window, link, review)
