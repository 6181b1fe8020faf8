"""Screenshots of the patient's therapy manager: ``NN-patient-*.png``.

Deterministic like the others: the demo preset on a manual clock, seeded nonces, the
programmer's clock fixed, dates in the process's zone (``render_all`` sets UTC). Three
screens: a dose granted; a second request refused by the lockout, with the time left;
after an MRI that left the pump in telemetry mode, the post-MRI check that made it resume.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from emulator.emulator import Emulator
from emulator.mri import MriExit
from programmer_gui.controllers.handheld import build_handheld
from programmer_gui.link import PumpLink
from programmer_gui.screenshots import settle
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

START_PUMP_S = 1_779_100_200
"""2026-05-18 10:30 UTC, as the programmer's screenshots."""
WINDOW_SIZE = (620, 900)


def render_handheld_screenshots(out_dir: str | os.PathLike[str], *, first: int = 41) -> list[Path]:
    """Render the patient window's three screens to ``out_dir``; returns their paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    keys = load_keys(DEMO_KEY_FILE)
    emulator = Emulator.single(
        preset="demo",
        manual_clock=True,
        start_pump_s=START_PUMP_S,
        random_bytes=random.Random(23).randbytes,
    )
    url = emulator.register_inproc(name="patient-handheld")
    emulator.start()
    paths: list[Path] = []
    link = PumpLink(timeout_s=0.5, retries=2, poll_interval_s=None, wall=lambda: START_PUMP_S)
    handheld = build_handheld(key=lambda: keys[Role.PATIENT], link=link)
    window = handheld.window

    def shoot(name: str) -> None:
        settle(lambda: not link.busy, "the handheld's link")
        path = target / f"{first + len(paths):02d}-patient-{name}.png"
        if not window.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        paths.append(path)

    def fresh() -> None:
        before = link.latest
        link.interrogate()
        settle(lambda: link.latest is not before and not link.busy, "a new reading")

    try:
        with PumpClient(url, key=keys[Role.CLINICIAN], role=Role.CLINICIAN) as clinician:
            clinician.connect()
            clinician.set_patient_settings(
                enabled=True, dose_ng=25_000, duration_s=600, lockout_s=3 * 3600, max_per_24h=4
            )
        window.resize(*WINDOW_SIZE)
        window.show()
        handheld.controller.connect_to(url)
        settle(lambda: link.latest is not None, "the first reading")
        window.dose_button.click()
        settle(lambda: window.dose_result.isVisible() and not link.busy, "the dose")
        shoot("dose-granted")
        emulator.advance(3600)
        fresh()
        window.dose_button.click()
        settle(lambda: "Not given" in window.dose_result.text, "the refusal")
        shoot("dose-refused-lockout")
        emulator.mri_start()
        emulator.advance(1800)
        emulator.mri_end(MriExit(telemetry_trap=True))
        emulator.advance(600)
        fresh()
        shoot("after-mri-not-delivering")
        window.mri_button.click()
        settle(lambda: "working again" in window.mri_result.text, "the post-MRI check")
        shoot("after-mri-check")
    finally:
        handheld.close()
        emulator.close()
    return paths
