"""The session report page (a preview and "Save PDF…"), and the report's rendering.

The report's content comes from :mod:`programmer_gui.core.report`; here it
becomes one HTML document (:func:`report_html`), laid out once per paint
device by a ``QTextDocument`` cut into A4 pages. The same drawing code writes
the PDF (``QPdfWriter``) and renders a page to an image, so the picture of a
page is what the PDF holds.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Final

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
    QTextTable,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from programmer_gui.core.report import Report, Section
from programmer_gui.views.widgets import StatusBadge, ValueForm, scroll_page, section

RESOLUTION_DPI: Final = 120
"""Device pixels per inch of both the PDF and the page images (one layout for both)."""
MARGIN_MM: Final = 15.0
FOOTER_PT: Final = 16
"""Height kept free at the foot of each page for the page number."""
TEXT_POINT_SIZE: Final = 10
MAX_LAYOUT_PASSES: Final = 40
"""Layouts tried to keep every table row on one page (one more cut each)."""

_STYLE: Final = """
body { color: #111111; }
h1 { font-size: 17pt; margin-bottom: 2px; }
h2 { font-size: 12.5pt; margin-top: 14px; margin-bottom: 4px; color: #1f3f66; }
p.sub { color: #333333; margin-top: 0; }
p.foot { color: #555555; font-size: 8.5pt; margin-top: 16px; }
th { background: #e4eaf2; text-align: left; }
td.label { font-weight: bold; }
"""


PageBreaks = dict[int, frozenset[int]]
"""Per section (its index), the rows (their index) that start a new page."""


def report_html(report: Report, breaks: PageBreaks | None = None) -> str:
    """The report as HTML: title, subtitle, one heading and table per section, footer.
    ``breaks``: rows that begin a new page (their table is cut there, its header repeated)."""
    parts = [
        f"<html><head><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="sub">{html.escape(report.subtitle)}</p>',
    ]
    for index, sec in enumerate(report.sections):
        parts.append(f"<h2>{html.escape(sec.heading)}</h2>")
        cuts = sorted((breaks or {}).get(index, frozenset()))
        starts = [0, *cuts]
        ends = [*cuts, len(sec.rows)]
        for first, end in zip(starts, ends, strict=True):
            if first:
                parts.append('<p style="page-break-before: always; margin: 0"></p>')
            parts.append(_section_table(sec, first, end))
    parts.append(f'<p class="foot">{html.escape(report.footer)}</p></body></html>')
    return "".join(parts)


def _section_table(sec: Section, first: int = 0, end: int | None = None) -> str:
    if not sec.rows:
        return f"<p><i>{html.escape(sec.empty_text)}</i></p>"
    rows: list[str] = []
    if sec.header:
        widths = column_widths(sec.header)
        cells = "".join(
            f'<th width="{width}%">{html.escape(text)}</th>'
            for text, width in zip(sec.header, widths, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    for row in sec.rows[first:end]:
        if sec.header:
            cells = "".join(f"<td>{html.escape(text)}</td>" for text in row)
        else:
            label, *rest = row
            cells = f'<td class="label" width="28%">{html.escape(label)}</td>' + "".join(
                f"<td>{html.escape(text)}</td>" for text in rest
            )
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table width="100%" border="1" cellspacing="0" cellpadding="4" '
        'style="border-color: #9aa5b1; border-collapse: collapse;">' + "".join(rows) + "</table>"
    )


WIDE_COLUMN = "Details"
"""The column of free text: it gets most of the width (the others hold short values)."""


def column_widths(header: tuple[str, ...] | list[str]) -> list[int]:
    """Per column, its share of the table's width in percent."""
    if WIDE_COLUMN not in header or len(header) < 2:
        return [round(100 / len(header))] * len(header)
    others = round(45 / (len(header) - 1))
    return [55 if text == WIDE_COLUMN else others for text in header]


def _margin_px() -> float:
    return MARGIN_MM / 25.4 * RESOLUTION_DPI


def _footer_px() -> float:
    return FOOTER_PT / 72 * RESOLUTION_DPI


class _Paginated:
    """The report laid out for a device of ``RESOLUTION_DPI`` with a content area of
    ``width`` x ``height`` device pixels (the page less its margins)."""

    def __init__(
        self, report: Report, device: QPagedPaintDevice | QImage, width: float, height: float
    ):
        self.doc = QTextDocument()
        font = QFont()
        font.setPointSize(TEXT_POINT_SIZE)
        # No ligatures: "off" must stay three letters for a search in the PDF.
        font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
        self.doc.setDefaultFont(font)
        self.doc.documentLayout().setPaintDevice(device)
        self.width = width
        self.body_height = height - _footer_px()
        self.height = height
        # A table row never runs across two pages: where one would, its table is cut and
        # the row starts the next page (laid out again until none does).
        breaks: dict[int, frozenset[int]] = {}
        for _ in range(MAX_LAYOUT_PASSES):
            self.doc.setHtml(report_html(report, breaks))
            self.doc.setPageSize(QSizeF(width, self.body_height))
            # A row that starts a page and still runs over is taller than a page: left so.
            broken = [
                (section_index, row)
                for section_index, row in self.rows_across_pages(report, breaks)
                if row not in breaks.get(section_index, frozenset())
            ]
            if not broken:
                break
            section_index, row = broken[0]
            breaks[section_index] = breaks.get(section_index, frozenset()) | {row}

    def rows_across_pages(self, report: Report, breaks: PageBreaks) -> list[tuple[int, int]]:
        """The (section, row) of each table row laid out across a page boundary."""
        tables = [frame for frame in self.doc.rootFrame().childFrames()]
        origins: list[tuple[int, int, bool]] = []  # per table: section, first row, header
        for index, sec in enumerate(report.sections):
            if not sec.rows:
                continue
            for first in [0, *sorted(breaks.get(index, frozenset()))]:
                origins.append((index, first, bool(sec.header)))
        layout = self.doc.documentLayout()
        found = []
        for table, (section_index, first, header) in zip(tables, origins, strict=False):
            if not isinstance(table, QTextTable):
                continue
            for r in range(1 if header else 0, table.rows()):
                tops, bottoms = [], []
                for c in range(table.columns()):
                    cell = table.cellAt(r, c)
                    block = cell.firstCursorPosition().block()
                    last = cell.lastCursorPosition().block()
                    while block.isValid():
                        rect = layout.blockBoundingRect(block)
                        tops.append(rect.top())
                        bottoms.append(rect.bottom())
                        if block == last:
                            break
                        block = block.next()
                if not tops:
                    continue
                page = int(min(tops) // self.body_height)
                if int((max(bottoms) - 0.5) // self.body_height) != page:
                    found.append((section_index, first + r - (1 if header else 0)))
        return found

    @property
    def page_count(self) -> int:
        return self.doc.pageCount()

    def draw(self, painter: QPainter, index: int) -> None:
        """Draw page ``index`` (0-based) with the painter's origin at the content's corner."""
        painter.save()
        painter.translate(0, -index * self.body_height)
        self.doc.drawContents(
            painter, QRectF(0, index * self.body_height, self.width, self.body_height)
        )
        painter.restore()
        painter.save()
        font = QFont()
        font.setPointSize(8)
        painter.setFont(font)
        painter.setPen(QColor("#555555"))
        painter.drawText(
            QRectF(0, self.body_height, self.width, self.height - self.body_height),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
            f"Page {index + 1} of {self.page_count}",
        )
        painter.restore()


def write_pdf(report: Report, path: str | Path) -> int:
    """Write ``report`` to an A4 PDF at ``path``; returns the number of pages.

    Raises OSError when the file cannot be written.
    """
    target = Path(path)
    writer = QPdfWriter(str(target))
    writer.setResolution(RESOLUTION_DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter
    )
    writer.setTitle(report.title)
    writer.setCreator("vpump programmer")
    pages = _Paginated(report, writer, writer.width(), writer.height())
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write a PDF to {target}")
    try:
        for index in range(pages.page_count):
            if index:
                writer.newPage()
            pages.draw(painter, index)
    finally:
        painter.end()
    if not target.is_file() or target.stat().st_size == 0:
        raise OSError(f"the PDF was not written to {target}")
    return pages.page_count


def render_page(report: Report, index: int = 0) -> QImage:
    """Page ``index`` of the PDF :func:`write_pdf` writes, as an A4 image on white."""
    size_pt = QPageSize(QPageSize.PageSizeId.A4).size(QPageSize.Unit.Point)
    width_px = round(size_pt.width() / 72 * RESOLUTION_DPI)
    height_px = round(size_pt.height() / 72 * RESOLUTION_DPI)
    image = QImage(width_px, height_px, QImage.Format.Format_RGB32)
    dots_per_meter = round(RESOLUTION_DPI / 0.0254)
    image.setDotsPerMeterX(dots_per_meter)
    image.setDotsPerMeterY(dots_per_meter)
    image.fill(QColor("white"))
    margin = _margin_px()
    pages = _Paginated(report, image, width_px - 2 * margin, height_px - 2 * margin)
    if not 0 <= index < pages.page_count:
        raise IndexError(f"the report has {pages.page_count} pages, not page {index + 1}")
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.translate(margin, margin)
    pages.draw(painter, index)
    painter.end()
    return image


class ReportPage(QWidget):
    """The summary, the report as it will print, and the save button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout, self.heading, _body, self.scroll_area = scroll_page(self, "Session report")
        summary_box = section("This session", self)
        summary_layout = QVBoxLayout(summary_box)
        self.summary = ValueForm(summary_box)
        self.summary.add_row("pump", "Pump")
        self.summary.add_row("actions", "Actions recorded", big=True)
        self.summary.add_row("alarms", "Alarms seen")
        self.summary.add_row("refill", "Next refill")
        for key in ("alarms", "refill"):
            self.summary.values[key].setWordWrap(True)
        summary_layout.addWidget(self.summary)
        layout.addWidget(summary_box)

        preview_box = section("Preview (as it will be printed)", self)
        preview_layout = QVBoxLayout(preview_box)
        self.preview = QTextBrowser(preview_box)
        self.preview.setAccessibleName("report preview")
        self.preview.setOpenLinks(False)
        preview_layout.addWidget(self.preview)
        layout.addWidget(preview_box, 1)

        self.message = StatusBadge(self)
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.refresh_button = QPushButton("&Update preview", self)
        self.save_button = QPushButton("&Save PDF…", self)
        self.save_button.setDefault(True)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
