"""Start-up times: ``pump-emulator serve`` until its ready line, the programmer until its
first window, each beside the interpreter's own start-up.

Each is spawned afresh several times (interleaved with the floor, ``python -c
pass``) and the median reported with the spread. The project's bytecode caches are
written first (``compileall``; an environment with ``PYTHONDONTWRITEBYTECODE`` would
otherwise compile every module from source on every start, which ``python -c pass``,
importing only the standard library's cached modules, never does). The programmer runs with
``QT_QPA_PLATFORM=offscreen`` and ``--demo``; ``python -m bench.bench_startup
--programmer`` starts it with a hook that prints one JSON line as its main window
is first shown, so the bench knows when. Where the programmer's entry point is
missing the figure is reported as not available (a NaN value) instead.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.metric import Metric
from bench.ptyfloor import ServerProcess

RUNS = 9
"""Starts of each, interleaved (the ratio's median still moves by about a tenth from one
bench run to the next on this shared machine; more runs make it move less)."""


PACKAGES = ("protocol", "firmware_model", "emulator", "programmer_gui", "bench")


def write_bytecode_caches() -> None:
    """Compile the project's packages into their ``__pycache__`` (where stale or missing)."""
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        for path in (spec.submodule_search_locations or []) if spec is not None else []:
            compileall.compile_dir(path, quiet=1)


def _floor_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def _serve_s() -> float:
    with tempfile.TemporaryDirectory(prefix="vpump-startup-") as tmp:
        args = ["-m", "emulator.cli", "serve", "--port", f"{tmp}/ttyPUMP0"]
        with ServerProcess(args, cpu=None) as server:
            return server.ready_after_s


def programmer_available() -> bool:
    """Whether the programmer's entry point (``programmer_gui.app:main``) can be found."""
    try:
        return importlib.util.find_spec("programmer_gui.app") is not None
    except ImportError:
        return False


def _programmer_s() -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_startup", "--programmer"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        if not line or json.loads(line).get("event") != "window-shown":
            raise RuntimeError(f"the programmer did not show a window: {line!r}")
        return elapsed
    finally:
        proc.kill()
        proc.communicate()


def probe_programmer() -> int:
    """Run ``pump-programmer --demo``, printing a line when its main window is first shown."""
    from programmer_gui import app  # noqa: PLC0415 - only in the probe's own process

    build = app.build

    def build_and_watch(*args: object, **kwargs: object) -> object:
        programmer = build(*args, **kwargs)  # type: ignore[arg-type]
        show = programmer.window.show

        def shown() -> None:
            show()
            print(json.dumps({"event": "window-shown"}), flush=True)

        programmer.window.show = shown  # type: ignore[method-assign]
        return programmer

    app.build = build_and_watch  # type: ignore[assignment]
    return app.main(["--demo"])


def run() -> list[Metric]:
    """Median start-up times beside the interpreter's, interleaved run by run."""
    have_programmer = programmer_available()
    write_bytecode_caches()
    floors, serves, programmers = [], [], []
    for _ in range(RUNS):
        floors.append(_floor_s())
        serves.append(_serve_s())
        if have_programmer:
            programmers.append(_programmer_s())
    floor = statistics.median(floors)
    floor_name = "python -c pass (the interpreter's own start-up), median"

    def spread(values: list[float]) -> str:
        return f"{min(values) * 1e3:,.0f} to {max(values) * 1e3:,.0f} ms over {len(values)} runs"

    return [
        Metric(
            name="pump-emulator serve: start to ready line",
            value=statistics.median(serves) * 1e3,
            unit="ms",
            floor_name=floor_name,
            floor_value=floor * 1e3,
            floor_unit="ms",
            target="<= 4x python -c pass, bytecode caches written (#16)",
            detail=f"serve {spread(serves)}; floor {spread(floors)}",
        ),
        Metric(
            name="pump-programmer --demo: start to window",
            value=statistics.median(programmers) * 1e3 if programmers else math.nan,
            unit="ms",
            floor_name=floor_name,
            floor_value=floor * 1e3,
            floor_unit="ms",
            target="first window under 400 ms (#14 item 13; offscreen Qt)",
            detail=spread(programmers)
            if programmers
            else "not available: programmer_gui.app is not installed yet",
        ),
    ]


if __name__ == "__main__" and sys.argv[1:] == ["--programmer"]:
    raise SystemExit(probe_programmer())
