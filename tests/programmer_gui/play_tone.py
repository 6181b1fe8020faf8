"""Child process of test_playback.py: play one alarm pattern through TonePlayer and exit.

Run as ``python -m tests.programmer_gui.play_tone MODEL CLASS`` with ``PULSE_SERVER`` set
to the test's private sound server. Prints one JSON line (the device, then ``done``);
exit status 0 when the pattern was played to its end, 1 otherwise.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QCoreApplication, QTimer

from programmer_gui.tone_player import TonePlayer
from protocol.enums import AlarmClass
from protocol.tones import pattern_for

TIMEOUT_MS = 20_000


def main(argv: list[str]) -> int:
    model, class_name = int(argv[0]), argv[1]
    app = QCoreApplication([])
    player = TonePlayer()
    report: dict[str, object] = {"status": player.status_text, "available": player.available}
    if not player.available:
        print(json.dumps(report), flush=True)
        return 1
    pattern = pattern_for(model, AlarmClass[class_name])
    finished = {"ok": False}

    def poll() -> None:
        if not player.playing:
            finished["ok"] = True
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    QTimer.singleShot(TIMEOUT_MS, app.quit)
    report["started"] = player.play(pattern)
    app.exec()
    report["done"] = finished["ok"]
    print(json.dumps(report), flush=True)
    return 0 if finished["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
