"""Issue 13, item 13: every bad command-line value is a usage error (exit 2), one clear line.

``--timeout nan`` and a huge ``--retries`` used to hang forever, ``--timeout -1`` and
``1e308`` gave tracebacks, a full-width digit was read as a digit, and the Unix epoch was
accepted as a pump-clock time. The accepted pump-clock range is defined once
(:func:`protocol.units.check_pump_clock`) for ``pumpctl``, scenario start times and the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.scenarios.errors import UnitError
from emulator.scenarios.units import parse_iso_utc
from protocol import cli
from protocol.units import PUMP_CLOCK_MAX_S, PUMP_CLOCK_MIN_S, check_pump_clock
from tests.support import InprocPump, inproc_pump

FULL_WIDTH_FIVE = "\uff15"  # int() and float() read it as 5


@pytest.fixture
def pump() -> Iterator[InprocPump]:
    with inproc_pump() as p:
        yield p


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "options",
    [
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--timeout", "-1"],
        ["--timeout", "1e308"],
        ["--timeout", "0"],
        ["--timeout", FULL_WIDTH_FIVE],
        ["--retries", "99999999999999999"],
        ["--retries", "-1"],
        ["--retries", FULL_WIDTH_FIVE],
    ],
)
def test_bad_link_options_are_usage_errors(
    pump: InprocPump, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    code, err = _run(["--port", pump.url, *options, "status"], capsys)
    assert code == cli.EXIT_USAGE
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pumpctl: argument") and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["bolus", "therapeutic", "--dose", FULL_WIDTH_FIVE, "--duration", "10"],
        ["bolus", "therapeutic", "--dose", "5", "--duration", FULL_WIDTH_FIVE],
        ["clock", "--set", "1970-01-01T00:00:00Z"],
        ["clock", "--set", "1999-12-31T23:59:59Z"],
        ["clock", "--set", "2106-02-07T06:28:16Z"],
        ["clock", "--set", "2026-09-21T08:00:00" + FULL_WIDTH_FIVE],
    ],
)
def test_bad_values_are_usage_errors_and_change_nothing(
    pump: InprocPump, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    before = (pump.virtual.pump.clock(pump.virtual.pump.t), pump.virtual.pump.bolus)
    code, err = _run(["--port", pump.url, "--timeout", "0.5", *command], capsys)
    assert code == cli.EXIT_USAGE, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (pump.virtual.pump.clock(pump.virtual.pump.t), pump.virtual.pump.bolus) == before


def test_the_pump_clock_range_is_defined_once() -> None:
    assert check_pump_clock(PUMP_CLOCK_MIN_S) == PUMP_CLOCK_MIN_S
    assert check_pump_clock(PUMP_CLOCK_MAX_S) == PUMP_CLOCK_MAX_S
    for bad in (0, PUMP_CLOCK_MIN_S - 1, PUMP_CLOCK_MAX_S + 1):
        with pytest.raises(ValueError, match="outside 2000-01-01"):
            check_pump_clock(bad)
    assert parse_iso_utc("2026-09-21T00:00:00Z") == 1_789_948_800
    with pytest.raises(UnitError, match="outside 2000-01-01"):
        parse_iso_utc("1970-01-01T00:00:00Z")
