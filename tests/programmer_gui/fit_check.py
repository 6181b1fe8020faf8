"""Does every page fit the screen? Run in a subprocess by ``test_fit.py``:
``python -m tests.programmer_gui.fit_check``, with ``QT_QPA_PLATFORM`` naming an offscreen
configuration of three screens (1280x720, 1366x768 and 1920x1080, in that order, side by
side) and ``QT_SCALE_FACTOR`` set or not.

On each screen the programmer fills the available area (less a title bar); on the 1920 px
screen the programmer and the educator share it, side by side, placed by the educator's
own ``_place_beside``. Every page is shown in turn and every visible widget checked: it
lies inside its parent (scrolled content only across: a page may scroll down, never
sideways), it is not squeezed below its minimum width, a wrapped label is tall enough for
its text, and each window lies inside its screen. Prints one JSON object: the problems
found and how many widgets were checked on each screen and page.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QScrollBar,
    QSizePolicy,
    QTabBar,
    QWidget,
)

TITLE_BAR_PX = 32
"""Left for the window manager's title bar (logical pixels)."""
OPAQUE = (
    QAbstractItemView,
    QComboBox,
    QAbstractSpinBox,
    QLineEdit,
    QTabBar,
    QScrollBar,
    QAbstractButton,
)
"""Widgets whose insides are their own business (Qt lays them out, and scrolls them)."""


def _name(widget: QWidget) -> str:
    text = widget.text() if isinstance(widget, (QLabel, QAbstractButton)) else ""
    message = getattr(widget, "text", None)
    if not text and isinstance(message, str):
        text = message  # a StatusBadge: its message
    label = f" {text[:40]!r}" if text else ""
    return (
        f"{type(widget).__name__}{'#' + widget.objectName() if widget.objectName() else ''}{label}"
    )


def _is_scrolled_content(parent: QWidget) -> bool:
    area = parent.parentWidget()
    return isinstance(area, QAbstractScrollArea) and area.viewport() is parent


def _opaque(widget: QWidget) -> bool:
    if isinstance(widget, OPAQUE):
        return True
    # pyqtgraph's views draw their own contents.
    return type(widget).__module__.startswith("pyqtgraph")


def problems_in(window: QWidget, screen: QRect, where: str) -> tuple[list[str], int]:
    """The clipping problems of ``window`` on ``screen`` and how many widgets were checked."""
    found: list[str] = []
    frame = window.frameGeometry()
    if not screen.contains(frame):
        found.append(f"{where}: {_name(window)} at {frame.getRect()} is off {screen.getRect()}")
    checked = 0
    stack = [window]
    while stack:
        parent = stack.pop()
        bounds = parent.rect()
        scrolled = _is_scrolled_content(parent)
        for child in parent.findChildren(
            QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
        ):
            if not child.isVisible() or child.isWindow():
                continue
            checked += 1
            geometry = child.geometry()
            if scrolled:
                inside = geometry.left() >= 0 and geometry.right() <= bounds.right()
            else:
                inside = bounds.contains(geometry)
            if not inside:
                found.append(
                    f"{where}: {_name(child)} {geometry.getRect()} is clipped by "
                    f"{_name(parent)} {bounds.getRect()}"
                )
            policy = child.sizePolicy().horizontalPolicy()
            minimum = child.minimumSizeHint().width()
            if policy is not QSizePolicy.Policy.Ignored and 0 < child.width() < minimum:
                found.append(
                    f"{where}: {_name(child)} is {child.width()} px wide, below its "
                    f"minimum {minimum} px"
                )
            if isinstance(child, QLabel) and child.wordWrap() and child.text():
                needed = child.heightForWidth(child.width())
                if child.height() < needed:
                    found.append(
                        f"{where}: {_name(child)} is {child.height()} px tall; its text "
                        f"needs {needed} px"
                    )
            if not _opaque(child):
                stack.append(child)
    return found, checked


def _fill(window: QWidget, room: QRect) -> None:
    """Size ``window`` so that its frame (the title bar too) fills ``room``."""
    frame, inner = window.frameGeometry(), window.geometry()
    left, top = inner.left() - frame.left(), max(inner.top() - frame.top(), TITLE_BAR_PX)
    right, bottom = frame.right() - inner.right(), frame.bottom() - inner.bottom()
    window.setGeometry(room.adjusted(left, top, -right, -bottom))


def _settle(app: QApplication, until: object = None, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while callable(until) and not until():
        if time.monotonic() > deadline:
            raise RuntimeError("the demo pump did not answer")
        app.processEvents()
        time.sleep(0.005)
    for _ in range(6):
        app.processEvents()


def main() -> int:
    from programmer_gui.app import apply_style, build  # noqa: PLC0415 - after the env
    from programmer_gui.controllers.dose import DoseController  # noqa: PLC0415
    from programmer_gui.demo import DemoPump  # noqa: PLC0415

    app = QApplication(sys.argv[:1])
    apply_style(app)
    screens = sorted(app.screens(), key=lambda s: s.geometry().x())
    demo = DemoPump(manual_clock=True, name="fit-check")
    programmer = build(timeout_s=0.5, retries=0, poll_interval_s=None)
    screens_seen: list[list[float]] = []
    report: dict[str, object] = {"problems": [], "checked": {}, "screens": screens_seen}
    problems: list[str] = []
    checked: dict[str, int] = {}
    try:
        window = programmer.window
        programmer.connect.demo_factory = lambda: demo
        window.show()
        programmer.connect.start_demo()
        _settle(app, lambda: programmer.link.latest is not None)
        educator = programmer.educator.educator_window
        assert educator is not None, "the demo opens the educator's window"
        dose = programmer.controllers["dose"]
        assert isinstance(dose, DoseController)
        for screen in screens:
            room = screen.availableGeometry()
            screens_seen.append([room.width(), room.height(), screen.devicePixelRatio()])
            side_by_side = screen.geometry().width() * screen.devicePixelRatio() >= 1900
            _fill(window, room)
            _settle(app)
            windows: list[QWidget] = [window]
            if side_by_side:
                educator.show()
                _settle(app)
                programmer.educator._place_beside(educator)
                windows.append(educator)
                _settle(app)
                if educator.frameGeometry().intersects(window.frameGeometry()):
                    problems.append(f"{room.getRect()}: the educator covers the programmer")
            else:
                educator.hide()
            _settle(app)
            label = f"{room.width()}x{room.height()}@{screen.devicePixelRatio():g}"
            for key in window.pages:
                if key == "review":
                    window.show_page("dose")
                    dose.page.dose_edit.setText("480")
                    dose.page.dose_edit.textEdited.emit("480")
                    dose.open_review()
                else:
                    window.show_page(key)
                _settle(app)
                for shown in windows:
                    where = f"{label} {key} ({type(shown).__name__})"
                    found, count = problems_in(shown, screen.geometry(), where)
                    problems += found
                    checked[where] = count
                if key == "review":
                    programmer.review.cancel()
        report["problems"] = problems
        report["checked"] = checked
    finally:
        programmer.close()
        demo.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
