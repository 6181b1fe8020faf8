"""``make demo`` without a display: a virtual pump on a real pseudo-terminal and a scripted
programmer session against it.

DEMONSTRATION of the emulator and the protocol, run headless. With a display,
``make demo`` runs the programmer GUI instead (``pump-programmer --demo``, with
the educator's window beside it); without one it runs this: a scripted
clinician session (the same ``PumpClient`` the GUI uses) walks through a
clinic visit over the serial link while the pump's clock is stepped by months:
interrogation, a dose change with its review, the low-reservoir alarm, a refill
with a concentration change and a bridge bolus, and the event log (``make demo``
then renders the programmer's screens offscreen into ``docs/screenshots/``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.presets import PRESETS
from emulator.server import Server
from emulator.transports.pty import PtyTransport
from firmware_model.profile import profile_for
from protocol import messages as m
from protocol import units
from protocol.cli import describe_prescription, fmt_dose_rate, fmt_time, status_lines
from protocol.client import PumpClient
from protocol.enums import AlarmCode, BolusKind, Role
from protocol.keys import DEMO_KEY_FILE, load_keys

DAY_S = 86_400
CATHETER_LENGTH_CM = 50
"""The demo patient's catheter as trimmed at implant, cm."""


def _say(title: str, lines: Sequence[str] = ()) -> None:
    print(f"\n== {title}")
    for line in lines:
        print(f"   {line}")


def run(pause_s: float = 0.0) -> None:
    """Run the scripted visit; ``pause_s`` waits between steps (for a live audience)."""
    keys = load_keys(DEMO_KEY_FILE)
    setup = PRESETS["default"]
    clock = PumpClock(start_pump_s=int(time.time()))
    clock.set_manual()  # The demo moves time itself: months pass in a second.
    virtual = VirtualPump(pump=setup.build(t=clock.now()), keys=keys, clock=clock)
    with tempfile.TemporaryDirectory(prefix="vpump-demo-") as tmp:
        link = Path(tmp) / "ttyPUMP0"
        server = Server(tick=virtual.tick, name="demo-pump")
        server.add(PtyTransport(virtual.endpoint, link_path=link))
        server.start()
        try:
            print("vpump DEMONSTRATION (headless: no display for the programmer GUI)")
            print(f"virtual pump on {link} -> {link.resolve()} (a real pseudo-terminal)")
            print(f"starting state: {setup.description}")
            with PumpClient(str(link), key=keys[Role.CLINICIAN]) as client:
                _visit(client, clock, pause_s)
        finally:
            server.stop()
            server.check()


def _visit(client: PumpClient, clock: PumpClock, pause_s: float) -> None:
    def step() -> None:
        if pause_s:
            time.sleep(pause_s)

    info = client.device_info()
    _say(
        "Interrogate",
        [
            f"pump: {info.model} mL, serial {info.serial}, firmware {info.firmware_version}",
            *status_lines(client.status()),
        ],
    )
    step()

    before = client.status()
    conc = before.concentration_ug_per_ml
    new_rate = units.dose_to_rate_nl_per_day(120, conc)
    change = Fraction(new_rate - before.daily_volume_nl, before.daily_volume_nl)
    _say(
        "Review: change the dose (simple continuous)",
        [
            f"current:  {fmt_dose_rate(before.daily_volume_nl, conc)}",
            f"pending:  {fmt_dose_rate(new_rate, conc)}   change {units.format_percent(change)}",
        ],
    )
    active = client.program(m.PrescriptionSpec.simple(new_rate))
    after = client.status()
    _say(
        "Programmed (staged, checksum verified, committed, read back)",
        [
            *describe_prescription(active.prescription, conc),
            f"low-reservoir alarm now expected {fmt_time(after.low_reservoir_alarm_at_s)}",
        ],
    )
    step()

    alarm_at = after.low_reservoir_alarm_at_s
    assert alarm_at is not None
    clock.advance(alarm_at - after.clock_s)
    status = client.status()
    _say(f"{(alarm_at - after.clock_s) / DAY_S:.1f} days later", status_lines(status))
    if AlarmCode.LOW_RESERVOIR in status.alarms_active:
        client.silence_alarm(AlarmCode.LOW_RESERVOIR)
        _say("Low-reservoir alarm silenced (it stays until the refill)")
    step()

    expected = status.reservoir_nl
    refill = client.refill(
        removed_nl=expected, added_nl=units.ml_to_nl(20), concentration_ug_per_ml=1000
    )
    _say(
        "Refill: emptied, 20 mL of 1000 mcg/mL added (concentration doubled)",
        [
            f"expected {units.format_volume_nl(refill.expected_nl)}, removed "
            f"{units.format_volume_nl(expected)}: discrepancy "
            f"{units.format_volume_nl(refill.discrepancy_nl)}"
            + (" (FLAGGED)" if refill.discrepancy_flagged else " (within limits)"),
            f"reservoir now {units.format_volume_nl(refill.reservoir_nl)}",
        ],
    )
    profile = profile_for(client.device_info().model)
    bridge_nl = (
        profile.internal_tubing_volume_nl + CATHETER_LENGTH_CM * profile.catheter_volume_nl_per_cm
    )
    bolus = client.start_bolus(BolusKind.BRIDGE, bridge_nl)
    _say(
        "Bridge bolus: pushes the old 500 mcg/mL drug out of the pump tubing and the "
        f"{CATHETER_LENGTH_CM} cm catheter",
        [
            f"{units.format_volume_nl(bolus.volume_nl, 3)} at the bolus rate, "
            f"ends {fmt_time(bolus.ends_at_s)}",
        ],
    )
    clock.advance(bolus.duration_s)
    dose_rate = units.dose_to_rate_nl_per_day(120, 1000)
    client.program(m.PrescriptionSpec.simple(dose_rate))
    for code in AlarmCode:
        if code in client.status().alarms_active:
            client.clear_alarm(code)
    final = client.status()
    _say("Dose re-programmed at the new concentration; alarm cleared", status_lines(final))
    step()

    entries = list(client.event_log())
    _say(
        f"Event log ({len(entries)} entries, last 8)",
        [f"#{e.index:<4} {fmt_time(e.clock_s)}  {e.code.name}" for e in entries[-8:]],
    )
    print(
        "\nDone. Try it yourself: `.venv/bin/pump-emulator serve` in one terminal, "
        "`.venv/bin/pumpctl interrogate` in another; with a display, "
        "`.venv/bin/pump-programmer --demo` opens the programmer and the educator's window."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pause", type=float, default=0.0, help="seconds to wait between steps (default 0)"
    )
    args = parser.parse_args(argv)
    run(pause_s=args.pause)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
