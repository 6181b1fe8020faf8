"""Keep Python's cyclic garbage collector on the GUI thread.

The collector runs on whichever thread happens to allocate when a threshold is
crossed. If that is the link's worker thread and the garbage holds a dropped
widget, Qt destroys the widget there: its destructor takes Qt's
signal-connection lock and then waits for the GIL, while the GUI thread holds
the GIL and waits for that same lock, and the programmer freezes (seen under
load: a QMenu freed by a collection on the worker). The remedy (pyqtgraph's
``GarbageCollector`` does the same; this one saves loading pyqtgraph at start-up):
automatic collection off, a QTimer collecting on the GUI thread instead, each
generation when its threshold is crossed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QTimer

DEFAULT_INTERVAL_S = 1.0
"""How often the GUI thread checks the collector's thresholds, in seconds."""


@contextmanager
def collect_on_gui_thread(interval_s: float = DEFAULT_INTERVAL_S) -> Iterator[None]:
    """Within the block, garbage is collected only by a timer on the calling (GUI) thread.

    Needs a running Qt application on this thread. On exit the timer stops, what is
    pending is collected here, and automatic collection is restored as it was.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    timer = QTimer()
    timer.timeout.connect(_collect_past_thresholds)
    timer.start(round(interval_s * 1000))
    try:
        yield
    finally:
        timer.stop()
        gc.collect()
        if was_enabled:
            gc.enable()


def _collect_past_thresholds() -> None:
    """Collect the oldest generation whose count passed its threshold (as Python would)."""
    thresholds = gc.get_threshold()
    counts = gc.get_count()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return
