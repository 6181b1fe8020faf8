"""``pump-programmer``: the clinician programmer's entry point.

Builds the main window, the one :class:`~programmer_gui.link.PumpLink`, the
session record and the review controller, then every workflow through
``controllers.INSTALLERS``. ``--demo`` (or "Start demo pump" on the connect
page) starts an in-process virtual pump (importing the emulator only then),
opens the educator's window beside the programmer and connects to the pump.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from programmer_gui import controllers
from programmer_gui.controllers import main_window as main_window_controller
from programmer_gui.controllers.connect import ConnectController
from programmer_gui.controllers.educator import EducatorLauncher
from programmer_gui.controllers.handheld import HandheldLauncher, run_handheld
from programmer_gui.controllers.main_window import MainWindowController
from programmer_gui.controllers.review import ReviewController
from programmer_gui.controllers.review import install as install_review
from programmer_gui.core.session_record import SessionRecord
from programmer_gui.gc_guard import collect_on_gui_thread
from programmer_gui.link import DEFAULT_POLL_INTERVAL_S, PumpLink
from programmer_gui.views.main_window import MainWindow
from programmer_gui.views.widgets import BASE_POINT_SIZE
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE

STYLE_SHEET = """
QGroupBox#Section { font-weight: bold; border: 1px solid #9aa5b1; border-radius: 5px;
                    margin-top: 14px; padding: 8px 6px 6px 6px; }
QGroupBox#Section::title { subcontrol-origin: margin; left: 10px; padding: 0 4px; }
QGroupBox#Section QLabel, QGroupBox#Section QCheckBox { font-weight: normal; }
QListWidget#Navigation { font-size: 12pt; }
QListWidget#Navigation::item { padding: 4px 6px; }
QListWidget#Navigation::item:selected { background: #3a6ea5; color: white; }
QListWidget#Navigation::item:disabled { color: #8a8a8a; }
"""


def apply_style(app: QApplication) -> None:
    """Readable base font and the section frames every page uses."""
    font = QFont(app.font())
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)


@dataclass
class Programmer:
    """The assembled programmer: window, link, record and the controllers."""

    window: MainWindow
    link: PumpLink
    record: SessionRecord
    review: ReviewController
    main: MainWindowController
    educator: EducatorLauncher
    """Opens the educator's window when a demo pump starts (never otherwise)."""
    controllers: dict[str, object] = field(default_factory=dict)
    handheld: HandheldLauncher | None = None
    """Opens the patient's handheld from the "Demo" menu (demo mode only)."""

    @property
    def connect(self) -> ConnectController:
        controller = self.controllers["connect"]
        assert isinstance(controller, ConnectController)
        return controller

    def close(self) -> None:
        """Close the window (and the educator's), the link's worker thread and any demo
        pump."""
        self.window.close()
        self.educator.close()
        self.link.close()
        self.connect.close_demo()
        self.window.deleteLater()


def build(
    *,
    role: Role = Role.CLINICIAN,
    link: PumpLink | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    poll_interval_s: float | None = DEFAULT_POLL_INTERVAL_S,
    wall: Callable[[], float] = time.time,
) -> Programmer:
    """The programmer with every installer of ``controllers.INSTALLERS`` run (a
    QApplication must exist). Tests pass short timeouts and an injected clock."""
    window = MainWindow()
    # First, so that its slot on ``closing`` runs before the demo pump is closed, and so
    # that it hears ``demo_started`` (emitted before the programmer connects to the pump).
    educator = EducatorLauncher(window)
    pump_link = link or PumpLink(
        window, timeout_s=timeout_s, retries=retries, poll_interval_s=poll_interval_s, wall=wall
    )
    record = SessionRecord(role)
    main = main_window_controller.install(window, pump_link, record)
    review = install_review(window, pump_link, record)
    programmer = Programmer(
        window=window, link=pump_link, record=record, review=review, main=main, educator=educator
    )
    for installer in controllers.INSTALLERS:
        controller = installer(window, pump_link, record, review)
        name = type(controller).__module__.rsplit(".", 1)[-1]
        programmer.controllers[name] = controller
    # Demo mode: the "Demo" menu opens the patient's handheld beside the programmer.
    programmer.handheld = HandheldLauncher(window)
    window.show_page("connect")
    return programmer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pump-programmer",
        description="The vpump clinician programmer: interrogate and program a (virtual) "
        "implantable baclofen pump.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--port",
        metavar="URL",
        help="connect at start: a pty path (/tmp/ttyPUMP0), socket://host:port or pumpsim://name",
    )
    source.add_argument(
        "--demo",
        action="store_true",
        help="start an in-process demo pump (40 mL, 2000 mcg/mL, ~400 mcg/day) and connect",
    )
    parser.add_argument(
        "--key",
        metavar="FILE",
        type=Path,
        default=DEMO_KEY_FILE,
        help=f"the key file (default: the demo key, {DEMO_KEY_FILE})",
    )
    parser.add_argument(
        "--role",
        choices=[r.name.lower() for r in Role],
        default="clinician",
        help="session role (default clinician)",
    )
    parser.add_argument(
        "--patient",
        action="store_true",
        help="the patient's therapy manager instead of the clinician programmer (patient "
        "role: status, alarms, the patient-activated dose, the post-MRI check)",
    )
    parser.add_argument(
        "--screenshots",
        metavar="DIR",
        type=Path,
        help="render every screen offscreen to DIR/NN-name.png against a demo pump, then exit",
    )
    return parser


def _has_display() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc")):
        return True
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the programmer; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.screenshots is not None:
        from programmer_gui.screenshots import render_all  # noqa: PLC0415 - it imports this module

        for path in render_all(args.screenshots):
            print(path)
        return 0
    if not _has_display():
        print(
            "pump-programmer: no display (DISPLAY/WAYLAND_DISPLAY unset). Render the screens "
            "with `pump-programmer --screenshots DIR`, or run the headless demonstration with "
            "`python -m emulator.demo`.",
            file=sys.stderr,
        )
        return 2
    role = Role[args.role.upper()]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_style(app)
    if args.patient:
        return run_handheld(app, port=args.port, demo=args.demo, key_file=args.key)
    with collect_on_gui_thread():
        programmer = build(role=role)
        try:
            programmer.window.show()
            page = programmer.connect.page
            page.role_combo.setCurrentIndex(page.role_combo.findData(role))
            page.key_edit.setText(str(args.key))
            if args.demo:
                programmer.connect.start_demo()
            elif args.port:
                page.url_edit.setText(args.port)
                programmer.connect.connect_pump()
            return app.exec()
        finally:
            programmer.close()


if __name__ == "__main__":
    raise SystemExit(main())
