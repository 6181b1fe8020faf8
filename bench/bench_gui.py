"""The programmer GUI, offscreen: "Interrogate" to fresh figures on the home page, and the
longest stall of the GUI thread while the link polls.

1. Interrogate -> home: the clinician presses Interrogate; the link's worker
   reads the pump (device, status, prescription, alarms, patient settings)
   over the in-process link, the snapshot crosses back to the GUI thread and
   the home page shows it (checked: the pump clock on the page is the new one).
   Floor: the same five reads by a bare ``PumpClient`` with no Qt at all.
2. GUI stall while polling: a 5 ms QTimer heartbeat runs while the link polls
   as fast as it can (every 20 ms); the figure is the longest gap between two
   beats. Floor: the same heartbeat on the same event loop with the link idle.
3. The same stall with the machine loaded: one CPU-bound process per core runs
   beside the programmer (#14 item 13: under 50 ms). Floor: the idle heartbeat
   under the same load.

Targets (#14 item 13): interrogate to a fresh home page within 2x the bare reads
plus 5 ms; the longest stall while polling under 50 ms with the machine loaded.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from bench.metric import Metric
from emulator.emulator import Emulator
from programmer_gui.app import Programmer, apply_style, build
from programmer_gui.controllers.home import HomeController
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.gc_guard import collect_on_gui_thread
from programmer_gui.views.widgets import format_clock
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

ROUNDS = 200
WARMUP = 20
HEARTBEAT_MS = 5
POLL_S = 0.02
STALL_WINDOW_S = 2.0
START_PUMP_S = 1_779_100_200


def _wait(signal: object, timeout_ms: int = 5_000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)  # type: ignore[attr-defined]


def _interrogate_to_home(programmer: Programmer, emulator: Emulator) -> list[float]:
    home = programmer.controllers["home"]
    assert isinstance(home, HomeController)
    programmer.window.show_page("home")
    samples = []
    for i in range(WARMUP + ROUNDS):
        emulator.advance(60)  # so every read brings figures the page has not shown
        expected = format_clock(emulator.clock.now())
        started = time.perf_counter()
        home.page.interrogate_button.click()
        _wait(programmer.link.snapshot)
        elapsed = time.perf_counter() - started
        if home.page.clock.value("pump") != expected:
            raise RuntimeError("the home page did not show the fresh pump clock")
        if i >= WARMUP:
            samples.append(elapsed * 1e3)
    return samples


def _bare_reads(url: str) -> list[float]:
    keys = load_keys(DEMO_KEY_FILE)
    samples = []
    with PumpClient(url, key=keys[Role.CLINICIAN]) as client:
        for i in range(WARMUP + ROUNDS):
            started = time.perf_counter()
            PumpSnapshot.read(client, wall_s=0.0)
            if i >= WARMUP:
                samples.append((time.perf_counter() - started) * 1e3)
    return samples


def _longest_gap_ms(window_s: float) -> float:
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(HEARTBEAT_MS)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(round(window_s * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    return max((b - a) * 1e3 for a, b in itertools.pairwise(beats))


def _cpu_hogs() -> list[subprocess.Popen[bytes]]:
    """One CPU-bound process per core (each spins until killed)."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]


def _stop(hogs: list[subprocess.Popen[bytes]]) -> None:
    for hog in hogs:
        hog.kill()
    for hog in hogs:
        hog.wait()


def run() -> list[Metric]:
    app = QApplication.instance() or QApplication(["bench-gui"])
    assert isinstance(app, QApplication)
    apply_style(app)
    # Collect garbage on this thread only, as the programmer itself does (gc_guard).
    with collect_on_gui_thread():
        return _measure()


def _measure() -> list[Metric]:
    emulator = Emulator.single(preset="demo", manual_clock=True, start_pump_s=START_PUMP_S)
    url = emulator.register_inproc()
    emulator.start()
    programmer = build(poll_interval_s=None)
    try:
        programmer.window.show()
        programmer.connect.page.url_edit.setText(url)
        programmer.connect.connect_pump()
        _wait(programmer.link.snapshot)
        gui = _interrogate_to_home(programmer, emulator)
        floor = _bare_reads(url)
        idle_gap = _longest_gap_ms(STALL_WINDOW_S)
        programmer.link.set_poll_interval(POLL_S)
        polling_gap = _longest_gap_ms(STALL_WINDOW_S)
        programmer.link.set_poll_interval(None)
        hogs = _cpu_hogs()
        try:
            time.sleep(0.2)  # the hogs are running
            loaded_idle_gap = _longest_gap_ms(STALL_WINDOW_S)
            programmer.link.set_poll_interval(POLL_S)
            loaded_gap = _longest_gap_ms(STALL_WINDOW_S)
            programmer.link.set_poll_interval(None)
        finally:
            _stop(hogs)
    finally:
        programmer.close()
        emulator.close()
    gui_median, floor_median = statistics.median(gui), statistics.median(floor)
    allowed = 2 * floor_median + 5
    verdict = "meets" if gui_median <= allowed else "MISSES"
    return [
        Metric(
            name="gui interrogate -> home page fresh",
            value=gui_median,
            unit="ms",
            floor_name="the same reads by a bare PumpClient, no Qt (median)",
            floor_value=floor_median,
            floor_unit="ms",
            target="within 2x the floor + 5 ms",
            detail=f"median of {ROUNDS}; p95 {sorted(gui)[int(0.95 * len(gui))]:.2f} ms; "
            f"{verdict} the target ({allowed:.2f} ms)",
        ),
        Metric(
            name="gui longest event-loop gap while polling",
            value=polling_gap,
            unit="ms",
            floor_name=f"the same {HEARTBEAT_MS} ms heartbeat, link idle (longest gap)",
            floor_value=idle_gap,
            floor_unit="ms",
            target="under 50 ms (no visible stall) with a poll every 20 ms",
            detail=f"over {STALL_WINDOW_S:g} s each",
        ),
        Metric(
            name="gui longest event-loop gap while polling, loaded",
            value=loaded_gap,
            unit="ms",
            floor_name="the same heartbeat, link idle, same load (longest gap)",
            floor_value=loaded_idle_gap,
            floor_unit="ms",
            target="under 50 ms with one CPU-bound process per core beside it",
            detail=f"{os.cpu_count() or 1} CPU-bound processes; over {STALL_WINDOW_S:g} s each; "
            f"{'meets' if loaded_gap < 50 else 'MISSES'} the target",
        ),
    ]
