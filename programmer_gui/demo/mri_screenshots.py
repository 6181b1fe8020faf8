"""Screenshots of the MRI workflow (issue 19): the MRI page before and after a scan, the
warning of an original valve pump, the emergency summary, and the educator's MRI lesson.

``python -m programmer_gui.demo.mri_screenshots DIR`` renders them offscreen to
``DIR/NN-name.png`` (40-45), deterministically: demo pumps on manual clocks, dates in UTC.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path

from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from emulator.emulator import Emulator
from emulator.mri import MriExit
from emulator.presets import PRESETS
from programmer_gui.app import Programmer, apply_style, build
from programmer_gui.controllers.educator import open_educator_window
from programmer_gui.controllers.emergency import EmergencyController
from programmer_gui.controllers.mri import MriController
from programmer_gui.demo.educator_backend import EmulatorEducatorBackend
from programmer_gui.gc_guard import collect_on_gui_thread
from programmer_gui.screenshots import (
    START_PUMP_S,
    WINDOW_SIZE,
    controller_of,
    in_utc,
    settle,
)
from protocol.enums import Role, ValveModel
from protocol.keys import DEMO_KEY_FILE, load_keys

FIRST = 71
HOUR_S = 3_600


def _emulator(valve: ValveModel = ValveModel.MOTOR) -> tuple[Emulator, str]:
    from emulator.clock import PumpClock  # noqa: PLC0415

    clock = PumpClock(start_pump_s=START_PUMP_S, wall=lambda: 1_000.0)
    clock.set_manual()
    setup = dataclasses.replace(PRESETS["demo"], valve=valve)
    emulator = Emulator(
        [setup],
        keys=load_keys(DEMO_KEY_FILE),
        clock=clock,
        wall=lambda: 1_000.0,
        random_bytes=random.Random(19).randbytes,
    )
    url = emulator.register_inproc(name=f"screenshots-mri-{int(valve)}")
    emulator.start()
    return emulator, url


def _programmer(wall: Callable[[], float]) -> Programmer:
    programmer = build(timeout_s=0.5, retries=2, poll_interval_s=None, wall=wall)
    programmer.window.resize(*WINDOW_SIZE)
    programmer.window.show()
    return programmer


def render_mri_screenshots(out_dir: str | os.PathLike[str], *, first: int = FIRST) -> list[Path]:
    """Render the MRI screens to ``out_dir``; returns the paths in order."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with in_utc():
        return _render(Path(out_dir), first)


def _render(target: Path, first: int) -> list[Path]:
    app = QApplication.instance() or QApplication(["pump-programmer"])
    assert isinstance(app, QApplication)
    apply_style(app)
    target.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    keys = load_keys(DEMO_KEY_FILE)

    def shoot(window: QWidget, name: str) -> None:
        for _ in range(5):
            app.processEvents()
        path = target / f"{first + len(paths):02d}-{name}.png"
        if not window.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        paths.append(path)

    def at_mri_page(programmer: Programmer, url: str) -> MriController:
        """Connected as a clinician, on the MRI page with its pre-MRI reading."""
        link = programmer.link
        link.connect_to(url, key=keys[Role.CLINICIAN])
        settle(lambda: link.latest is not None, "the first interrogation")
        mri = controller_of(programmer, "mri", MriController)
        programmer.window.show_page("mri")
        settle(lambda: mri.plan is not None, "the pre-MRI reading")
        return mri

    with collect_on_gui_thread():
        # A motor pump: before the scan, then after it (telemetry mode, the recovery
        # logged at the second interrogation).
        emulator, url = _emulator()
        programmer = _programmer(lambda: float(emulator.clock.now()))
        try:
            mri = at_mri_page(programmer, url)
            mri.page.can_go_without_check.setChecked(True)
            mri.page.note_edit.setText("MRI lumbar spine at 11:00")
            mri.record_pre_mri()
            settle(lambda: "recorded" in mri.page.message.text, "the pre-MRI record")
            shoot(programmer.window, "mri-before")
            emulator.mri(
                2_700,
                MriExit(telemetry_trap=True, recovery_logged_at_second_interrogation=True),
            )
            emulator.advance(3 * HOUR_S)
            mri.run_post_mri_check()
            settle(lambda: mri.check is not None, "the post-MRI check")
            shoot(programmer.window, "mri-after-interrogate-again")
            mri.check = None
            emulator.advance(600)
            mri.run_post_mri_check()
            settle(lambda: mri.check is not None, "the second post-MRI check")
            shoot(programmer.window, "mri-after-resumed")
        finally:
            programmer.close()
            emulator.close()

        # An original valve pump, not emptied: the warning.
        emulator, url = _emulator(ValveModel.VALVE_DISCHARGE)
        programmer = _programmer(lambda: float(emulator.clock.now()))
        try:
            mri = at_mri_page(programmer, url)
            shoot(programmer.window, "mri-valve-pump-warning")
        finally:
            programmer.close()
            emulator.close()

        # The emergency summary a week after an MRI without a check.
        emulator, url = _emulator()
        emulator.advance(HOUR_S)
        emulator.mri(2_700, MriExit(telemetry_trap=True))
        emulator.advance(7 * 86_400)
        programmer = _programmer(lambda: float(emulator.clock.now()))
        try:
            connect = programmer.connect.page
            connect.url_edit.setText(url)
            connect.key_edit.setText(str(DEMO_KEY_FILE))
            emergency = controller_of(programmer, "emergency", EmergencyController)
            assert emergency.connect_button is not None
            emergency.connect_button.click()
            settle(lambda: emergency.reading is not None, "the emergency summary")
            shoot(programmer.window, "emergency-summary")
        finally:
            programmer.close()
            emulator.close()

        # The educator's lesson: an MRI without the post-scan check.
        lesson = Emulator.single(
            preset="demo",
            manual_clock=True,
            start_pump_s=START_PUMP_S,
            random_bytes=random.Random(3).randbytes,
        )
        try:
            window = open_educator_window(EmulatorEducatorBackend(lesson), tz=UTC)
            window.resize(1600, 1000)
            window.scenario_buttons["mri_without_check"].click()
            window.show()
            for _ in range(5):
                app.processEvents()  # laid out, so the scroll range is known
            for scroll in window.findChildren(QScrollArea):  # down to the lesson's numbers
                scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
            shoot(window, "educator-mri-lesson")
            window.close()
        finally:
            lesson.close()
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m programmer_gui.demo.mri_screenshots DIR", file=sys.stderr)
        return 2
    for path in render_mri_screenshots(args[0]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
