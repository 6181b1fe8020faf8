"""Garbage is collected on the GUI thread only while the programmer runs."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from programmer_gui.gc_guard import collect_on_gui_thread


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.widget_holder: list[QWidget] = []


def test_a_dropped_widget_in_a_cycle_is_freed_by_the_gui_thread_timer(
    qtbot: QtBot, qapp: QApplication
) -> None:
    gc.enable()  # the GUI tests' fixture turns it off; the guard must turn it off itself
    freed_on: list[str] = []
    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # the guard's timer then collects at its first check
    try:
        _drop_a_cycle_and_wait(qtbot, freed_on)
    finally:
        gc.set_threshold(*thresholds)
    assert freed_on == [threading.main_thread().name]
    assert gc.isenabled()
    gc.disable()


def _drop_a_cycle_and_wait(qtbot: QtBot, freed_on: list[str]) -> None:
    with collect_on_gui_thread(interval_s=0.01):
        assert not gc.isenabled()
        cycle = _Cycle()
        cycle.widget_holder.append(QWidget())
        probe = weakref.ref(cycle, lambda _ref: freed_on.append(threading.current_thread().name))
        del cycle
        # Allocate on another thread well past the thresholds: nothing may be collected there.
        worker = threading.Thread(target=lambda: [[] for _ in range(50_000)], name="worker")
        worker.start()
        worker.join()
        assert probe() is not None
        qtbot.waitUntil(lambda: probe() is None, timeout=2_000)
