"""Every screen of the programmer, offscreen, to PNG: ``python -m programmer_gui.screenshots DIR``.

The screens are driven through the real controllers against the demo pump on
a manual clock (pump time stands still unless this script moves it), with the
programmer's clock fixed too and the time zone set to UTC, so the figures and
dates in the images are the same on every run and every machine.

Five sets: the screens of issue #6 (``01``-``09``); issue #12's (``11``-: the implant
record, a refill from 500 to 2000 mcg/mL with the bridge and its countdown); the part-2
clinician pages
(``21``-``29``), in a second session with a pump that has a history (a bolus
and a refill in its log) so the trends have something to show; the review's
titration warnings (``30``); the educator's window (``31``-), rendered by
:mod:`programmer_gui.demo.educator_backend`; and the patient's therapy manager (``41``-),
rendered by :mod:`programmer_gui.demo.handheld_screens`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QRect, Qt, QThread
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from programmer_gui.app import Programmer, apply_style, build
from programmer_gui.controllers.alarms import AlarmsController
from programmer_gui.controllers.bolus import BolusController
from programmer_gui.controllers.connect import PortChoice
from programmer_gui.controllers.dose import DoseController
from programmer_gui.controllers.eventlog import EventLogController
from programmer_gui.controllers.flex import FlexController
from programmer_gui.controllers.implant import ImplantController
from programmer_gui.controllers.patient import PatientController
from programmer_gui.controllers.refill import RefillController
from programmer_gui.controllers.stop import StopController
from programmer_gui.controllers.trends import TrendsController
from programmer_gui.core.report import build_report
from programmer_gui.gc_guard import collect_on_gui_thread
from programmer_gui.views.report import render_page
from programmer_gui.views.widgets import tile_side_by_side
from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.enums import Role, StopReason

START_PUMP_S = 1_779_100_200
"""2026-05-18 10:30 UTC (a Monday): the demo pump's clock at start."""
PROGRAMMER_AHEAD_S = 150
"""The programmer's clock runs 2.5 min ahead of the pump's (the demo pump is a simulation: the
clock box compares nothing and offers nothing)."""
WINDOW_SIZE = (1180, 800)
SETTLE_TIMEOUT_S = 15.0
DAY_S = 86_400
HISTORY_BOLUS_DAY = 14
HISTORY_REFILL_DAY = 60
SESSION_DAY = 75
"""The part-2 session: 75 days after the pump's start, 15 after a refill to 40 mL."""
PART2_FIRST = 21
TITRATION_FIRST = 30
"""The review's titration warnings: a second change three hours after the first."""
DOSING_TRUTH_FIRST = 11
"""Issue #12's screens: the implant record, a refill 500 -> 2000 mcg/mL with the bridge."""
EDUCATOR_FIRST = 31
SIZES_FIRST = 41
"""The screens of issue #14 item 5 (41-): the programmer filling a 1280x720 projector and a
1366x768 laptop, at 100 % and 125 %, and the programmer beside the educator on 1920x1080."""
SCREEN_SIZES = ((1280, 720), (1366, 768))
SIDE_BY_SIDE_SCREEN = (1920, 1080)
SCALES = (1.0, 1.25)
TITLE_BAR_PX = 32
"""Left for the window manager's title bar, in screen pixels."""
BESIDE_GAP_PX = 8
HANDHELD_FIRST = 61
"""The patient's therapy manager (``pump-programmer --patient``)."""

C = TypeVar("C")


class ScreenshotError(RuntimeError):
    """A screen did not reach the state it is rendered in."""


def settle(until: Callable[[], bool], what: str) -> None:
    """Run the event loop until ``until()`` holds (the link answers on its worker thread);
    :class:`ScreenshotError` after ``SETTLE_TIMEOUT_S``. Every screenshot script uses it."""
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
    def __init__(self, programmer: Programmer, out_dir: Path, *, first: int = 1) -> None:
        self.programmer = programmer
        self.out_dir = out_dir
        self.first = first
        self.paths: list[Path] = []

    def next_path(self, name: str) -> Path:
        return self.out_dir / f"{self.first + len(self.paths):02d}-{name}.png"

    def shoot(self, name: str) -> None:
        app = QApplication.instance()
        assert app is not None
        for _ in range(3):
            app.processEvents()
        path = self.next_path(name)
        if not self.programmer.window.grab().save(str(path)):
            raise ScreenshotError(f"could not write {path}")
        self.paths.append(path)


