"""Test helpers for the part-2 workflows: a snapshot read from an in-process pump of a preset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PySide6.QtWidgets import QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from emulator.presets import PRESETS
from programmer_gui.controllers.review import ReviewController
from programmer_gui.controllers.review import install as install_review
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.link import PumpLink
from programmer_gui.views.main_window import MainWindow
from protocol.client import PumpClient
from protocol.enums import Role
from tests.support import DEMO_KEYS, T0, InprocPump, inproc_pump


@dataclass
class Connected:
    """An in-process pump and an open clinician client to it."""

    pump: InprocPump
    client: PumpClient

    def snapshot(self) -> PumpSnapshot:
        """A fresh interrogation (the programmer's clock reads the pump's)."""
        clock_s = self.client.status().clock_s
        return PumpSnapshot.read(self.client, wall_s=float(clock_s))

    def advance_days(self, days: float) -> None:
        self.pump.clock.advance(round(days * 86_400))


@contextmanager
def connected(preset: str = "demo") -> Iterator[Connected]:
    """A pump of ``preset`` (manual clock at T0) with a clinician session open."""
    with inproc_pump(PRESETS[preset]) as pump, pump.client() as client:
        yield Connected(pump=pump, client=client)


WAIT_MS = 5_000


@dataclass
class Ui:
    """A main window with the review page, connected to a pump through ``link``."""

    window: MainWindow
    link: PumpLink
    record: SessionRecord
    review: ReviewController

    def refresh(self, qtbot: QtBot) -> PumpSnapshot:
        with qtbot.waitSignal(self.link.snapshot, timeout=WAIT_MS) as got:
            self.link.interrogate()
        snapshot = got.args[0]
        assert isinstance(snapshot, PumpSnapshot)
        return snapshot

    def program(self, qtbot: QtBot) -> None:
        """Acknowledge every warning and press Program pump; wait for the verified result."""
        page = self.review.page
        for check in page.warning_checks:
            check.setChecked(True)
        assert page.program_button.isEnabled(), page.program_hint.text()
        self.review.confirm = lambda _title, _text: True
        with qtbot.waitSignal(self.link.snapshot, timeout=WAIT_MS):
            page.program_button.click()
        qtbot.waitUntil(lambda: not page.program_button.isVisible(), timeout=WAIT_MS)


@contextmanager
def ui(qtbot: QtBot, link: PumpLink, url: str) -> Iterator[Ui]:
    """The window and review page connected to ``url``; everything closed afterwards."""
    window = MainWindow()
    qtbot.addWidget(window)
    record = SessionRecord(Role.CLINICIAN)
    review = install_review(window, link, record)
    link.snapshot.connect(record.observe)
    try:
        yield Ui(window=window, link=link, record=record, review=review)
    finally:
        window.close()


def connect(qtbot: QtBot, link: PumpLink, url: str) -> PumpSnapshot:
    with qtbot.waitSignal(link.snapshot, timeout=WAIT_MS) as got:
        link.connect_to(url, key=DEMO_KEYS[Role.CLINICIAN])
    snapshot = got.args[0]
    assert isinstance(snapshot, PumpSnapshot)
    return snapshot


__all__ = ["T0", "WAIT_MS", "Connected", "Ui", "cell", "connect", "connected", "type_into", "ui"]


def type_into(qtbot: QtBot, widget: QWidget, text: str) -> None:
    """Type ``text`` key by key, as a clinician would (pytest-qt's keyClicks is untyped)."""
    qtbot.keyClicks(widget, text)


def cell(table: QTableWidget, row: int, column: int) -> str:
    """The text of a table cell ("" when empty)."""
    item = table.item(row, column)
    return "" if item is None else item.text()
