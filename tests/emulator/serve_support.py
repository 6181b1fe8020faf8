"""``pump-emulator serve`` as a real process for the end-to-end tests: started, its ready
line read, and stopped with SIGTERM when the test is done (whatever happened)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
"""Where the virtualenv's console scripts are (``pump-emulator``, ``pumpctl``)."""


@dataclass
class Served:
    """A running ``serve``: its process, its ready line, and once stopped its output."""

    proc: subprocess.Popen[str]
    ready: dict[str, Any] = field(default_factory=dict)
    out: str = ""
    err: str = ""

    @property
    def last_line(self) -> Any:
        """The last JSON line it printed (its ``stopped`` line once it has stopped)."""
        return json.loads(self.out.strip().splitlines()[-1])


@contextmanager
def serving(*args: str, stop_timeout_s: float = 10.0) -> Iterator[Served]:
    """Run ``pump-emulator serve ARGS``; yield it once it printed its ready line; on the
    way out send SIGTERM (if it still runs) and collect its output and exit status."""
    proc = subprocess.Popen(
        [str(BIN / "pump-emulator"), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "serve exited before its ready line"
        served.ready = json.loads(line)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        served.out, served.err = proc.communicate(timeout=stop_timeout_s)
