"""``make demo`` without a display: a virtual pump on a real pseudo-terminal and a scripted
programmer session against it.

DEMONSTRATION of the emulator and the protocol, run headless. With a display,
``make demo`` runs the programmer GUI instead (``pump-programmer --demo``, with
the educator's window beside it); without one it runs this: a scripted
clinician session (the same ``PumpClient`` the GUI uses) walks through a
clinic visit over the serial link while the pump's clock is stepped by months:
interrogation (with the implant record), a dose change with its review, the
low-reservoir alarm, a refill with a concentration change as ONE transaction
(the new drug, the same dose of it, and the bridge: the new dose computed at
the old concentration until the dead volume has moved), the bridge's end, and
the event log (``make demo``
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
from protocol import messages as m
from protocol import units
from protocol.cli import describe_prescription, fmt_time, status_lines
from protocol.client import PumpClient
from protocol.enums import AlarmCode, Role
from protocol.keys import DEMO_KEY_FILE, load_keys

DAY_S = 86_400
NG_PER_UG = 1000


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


def _dose(ng_per_day: int) -> str:
    return units.format_dose_ug_per_day(Fraction(ng_per_day, NG_PER_UG))


def _visit(client: PumpClient, clock: PumpClock, pause_s: float) -> None:
    def step() -> None:
        if pause_s:
            time.sleep(pause_s)

    info = client.device_info()
    record = client.implant()
    implant = record.implant
    _say(
        "Interrogate",
        [
            f"pump: {info.model} mL, serial {info.serial}, firmware {info.firmware_version}",
            *status_lines(client.status()),
            f"implant record: {implant.catheter_model} catheter, "
            f"{implant.catheter_length_mm / 10:g} cm of "
            f"{units.format_volume_nl(implant.catheter_volume_nl_per_cm)}/cm, "
            f"patient {implant.patient_id}, {implant.origin.name.lower()} origin"
            if record.recorded
            else "implant record: none",
        ],
    )
    step()

    before = client.status()
    conc = before.concentration_ug_per_ml
    current = client.read_prescription().prescription
    pending = m.PrescriptionSpec.simple(120 * NG_PER_UG, concentration_ug_per_ml=conc)
    change = Fraction(120 * NG_PER_UG - before.daily_dose_ng, before.daily_dose_ng)
    _say(
        "Review: change the dose (simple continuous)",
        [
            "current:  " + "; ".join(describe_prescription(current, conc)),
            "pending:  " + "; ".join(describe_prescription(pending, conc)),
            f"24-hour dose {_dose(before.daily_dose_ng)} -> {_dose(120 * NG_PER_UG)}, "
            f"change {units.format_percent(change)}",
        ],
    )
    active = client.program(pending)
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

    # The refill with a concentration change: ONE staged transaction holding the new drug,
    # the same dose of it and the bridge. Never a state where the old rate runs on new drug.
    new_conc = 2000
    old_spec = client.read_prescription().prescription
    new_spec = old_spec.with_concentration(new_conc)
    request = m.StageRefillRequest(
        removed_nl=status.reservoir_nl,
        added_nl=units.ml_to_nl(20),
        concentration_ug_per_ml=new_conc,
        allow_nonstandard=False,
        bridge=True,
        drug_lot="DEMO-LOT-1",
        prescription=new_spec,
    )
    staged = client.stage_refill(request)
    _say(
        f"Review: refill 20 mL of {new_conc} mcg/mL (was {conc} mcg/mL), same dose, with the "
        "bridge",
        [
            "dose before: " + "; ".join(describe_prescription(old_spec, conc)),
            "dose after:  " + "; ".join(describe_prescription(new_spec, new_conc)),
            f"bridge: the {units.format_volume_nl(staged.bridge_volume_nl)} dead volume "
            f"(pump tubing + the recorded {implant.catheter_length_mm / 10:g} cm catheter) "
            f"still holds {conc} mcg/mL: the new dose runs at {conc} mcg/mL until it has "
            "moved: " + "; ".join(describe_prescription(new_spec, conc)),
            f"expected in the reservoir {units.format_volume_nl(staged.expected_nl)}, removed "
            f"{units.format_volume_nl(request.removed_nl)}: discrepancy "
            f"{units.format_volume_nl(staged.discrepancy_nl)}"
            + (" (FLAGGED)" if staged.discrepancy_flagged else " (within limits)"),
        ],
    )
    refill = client.commit_refill(staged.checksum)
    now = client.status()
    bridge_end = refill.bridge_ends_at_s
    assert bridge_end is not None
    _say(
        "Refill committed as one transaction (checksum verified)",
        [
            f"reservoir now {units.format_volume_nl(refill.reservoir_nl)} of {new_conc} mcg/mL",
            f"24-hour dose {_dose(status.daily_dose_ng)} at the visit, "
            f"{_dose(now.daily_dose_ng)} now: unchanged by the new drug",
            f"bridge of {units.format_volume_nl(refill.bridge_volume_nl)} ends "
            f"{fmt_time(bridge_end)} ({(bridge_end - now.clock_s) / DAY_S:.3f} days; not a "
            "push at the maximum rate)",
        ],
    )
    step()

    clock.advance((bridge_end - now.clock_s) // 2)
    half = client.status()
    _say(
        "Half-way through the bridge",
        [
            f"bridge remaining {units.format_volume_nl(half.bridge_remaining_nl)} at "
            f"{half.bridge_concentration_ug_per_ml} mcg/mL, ends {fmt_time(half.bridge_ends_at_s)}",
            f"rate now {units.format_rate_nl_per_day(half.basal_rate_nl_per_day)} "
            f"= {_dose(half.daily_dose_ng)}",
        ],
    )
    clock.advance(bridge_end - half.clock_s + 60)
    final = client.status()
    _say(
        "The bridge has ended: the new drug has reached the catheter tip",
        [
            f"rate now {units.format_rate_nl_per_day(final.basal_rate_nl_per_day)} of "
            f"{final.concentration_ug_per_ml} mcg/mL = {_dose(final.daily_dose_ng)}",
            *status_lines(final),
        ],
    )
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
