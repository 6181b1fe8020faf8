"""The Qt binding itself must not leak or drop Python references.

PySide6 6.12.0 returns ``True`` from ``SignalInstance.emit()`` without adding a
reference, so on CPython 3.11 every emit drops one reference to ``True`` and the
interpreter aborts after a few thousand (a programmer polling for an hour would
crash). pyproject.toml keeps PySide6 below 6.12 for that; this test fails on a
binding with the defect instead of letting a long run abort.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot


class _Probe(QObject):
    ping = Signal()
    value = Signal(object)


def test_emitting_signals_keeps_the_singletons_reference_counts(qtbot: QtBot) -> None:
    probe = _Probe()
    received: list[object] = []
    probe.value.connect(received.append)
    before = {name: sys.getrefcount(obj) for name, obj in (("True", True), ("None", None))}
    for _ in range(200):
        probe.ping.emit()
        probe.value.emit(None)
    after = {name: sys.getrefcount(obj) for name, obj in (("True", True), ("None", None))}
    assert len(received) == 200
    received.clear()
    # A little slack for references taken elsewhere meanwhile; the defect loses 200.
    assert after["True"] >= before["True"] - 20, (before, after)
    assert after["None"] >= before["None"] - 20, (before, after)