def _shown(programmer: Programmer, target: Path, *, first: int = 1) -> _Shooter:
    """The programmer's window at the screenshots' size, shown, and its shooter."""
    programmer.window.resize(*WINDOW_SIZE)
    programmer.window.show()
    return _Shooter(programmer, target, first=first)


def _start_demo(programmer: Programmer, demo: object) -> None:
    """ "Start demo pump" on the connect page with ``demo``; until its first interrogation."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    programmer.connect.demo_factory = lambda: demo
    programmer.connect.start_demo()
    settle(lambda: programmer.link.latest is not None, "the first interrogation")


def render_all(out_dir: str | Path) -> list[Path]:
    """Render every screen to ``out_dir/NN-name.png``: issue #6's (01-09), the part-2
    clinician pages (21-29) and the educator's window (31-); returns the paths in order."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with in_utc():
        return _render_utc(out_dir)


@contextmanager
def in_utc() -> Iterator[None]:
    """The process's local time zone is UTC inside (dates on the screens do not depend on
    the machine), and what it was again after."""
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
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
    with collect_on_gui_thread():
        return _render_pages(target)


def _render_pages(target: Path) -> list[Path]:
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots")
    programmer_clock = [float(START_PUMP_S + PROGRAMMER_AHEAD_S)]
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: programmer_clock[0]
    )
    try:
        paths = _render(programmer, demo, target, programmer_clock)
    finally:
        programmer.close()
        demo.close()
    paths += _render_dosing_truth(target)
    paths += _render_part2(target)
    paths += _render_titration(target)
    # The educator's window needs the emulator: imported only here, like the demo pump.
    from programmer_gui.demo.educator_backend import (  # noqa: PLC0415
        render_educator_screenshots,
    )

    paths += render_educator_screenshots(target, first=EDUCATOR_FIRST)
    paths += _render_sizes(target)

    from programmer_gui.demo.handheld_screens import (  # noqa: PLC0415
        render_handheld_screenshots,
    )

    paths += render_handheld_screenshots(target, first=HANDHELD_FIRST)
    return paths


def _render(
    programmer: Programmer, demo: object, target: Path, programmer_clock: list[float]
) -> list[Path]:
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    window, link = programmer.window, programmer.link
    shooter = _shown(programmer, target)
    connect = programmer.connect
    connect.port_finder = lambda: [
        PortChoice(url="/tmp/ttyPUMP0", description="virtual pump (pump-emulator)")
    ]
    connect.demo_factory = lambda: demo
    connect.refresh_ports()
    shooter.shoot("connect")

    connect.start_demo()
    settle(lambda: link.latest is not None, "the first interrogation")
    window.show_page("home")
    shooter.shoot("home")

    dose = controller_of(programmer, "dose", DoseController)
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

    refill = controller_of(programmer, "refill", RefillController)
    window.show_page("refill")
    _enter_refill(refill, removed_ml="29.6", added_ml="35", concentration_ug_per_ml=1000)
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
    settle(lambda: link.latest is not before, "the interrogation after the alarms")
    window.show_page("home")
    shooter.shoot("home-alarms")

    demo.emulator.set_link(disconnected=True)
    link.interrogate()
    settle(window.link_banner.isVisible, "the lost link")
    shooter.shoot("link-lost")
    demo.emulator.set_link(disconnected=False)
    return shooter.paths


