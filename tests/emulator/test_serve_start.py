"""`pump-emulator serve --clock manual --start UTC`: a reproducible weekday over a real pty, and
pumpctl's weekly flex profile reported day by day (issue 15, item 7)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from emulator.cli import build_emulator, build_parser
from emulator.errors import EmulatorUsageError
from tests.emulator.serve_support import BIN, serving

SATURDAY_0800 = 1_772_870_400  # 2026-03-07T08:00:00Z, a Saturday
WEEK = {
    "--mon": "00:00=400",
    "--tue": "00:00=400",
    "--wed": "00:00=400",
    "--thu": "00:00=400",
    "--fri": "00:00=400",
    "--sat": "00:00=300,08:00=350",
    "--sun": "00:00=300",
}


def test_start_sets_the_pump_clock_and_bad_times_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["serve", "--clock", "manual", "--start", "2026-03-07T08:00:00Z"]
    )
    emulator = build_emulator(args)
    try:
        assert emulator.clock.now() == SATURDAY_0800
        assert emulator.state()["pump"]["clock_s"] == SATURDAY_0800
    finally:
        emulator.close()
    for bad in ("2026-03-07T08:00:00", "2026-03-07T09:00:00+01:00", "saturday"):
        with pytest.raises(SystemExit) as refused:
            build_parser().parse_args(["serve", "--start", bad])
        assert refused.value.code == 2
        assert "--start" in capsys.readouterr().err


def test_start_is_refused_for_a_pump_resumed_from_its_state(tmp_path: Path) -> None:
    state = tmp_path / "pump.state"
    first = build_emulator(build_parser().parse_args(["serve", "--state", str(state)]))
    first.close()
    args = build_parser().parse_args(
        ["serve", "--state", str(state), "--start", "2026-03-07T08:00:00Z"]
    )
    with pytest.raises(EmulatorUsageError, match="--start cannot move the clock of a pump resumed"):
        build_emulator(args)


def test_a_saturday_over_a_pty_with_pumpctl(tmp_path: Path) -> None:
    link = tmp_path / "ttyPUMP0"
    with serving(
        "--port", str(link), "--clock", "manual", "--start", "2026-03-07T08:00:00Z"
    ) as served:
        assert served.ready["event"] == "ready", served.ready

        def pumpctl(*argv: str) -> str:
            done = subprocess.run(
                [str(BIN / "pumpctl"), "--port", str(link), *argv],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        flags = [part for pair in WEEK.items() for part in pair]
        programmed = pumpctl("program", "flex", *flags)
        assert "24-hour dose by weekday:" in programmed
        # 100 mcg/day before (the preset); Saturday 8 h at 300 + 16 h at 350 = 333.333 mcg/day
        assert "Mon: 100 mcg/day -> 400 mcg/day" in programmed
        assert "Sat: 100 mcg/day -> 333.33 mcg/day" in programmed
        assert "Sun: 100 mcg/day -> 300 mcg/day" in programmed
        status = json.loads(pumpctl("--json", "status"))
        assert status["clock_s"] == SATURDAY_0800  # the manual clock has not moved
        assert status["daily_dose_ng"] == 333_333  # today is the Saturday
    assert served.proc.returncode == 0
