"""Every symbol the GUI draws is in the default font (DejaVu Sans on CI).

A symbol the font lacks is drawn as an empty box: a status mark that says
nothing. The scan reads every string literal of ``programmer_gui`` (docstrings
and other bare string statements aside: they are never shown), so a new
symbol the font lacks fails here rather than in a screenshot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

import programmer_gui
from programmer_gui.core.alarms import AlarmRow, class_text
from programmer_gui.views.alarms import AlarmsPage, without_symbol
from programmer_gui.views.widgets import Severity, StatusBadge, missing_glyphs
from protocol.enums import AlarmClass, AlarmCode

PACKAGE = Path(programmer_gui.__file__).parent
REPLACED_BY_THE_VIEW = {
    "core/alarms.py": "\u26d4\U0001f50a\U0001f507",
}
"""Symbols of the alarm list's core texts that views/alarms.py replaces by its own
(icon, "♪", "○"); the rendering test below checks that none reaches the screen."""


def shown_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in ``path`` that can reach the screen."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bare = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
    ]


def test_the_check_itself_tells_missing_from_present(qapp: object) -> None:
    assert missing_glyphs("\u26d4 CRITICAL \U0001f50a \u23f9") == "\u26d4\U0001f50a\u23f9"
    assert (
        missing_glyphs("\u2716 \u26a0 \u25cf \u25cb \u266a \u25a0 \u25b6 \u2714 \u2192 \u2014")
        == ""
    )


def test_every_string_literal_of_the_gui_is_in_the_default_font(qapp: object) -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30  # the scan really reads the package
    found: list[str] = []
    for path in files:
        relative = path.relative_to(PACKAGE).as_posix()
        allowed = REPLACED_BY_THE_VIEW.get(relative, "")
        for line, text in shown_strings(path):
            missing = "".join(ch for ch in missing_glyphs(text) if ch not in allowed)
            if missing:
                found.append(f"{relative}:{line}: {missing!r} in {text!r}")
    assert not found, "symbols the default font lacks:\n" + "\n".join(found)


def alarm_row(alarm_class: AlarmClass, *, silenced: bool) -> AlarmRow:
    return AlarmRow(
        code=AlarmCode.LOW_RESERVOIR,
        alarm_class=alarm_class,
        title="Low reservoir",
        class_text=class_text(alarm_class),
        raised="2026-08-01 11:50 (now)",
        # The core's own wording, symbols the font lacks included.
        state="\U0001f507 Silenced" if silenced else "\U0001f50a Sounding",
        condition="Condition gone: can be cleared",
        can_clear=True,
        silenced=silenced,
        meaning="The reservoir is nearly empty.",
        what_to_do="Refill soon.",
    )


def test_alarm_list_shows_only_symbols_the_font_has(qtbot: QtBot) -> None:
    page = AlarmsPage()
    qtbot.addWidget(page)
    page.set_alarms(
        [
            alarm_row(AlarmClass.CRITICAL, silenced=False),
            alarm_row(AlarmClass.NON_CRITICAL, silenced=True),
        ]
    )
    table = page.table
    texts = [
        item.text()
        for r in range(table.rowCount())
        for c in range(table.columnCount())
        if (item := table.item(r, c)) is not None
    ]
    assert all(not missing_glyphs(text) for text in texts), texts
    # Colour is never alone: the class has its word and an icon.
    for r, word in ((0, "CRITICAL"), (1, "Non-critical")):
        item = table.item(r, 0)
        assert item is not None and item.text() == word and not item.icon().isNull()
    tones = [item.text() for r in range(2) if (item := table.item(r, 3)) is not None]
    assert tones == ["\u266a Sounding", "\u25cb Silenced"]
    buttons = (page.critical_button, page.noncritical_button)
    assert all(not missing_glyphs(b.text()) and not b.icon().isNull() for b in buttons)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u26d4 CRITICAL", "CRITICAL"),
        ("\U0001f50a Sounding", "Sounding"),
        ("Low reservoir", "Low reservoir"),
    ],
)
def test_without_symbol(text: str, expected: str) -> None:
    assert without_symbol(text) == expected


def test_a_message_badge_hides_while_it_has_nothing_to_say(qtbot: QtBot) -> None:
    page = QWidget()
    qtbot.addWidget(page)
    badge = StatusBadge(page, hide_when_empty=True)
    always = StatusBadge(page)  # the default: for pages that show and hide it themselves
    assert badge.isHidden() and not always.isHidden()
    badge.set_status(Severity.OK, "Alarm silenced.")
    assert not badge.isHidden()
    badge.set_status(Severity.INFO, "")
    always.set_status(Severity.INFO, "")
    assert badge.isHidden() and not always.isHidden()
