"""The educator's MRI lesson, worked on the emulator: one patient through the same MRI
twice, with and without the post-scan check (domain.md, "MRI and the emergency visit").

The scan's interference leaves the default pump in telemetry mode, so infusion stays
suspended after the scan until the pump is interrogated. With the check the clinician
interrogates ``check_after_s`` after the scan (a session opened over the wire) and
delivery resumes; without it nobody does, and the patient model drifts toward withdrawal
over hours. Exact and deterministic: two in-process emulators on manual clocks. The record
and its text are :mod:`protocol.mri_lesson`.
"""

from __future__ import annotations

import random

from emulator.clock import PumpClock
from emulator.emulator import Emulator
from emulator.mri import MriExit
from emulator.presets import PumpSetup
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.mri_lesson import MriLessonHour
from protocol.timebase import SECONDS_PER_DAY, SECONDS_PER_HOUR

__all__ = ["MriLessonHour", "post_scan_check_comparison"]

STEADY_S = 3 * SECONDS_PER_DAY
"""Time run before the scan so the patient model is at its steady state (3 days)."""


def _run(
    setup: PumpSetup, *, start_s: int, exposure_s: int, check_after_s: int | None, hours: int
) -> list[tuple[float, str, bool]]:
    clock = PumpClock(start_pump_s=start_s, wall=lambda: 1_000.0)
    clock.set_manual()
    keys = load_keys(DEMO_KEY_FILE)
    out: list[tuple[float, str, bool]] = []
    with Emulator([setup], keys=keys, clock=clock, wall=lambda: 1_000.0) as emu:
        url = emu.register_inproc()
        emu.advance(STEADY_S)
        reference = float(emu.state()["patient"]["level_ng_per_ml"])
        emu.mri(exposure_s, MriExit(telemetry_trap=True))
        elapsed = 0
        for hour in range(1, hours + 1):
            target = hour * SECONDS_PER_HOUR
            check_at = None if check_after_s is None else exposure_s + check_after_s
            if check_at is not None and elapsed < check_at <= target:
                emu.advance(check_at - elapsed)
                elapsed = check_at
                with PumpClient(
                    url,
                    key=keys[Role.CLINICIAN],
                    random_bytes=random.Random(hour).randbytes,
                ) as client:
                    client.status()  # the post-scan interrogation (a session opened)
            emu.advance(target - elapsed)
            elapsed = target
            state = emu.state()
            level = float(state["patient"]["level_ng_per_ml"])
            out.append(
                (
                    level / reference,
                    str(state["patient"]["state"]),
                    bool(state["pump"]["delivering"]),
                )
            )
    return out


def post_scan_check_comparison(
    setup: PumpSetup,
    *,
    start_s: int,
    exposure_s: int = 2_700,
    check_after_s: int = SECONDS_PER_HOUR,
    hours: int = 24,
) -> tuple[MriLessonHour, ...]:
    """Hour by hour for ``hours`` after a scan of ``exposure_s`` that left the pump in
    telemetry mode: the patient whose pump was interrogated ``check_after_s`` after the
    scan, and the one whose pump was not."""
    if exposure_s < 1 or check_after_s < 0 or not 1 <= hours <= 72:
        raise ValueError("exposure >= 1 s, check after >= 0 s, 1 to 72 hours")
    with_check = _run(
        setup, start_s=start_s, exposure_s=exposure_s, check_after_s=check_after_s, hours=hours
    )
    without = _run(setup, start_s=start_s, exposure_s=exposure_s, check_after_s=None, hours=hours)
    return tuple(
        MriLessonHour(
            hour=i + 1,
            with_check_share=w[0],
            without_check_share=n[0],
            with_check_state=w[1],
            without_check_state=n[1],
            with_check_delivering=w[2],
            without_check_delivering=n[2],
        )
        for i, (w, n) in enumerate(zip(with_check, without, strict=True))
    )
