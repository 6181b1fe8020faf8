"""The session report end to end: a real change made in the session, the preview, the PDF
saved and read back as text, a page rendered to an image."""

from __future__ import annotations

import re
from pathlib import Path

import pypdf
from PySide6.QtGui import QColor, QImage, QTextTable
from pytestqt.qtbot import QtBot

from programmer_gui.controllers.patient import install as install_patient
from programmer_gui.controllers.report import install
from programmer_gui.core.report import build_report, next_refill_text
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.link import PumpLink
from programmer_gui.views.report import _Paginated, column_widths, render_page
from programmer_gui.views.widgets import Severity
from protocol.enums import Role
from tests.programmer_gui.conftest import DemoWorld
from tests.programmer_gui.pump_support import T0, connect, type_into, ui


def pdf_text(path: Path) -> str:
    """The PDF's text with runs of white space made one space (extraction splits words)."""
    reader = pypdf.PdfReader(path)
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_report_after_a_change_saved_as_pdf(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld, tmp_path: Path
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("report")  # a hidden page is drawn only once shown
        patient = install_patient(app.window, link, app.record, app.review)
        page = controller.page
        assert not page.save_button.isEnabled()  # nothing read yet
        first = connect(qtbot, link, demo_world.url)
        serial = first.device.serial
        assert serial in page.summary.value("pump")
        assert page.summary.value("actions") == "0"
        # A change in this session: patient-activated doses switched on.
        app.window.show_page("patient")
        patient.page.enabled_check.click()
        for edit, text in zip(patient.page.edits, ("20", "10", "240", "3"), strict=True):
            type_into(qtbot, edit, text)
        patient.page.review_button.click()
        app.program(qtbot)
        app.window.show_page("report")  # showing the page builds the report afresh
        assert page.summary.value("actions") == "2"
        last = app.record.last_snapshot
        assert last is not None and last is not first
        refill = next_refill_text(last)
        assert page.summary.value("refill") == refill
        preview = page.preview.toPlainText()
        assert serial in preview and "Patient dose settings" in preview

        target = tmp_path / "session"
        controller.choose_path = lambda: str(target)
        saved = controller.save()
        assert saved == tmp_path / "session.pdf"  # the suffix is added
        assert page.message.severity is Severity.OK and "session.pdf" in page.message.text
        text = pdf_text(saved)
        assert text.startswith("Intrathecal pump programming session report")
        assert f"Serial number {serial}" in text
        assert "Patient dose settings" in text
        assert "before: Patient-activated doses: off" in text
        assert f"Refill by {refill}" in text
        assert "Page 1 of" in text


def test_cancel_and_failure_save_nothing(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld, tmp_path: Path
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        controller = install(app.window, link, app.record, app.review)
        app.window.show_page("report")  # a hidden page is drawn only once shown
        connect(qtbot, link, demo_world.url)
        controller.choose_path = lambda: ""  # the dialog was cancelled
        assert controller.save() is None
        assert list(tmp_path.iterdir()) == []
        missing = tmp_path / "no such folder" / "report.pdf"
        assert controller.save(str(missing)) is None
        assert controller.page.message.severity is Severity.CRITICAL
        assert "NOT saved" in controller.page.message.text
        assert not missing.exists()


def test_the_first_page_renders_as_an_image(
    qtbot: QtBot, link: PumpLink, demo_world: DemoWorld
) -> None:
    with ui(qtbot, link, demo_world.url) as app:
        connect(qtbot, link, demo_world.url)
        report = build_report(app.record, generated_wall_s=link.wall())
        image = render_page(report)
        assert (image.width(), image.height()) == (992, 1403)  # A4 at 120 dpi
        corner = image.pixelColor(5, 5)
        assert corner == QColor("white")
        # Text is drawn inside the margins: some dark pixels near the title.
        dark = sum(
            image.pixelColor(x, y).lightness() < 100
            for x in range(70, 700, 3)
            for y in range(60, 160, 3)
        )
        assert dark > 50


def test_the_details_column_gets_most_of_the_width() -> None:
    widths = column_widths(("Time (pump clock)", "By", "Action", "Details"))
    assert widths[3] == 55 and max(widths[:3]) < 20
    assert column_widths(("Setting", "At interrogation", "At the end")) == [33, 33, 33]


def _rows_across_pages(pages: _Paginated) -> list[tuple[int, float, float]]:
    """Every table row (its index, top, bottom) laid out across a page boundary."""
    layout = pages.doc.documentLayout()
    found = []
    for table in pages.doc.rootFrame().childFrames():
        if not isinstance(table, QTextTable):
            continue
        for r in range(table.rows()):
            tops, bottoms = [], []
            for c in range(table.columns()):
                cell = table.cellAt(r, c)
                block = cell.firstCursorPosition().block()
                while block.isValid() and block.position() <= cell.lastPosition():
                    rect = layout.blockBoundingRect(block)
                    tops.append(rect.top())
                    bottoms.append(rect.bottom())
                    block = block.next()
            if int(min(tops) // pages.body_height) != int(
                (max(bottoms) - 0.5) // pages.body_height
            ):
                found.append((r, min(tops), max(bottoms)))
    return found


def test_no_table_row_runs_across_two_pdf_pages(qtbot: QtBot) -> None:
    """#14 item 11: a long session's actions table is cut between rows, never inside one."""
    record = SessionRecord(Role.CLINICIAN)
    for i in range(60):
        detail = "a long detail that wraps over several lines of the table " * (1 + i % 5)
        record.record(f"Action {i}", detail, pump_clock_s=T0 + 60 * i, wall_s=T0 + 60 * i)
    report = build_report(record, generated_wall_s=T0 + 3600)
    image = QImage(992, 1403, QImage.Format.Format_RGB32)
    pages = _Paginated(report, image, 800, 1200)
    assert pages.page_count >= 3
    assert _rows_across_pages(pages) == []
    # Every action is still there, once: cutting a table loses no row.
    names = re.findall(r"Action \d+", pages.doc.toPlainText())
    assert names == [f"Action {i}" for i in range(60)]