def _render_dosing_truth(target: Path) -> list[Path]:
    """Issue #12's screens (11-): the implant record page, then a pump refilled earlier with
    500 mcg/mL running 400 mcg/day refilled at 2000 mcg/mL with the bridge: the refill page,
    its review (the 24-hour dose before and after, the bridge's duration and end) and the
    Status page counting the bridge down."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots-12")
    programmer_clock = [float(START_PUMP_S)]
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: programmer_clock[0]
    )
    try:
        with PumpClient(demo.url, key=demo.key(Role.CLINICIAN), timeout_s=1.0) as client:
            client.refill(
                removed_nl=client.status().reservoir_nl,
                added_nl=units.ml_to_nl(20),
                concentration_ug_per_ml=500,
                prescription=m.PrescriptionSpec.simple(400_000, concentration_ug_per_ml=500),
                bridge=False,
                drug_lot="L2026-04",
            )
        demo.emulator.advance(20 * DAY_S)
        programmer_clock[0] += 20 * DAY_S
        return _render_dosing_truth_session(programmer, demo, target)
    finally:
        programmer.close()
        demo.close()


def _render_dosing_truth_session(programmer: Programmer, demo: object, target: Path) -> list[Path]:
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    window, link = programmer.window, programmer.link
    shooter = _shown(programmer, target, first=DOSING_TRUTH_FIRST)
    _start_demo(programmer, demo)

    implant = controller_of(programmer, "implant", ImplantController)
    window.show_page("implant")
    implant.page.uncertainty_edit.setText("5")
    implant.page.uncertainty_edit.textEdited.emit("5")
    shooter.shoot("implant")
    implant.open_review()
    _program_review(programmer, "the implant record")

    refill = controller_of(programmer, "refill", RefillController)
    window.show_page("refill")
    latest = link.latest
    assert latest is not None
    left = units.format_trimmed(units.nl_to_ml(latest.status.reservoir_nl), 2)
    _enter_refill(refill, removed_ml=left, added_ml="20", concentration_ug_per_ml=2000)
    shooter.shoot("refill-bridge")
    refill.open_review()
    shooter.shoot("refill-bridge-review")
    _program_review(programmer, "the refill with the bridge")
    demo.emulator.advance(3 * 3600)
    before = link.latest
    link.interrogate()
    settle(lambda: link.latest is not before, "the interrogation during the bridge")
    window.show_page("home")
    shooter.shoot("home-bridge")
    return shooter.paths


def controller_of(programmer: Programmer, name: str, kind: type[C]) -> C:
    """The controller the installer ``name`` made, as a ``kind``."""
    controller = programmer.controllers[name]
    assert isinstance(controller, kind)
    return controller


def _enter_refill(
    refill: RefillController, *, removed_ml: str, added_ml: str, concentration_ug_per_ml: int
) -> None:
    """Type a refill on the refill page (drug lot L2026-05), then its preview."""
    page = refill.page
    page.removed_edit.setText(removed_ml)
    page.added_edit.setText(added_ml)
    combo = page.concentration_combo
    combo.setCurrentIndex(combo.findData(concentration_ug_per_ml))
    page.lot_edit.setText("L2026-05")
    refill.update_preview()


def _give_history(demo: object) -> None:
    """Before the session: a therapeutic bolus on day 14 and, on day 60, a refill of the
    emptied reservoir to 40 mL, both by an earlier programmer (so in the pump's log)."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    emulator = demo.emulator
    with PumpClient(demo.url, key=demo.key(Role.CLINICIAN), timeout_s=1.0) as client:
        emulator.advance(HISTORY_BOLUS_DAY * DAY_S)
        client.start_bolus(dose_ng=50_000, duration_s=3600)
        emulator.advance((HISTORY_REFILL_DAY - HISTORY_BOLUS_DAY) * DAY_S)
        left_nl = client.status().reservoir_nl
        client.refill(
            removed_nl=left_nl,
            added_nl=units.ml_to_nl(40),
            concentration_ug_per_ml=2000,
            prescription=client.read_prescription().prescription,
            bridge=False,
            drug_lot="L2026-03",
        )
        emulator.advance((SESSION_DAY - HISTORY_REFILL_DAY) * DAY_S)


def _program_review(programmer: Programmer, what: str) -> None:
    """Acknowledge every warning on the review page, program, and wait for the verdict."""
    review = programmer.review
    assert review.review is not None, f"no review for {what}"
    review.confirm = lambda _title, _text: True
    for check in review.page.warning_checks:
        check.setChecked(True)
    review.program()
    settle(lambda: review.review is None, f"the pump to confirm {what}")


def _render_part2(target: Path) -> list[Path]:
    """The part-2 clinician pages (21-29) in one session with a pump that has a history."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots-part2")
    programmer_clock = [float(START_PUMP_S + SESSION_DAY * DAY_S)]
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: programmer_clock[0]
    )
    try:
        _give_history(demo)
        return _render_part2_session(programmer, demo, target, programmer_clock)
    finally:
        programmer.close()
        demo.close()


def _render_part2_session(
    programmer: Programmer, demo: object, target: Path, programmer_clock: list[float]
) -> list[Path]:
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    assert isinstance(demo, DemoPump)
    window, link = programmer.window, programmer.link
    shooter = _shown(programmer, target, first=PART2_FIRST)
    _start_demo(programmer, demo)

    def interrogate(what: str) -> None:
        before = link.latest
        link.interrogate()
        settle(lambda: link.latest is not before, what)

    def advance(seconds: int) -> None:
        demo.emulator.advance(seconds)
        programmer_clock[0] += seconds

    # Flex: the day-time step raised from 425 to 450 mcg/day.
    flex = controller_of(programmer, "flex", FlexController)
    window.show_page("flex")
    day_step = flex.page.table.item(1, 2)
    assert day_step is not None and day_step.text() == "425", "the demo pump's day step"
    day_step.setText("450")
    shooter.shoot("flex")
    flex.open_review()
    shooter.shoot("flex-review")
    _program_review(programmer, "the flex profile")

    # A therapeutic bolus, a third of the way through.
    bolus = controller_of(programmer, "bolus", BolusController)
    window.show_page("bolus")
    bolus.page.kind_combo.setCurrentIndex(0)
    bolus.page.dose_edit.setText("50")
    bolus.page.duration_edit.setText("60")
    bolus.page.dose_edit.textEdited.emit("50")
    bolus.open_review()
    _program_review(programmer, "the bolus")
    # The dose typed would now be refused (one bolus at a time): cleared, as after a start.
    for edit in (bolus.page.dose_edit, bolus.page.duration_edit):
        edit.clear()
    bolus.page.dose_edit.textEdited.emit("")
    advance(20 * 60)
    interrogate("the bolus under way")
    window.show_page("bolus")
    shooter.shoot("bolus")

    # The battery reaches its replacement indicator: a non-critical alarm.
    advance(60 * 60)
    demo.emulator.fault_battery(2.0)
    interrogate("the battery alarm")
    alarms = controller_of(programmer, "alarms", AlarmsController)
    window.show_page("alarms")
    alarms.page.table.selectRow(0)
    shooter.shoot("alarms")

    log = controller_of(programmer, "eventlog", EventLogController)
    window.show_page("log")
    count = len(log.entries)
    log.read()
    settle(lambda: len(log.entries) > count, "the new log entries")
    shooter.shoot("event-log")

    stop = controller_of(programmer, "stop", StopController)
    window.show_page("stop")
    stop.page.reason_combo.setCurrentIndex(stop.page.reason_combo.findData(int(StopReason.MRI)))
    stop.page.note_edit.setText("MRI lumbar spine at 14:00; resume straight after")
    shooter.shoot("stop")
    stop.page.note_edit.clear()

    patient = controller_of(programmer, "patient", PatientController)
    window.show_page("patient")
    page = patient.page
    page.enabled_check.click()
    for edit, text in zip(page.edits, ("25", "10", "180", "4"), strict=True):
        edit.setText(text)
        edit.textEdited.emit(text)
    shooter.shoot("patient")
    patient.open_review()
    _program_review(programmer, "the patient-dose settings")

    trends = controller_of(programmer, "trends", TrendsController)
    window.show_page("trends")
    entries = len(trends.entries)
    trends.read_log()
    settle(lambda: len(trends.entries) > entries, "the log for the trends")
    shooter.shoot("trends")

    report = build_report(programmer.record, generated_wall_s=programmer_clock[0])
    path = shooter.next_path("report")
    if not render_page(report, 0).save(str(path)):
        raise ScreenshotError(f"could not write {path}")
    shooter.paths.append(path)
    return shooter.paths


def _render_titration(target: Path) -> list[Path]:
    """The review of a dose change three hours (by the pump's clock) after an earlier
    programmer changed the dose: the titration warnings (30)."""
    from programmer_gui.controllers.titration import TitrationWatch  # noqa: PLC0415
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots-titration")
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: float(START_PUMP_S + 3 * 3600)
    )
    try:
        with PumpClient(demo.url, key=demo.key(Role.CLINICIAN), timeout_s=1.0) as client:
            client.program(m.PrescriptionSpec.simple(430_000, concentration_ug_per_ml=2000))
        demo.emulator.advance(3 * 3600)
        window = programmer.window
        shooter = _shown(programmer, target, first=TITRATION_FIRST)
        _start_demo(programmer, demo)
        watch = controller_of(programmer, "titration", TitrationWatch)
        settle(lambda: watch.up_to_date, "the event log for the titration warnings")
        dose = controller_of(programmer, "dose", DoseController)
        window.show_page("dose")
        dose.page.dose_edit.setText("500")
        dose.page.dose_edit.textEdited.emit("500")
        dose.open_review()
        # The warnings are at the foot of the review: scroll down to them.
        settle(lambda: bool(programmer.review.page.warning_checks), "the review's warnings")
        scroll = programmer.review.page.findChild(QScrollArea)
        assert scroll is not None
        scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
        shooter.shoot("dose-review-titration")
        programmer.review.cancel()
        return shooter.paths
    finally:
        programmer.close()
        demo.close()


def _grab(window: QWidget, scale: float) -> QImage:
    """``window`` as a screen at ``scale`` shows it (125 %: every logical pixel is 1.25)."""
    size = window.size()
    image = QImage(
        round(size.width() * scale), round(size.height() * scale), QImage.Format.Format_RGB32
    )
    image.setDevicePixelRatio(scale)
    image.fill(Qt.GlobalColor.white)
    window.render(image)
    return image


def _save(image: QImage, path: Path, paths: list[Path]) -> None:
    if not image.save(str(path)):
        raise ScreenshotError(f"could not write {path}")
    paths.append(path)


def _render_sizes(target: Path) -> list[Path]:
    """The programmer as it fills each screen of SCREEN_SIZES at each scale (Status, Refill
    with its entries, a dose review), then the programmer beside the educator on the
    1920x1080 screen, as one image of the whole screen at each scale."""
    from programmer_gui.demo import DemoPump  # noqa: PLC0415 - the emulator loads only here

    demo = DemoPump(manual_clock=True, start_pump_s=START_PUMP_S, name="screenshots-sizes")
    programmer = build(
        timeout_s=0.3, retries=0, poll_interval_s=None, wall=lambda: float(START_PUMP_S)
    )
    paths: list[Path] = []
    try:
        window = programmer.window
        window.show()
        _start_demo(programmer, demo)
        educator = programmer.educator.educator_window
        if educator is not None:
            educator.hide()
        refill = controller_of(programmer, "refill", RefillController)
        _enter_refill(refill, removed_ml="29.6", added_ml="35", concentration_ug_per_ml=2000)
        dose = controller_of(programmer, "dose", DoseController)

        def number() -> int:
            return SIZES_FIRST + len(paths)

        for scale in SCALES:
            for width, height in SCREEN_SIZES:
                window.resize(round(width / scale), round((height - TITLE_BAR_PX) / scale))
                for page in ("home", "refill", "review"):
                    if page == "review":
                        window.show_page("dose")
                        dose.page.dose_edit.setText("480")
                        dose.page.dose_edit.textEdited.emit("480")
                        dose.open_review()
                    else:
                        window.show_page(page)
                    settle(lambda: True, page)
                    name = f"{number():02d}-{width}x{height}-{round(scale * 100)}pct-{page}.png"
                    _save(_grab(window, scale), target / name, paths)
                    if page == "review":
                        programmer.review.cancel()
        if educator is not None:
            paths += _render_side_by_side(programmer, educator, target, number())
    finally:
        programmer.close()
        demo.close()
    return paths


def _render_side_by_side(
    programmer: Programmer, educator: QWidget, target: Path, first: int
) -> list[Path]:
    """The programmer (Status) and the educator side by side on the 1920x1080 screen."""
    window = programmer.window
    educator.show()
    window.show_page("home")
    paths: list[Path] = []
    width, height = SIDE_BY_SIDE_SCREEN
    for scale in SCALES:
        logical_w, logical_h = round(width / scale), round((height - TITLE_BAR_PX) / scale)
        room = QRect(0, 0, logical_w, logical_h)
        placed = tile_side_by_side(
            window, educator, room, left_preferred=1180, left_least=720, gap=BESIDE_GAP_PX
        )
        if not placed:
            raise ScreenshotError(f"the two windows do not fit {width}x{height} at {scale:g}")
        settle(lambda: True, "the two windows side by side")
        screen = QImage(width, height - TITLE_BAR_PX, QImage.Format.Format_RGB32)
        screen.fill(QColor("#30343a"))
        painter = QPainter(screen)
        for shown in (window, educator):
            x = round(shown.geometry().x() * scale)
            painter.drawImage(x, 0, _grab(shown, scale))
        painter.end()
        name = f"{first + len(paths):02d}-{width}x{height}-{round(scale * 100)}pct-beside.png"
        _save(screen, target / name, paths)
    return paths


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
