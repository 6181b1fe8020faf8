"""``pump-emulator serve`` with the cyclic collector watched.

``python -m bench.gcwatch REPORT.json [--collect-while-building] [serve arguments...]``
runs the same entry point as ``pump-emulator serve`` with a ``gc.callbacks`` hook that
times every collection (its generation, when, its pause in wall and CPU time, what it
collected) and notes each ``gc.freeze()`` (the first is at the ready line), and writes
them to REPORT.json when the server stops. ``--collect-while-building`` leaves the
collector on while the fleet is built (``gc.disable`` made a no-op), as ``serve`` did
before, for a comparison in the same run. Used by ``python -m bench.fleetpoll --gc``."""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any


class Collections:
    """Every collection, as (generation, start s since the watch began, pause ms of wall
    time, of CPU time, objects collected): on a loaded machine the wall pause also holds
    the time the process waited for a core."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.records: list[tuple[int, float, float, float, int]] = []
        self.freezes: list[tuple[float, int]] = []
        """When ``gc.freeze()`` was called (s since the watch began) and what it froze."""
        self._started = 0.0
        self._started_cpu = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.thread_time()
            return
        cpu = time.thread_time()
        now = time.perf_counter()
        self.records.append(
            (
                int(info["generation"]),
                round(self._started - self.origin, 4),
                round((now - self._started) * 1e3, 3),
                round((cpu - self._started_cpu) * 1e3, 3),
                int(info["collected"]),
            )
        )


def main(argv: list[str]) -> int:
    report = Path(argv[0])
    args = argv[1:]
    disable = gc.disable
    if args[:1] == ["--collect-while-building"]:
        args = args[1:]
        gc.disable = lambda: None
    watch = Collections()
    gc.callbacks.append(watch)
    freeze = gc.freeze

    def watched_freeze() -> None:
        at = round(time.perf_counter() - watch.origin, 4)
        freeze()
        watch.freezes.append((at, gc.get_freeze_count()))

    gc.freeze = watched_freeze
    from emulator.cli import main as cli_main  # noqa: PLC0415 - after the hook is in

    try:
        return cli_main(["serve", *args])
    finally:
        gc.callbacks.remove(watch)
        gc.freeze = freeze
        gc.disable = disable
        report.write_text(json.dumps({"collections": watch.records, "freezes": watch.freezes}))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
