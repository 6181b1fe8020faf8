"""Every screen of the programmer, offscreen, to PNG: ``python -m programmer_gui.screenshots DIR``.

The screens are driven through the real controllers against the demo pump on
a manual clock (pump time stands still unless this script moves it), with the
programmer's clock fixed too and the time zone set to UTC, so the figures and
dates in the images are the same on every run and every machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEventLoop, QThread
from PySide6.QtWidgets import QApplication

from programmer_gui.app import Programmer, apply_style, build
from programmer_gui.controllers.connect import PortChoice
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.refill import RefillController

START_PUMP_S = 1_779_100_200
"""2026-05-18 10:30 UTC (a Monday): the demo pump's clock at start."""
PROGRAMMER_AHEAD_S = 150
"""The programmer's clock runs 2.5 min ahead of the pump's, so the clock offer shows."""
WINDOW_SIZE = (1180, 800)
SETTLE_TIMEOUT_S = 15.0


class ScreenshotError(RuntimeError):
    """A screen did not reach the state it is rendered in."""


def _settle(until: Callable[[], bool], what: str) -> None:
    """Run the event loop until ``until()`` holds (the link answers on its worker thread)."""
    app = QApplication.instance()
    assert app is not None
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not until():
        if time.monotonic() > deadline:
            raise ScreenshotError(f"timed out waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        QThread.msleep(5)
    for _ in range(3):
        app.processEvents()


class _Shooter:
    def __init__(self, programmer: Programmer, out_dir: Path) -> None:
        self.programmer = programmer
        self.out_dir = out_dir
        self.paths: list[Path] = []

    def shoot(self, name: str) -> None:
        app = QApplication.instance()
        assert app is not None
        for _ in range(3):
            app.processEvents()
        path = self.out_dir / f"{len(self.paths) + 1:02d}-{name}.png"
        if not self.programmer.window.grab().save(str(path)):
            raise ScreenshotError(f"could not write {path}")
        self.paths.append(path)


def render_all(out_dir: str | Path) -> list[Path]:
    """Render the screens of issue #6 to ``out_dir/NN-name.png``; returns the paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        return _render_utc(out_dir)
    finally:
        if zone is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = zone
        time.tzset()


def _render_utc(out_dir: str | Path) -> list[Path]:
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(["pump-programmer"])
    assert isinstance(app, QApplication)
    apply_style(app)

    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots")
    programmer_clock = [float(START_PUMP_S + PROGRAMMER_AHEAD_S)]
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: programmer_clock[0]
    )
    try:
        return _render(programmer, demo, target, programmer_clock)
    finally:
        programmer.close()
        demo.close()


def _render(
    programmer: Programmer, demo: object, target: Path, programmer_clock: list[float]
) -> list[Path]:
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    window, link = programmer.window, programmer.link
    window.resize(*WINDOW_SIZE)
    window.show()
    shooter = _Shooter(programmer, target)
    connect = programmer.connect
    connect.port_finder = lambda: [
        PortChoice(url="/tmp/ttyPUMP0", description="virtual pump (pump-emulator)")
    ]
    connect.demo_factory = lambda: demo
    connect.refresh_ports()
    shooter.shoot("connect")

    connect.start_demo()
    _settle(lambda: link.latest is not None, "the first interrogation")
    window.show_page("home")
    shooter.shoot("home")

    dose = programmer.controllers["dose"]
    assert isinstance(dose, DoseController)
    window.show_page("dose")
    dose.page.dose_edit.setText("480")
    dose.page.dose_edit.textEdited.emit("480")
    shooter.shoot("dose-change")

    dose.open_review()
    shooter.shoot("dose-review")
    programmer.review.cancel()

    dose.page.dose_edit.setText("60")
    dose.page.dose_edit.textEdited.emit("60")
    shooter.shoot("dose-refused")
    dose.reset()

    refill = programmer.controllers["refill"]
    assert isinstance(refill, RefillController)
    window.show_page("refill")
    page = refill.page
    page.removed_edit.setText("29.6")
    page.added_edit.setText("35")
    page.concentration_combo.setCurrentIndex(page.concentration_combo.findData(1000))
    page.catheter_edit.setText("110")
    refill.update_preview()
    shooter.shoot("refill")

    refill.open_review()
    shooter.shoot("refill-review")
    programmer.review.cancel()
    refill.clear()

    # Months later: the low-reservoir alarm is on, and the motor has stalled.
    status = link.latest.status if link.latest is not None else None
    assert status is not None and status.low_reservoir_alarm_at_s is not None
    step_s = status.low_reservoir_alarm_at_s - status.clock_s + 3600
    demo.emulator.advance(step_s)
    programmer_clock[0] += step_s
    demo.emulator.fault_motor_stall(True)
    before = link.latest
    link.interrogate()
    _settle(lambda: link.latest is not before, "the interrogation after the alarms")
    window.show_page("home")
    shooter.shoot("home-alarms")

    demo.emulator.set_link(disconnected=True)
    link.interrogate()
    _settle(window.link_banner.isVisible, "the lost link")
    shooter.shoot("link-lost")
    demo.emulator.set_link(disconnected=False)
    return shooter.paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m programmer_gui.screenshots",
        description="Render every programmer screen offscreen to DIR/NN-name.png.",
    )
    parser.add_argument("directory", type=Path, help="where to write the PNG files")
    args = parser.parse_args(argv)
    for path in render_all(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
