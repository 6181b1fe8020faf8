"""``pumpctl``: talk to a pump (real or virtual) from the command line.

Human output shows units on every number; ``--json`` prints one stable JSON
object per command (enum values by name, volumes in nL, doses in ng and ng/day
(1 mcg = 1000 ng), rates in nL/day,
times in Unix seconds, the same field names as the wire messages). Errors are
one line on stderr with a distinct exit status:

    0  success
    1  unexpected internal error (a defect: please report it)
    2  bad arguments or key file
    3  link error (cannot open the port, no answer, link lost)
    4  authentication, role or session error (wrong key, lockout, bad MAC, expired,
       a command the role may not use)
    5  refused by the pump (out of range, invalid state, ...) or not confirmed
"""

# This module is the entry point (argument parser, exit statuses, ``main``); the commands are
# protocol.cli_records (reading) and protocol.cli_therapy (changing delivery), the values and
# words they share protocol.cli_values. Their public names are re-exported here.

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from protocol.cli_records import (
    cmd_alarms,
    cmd_clear,
    cmd_clock,
    cmd_emergency,
    cmd_implant,
    cmd_info,
    cmd_interrogate,
    cmd_limits,
    cmd_log,
    cmd_set_alarm_volume,
    cmd_silence,
    cmd_status,
)
from protocol.cli_therapy import (
    cmd_bolus,
    cmd_cancel_bridge,
    cmd_patient_dose,
    cmd_patient_settings,
    cmd_program,
    cmd_refill,
    cmd_resume,
    cmd_valve,
)
from protocol.cli_values import (
    Printer,
    UsageError,
    describe_prescription,
    enum_word,
    fmt_dose_ng_per_day,
    fmt_dose_rate,
    fmt_param,
    fmt_time,
    implant_lines,
    status_lines,
    to_jsonable,
)
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, ProgrammingError, PumpClient
from protocol.emergency import OVERDOSE_SIGNS, WITHDRAWAL_SIGNS
from protocol.enums import AlarmCode, ErrorCode, Role
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    InvalidMessage,
    LinkClosed,
    LinkTimeout,
    NakError,
    ProtocolError,
    StateError,
)
from protocol.keys import DEMO_KEY_FILE, KeyFileError, key_for, load_keys

__all__ = [
    "DEFAULT_PORT",
    "EXIT_AUTH",
    "EXIT_INTERNAL",
    "EXIT_LINK",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "OVERDOSE_SIGNS",
    "WITHDRAWAL_SIGNS",
    "OneLineErrors",
    "Printer",
    "UsageError",
    "build_parser",
    "cmd_alarms",
    "cmd_bolus",
    "cmd_cancel_bridge",
    "cmd_clear",
    "cmd_clock",
    "cmd_emergency",
    "cmd_implant",
    "cmd_info",
    "cmd_interrogate",
    "cmd_limits",
    "cmd_log",
    "cmd_patient_dose",
    "cmd_patient_settings",
    "cmd_program",
    "cmd_refill",
    "cmd_resume",
    "cmd_set_alarm_volume",
    "cmd_silence",
    "cmd_status",
    "cmd_valve",
    "describe_prescription",
    "fmt_dose_ng_per_day",
    "fmt_dose_rate",
    "fmt_param",
    "fmt_time",
    "implant_lines",
    "main",
    "status_lines",
    "to_jsonable",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_LINK = 3
EXIT_AUTH = 4
EXIT_REFUSED = 5

DEFAULT_PORT = "/tmp/ttyPUMP0"

_SESSION_CODES = frozenset(
    {
        ErrorCode.NO_SESSION,
        ErrorCode.AUTH_FAILED,
        ErrorCode.LOCKED_OUT,
        ErrorCode.BAD_MAC,
        ErrorCode.REPLAY,
        ErrorCode.FORBIDDEN,
        ErrorCode.SESSION_EXPIRED,
        ErrorCode.SESSION_DISPLACED,
        ErrorCode.BAD_HANDSHAKE,
    }
)


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2): the usage
    summary is what ``--help`` is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?", re.ASCII)

MAX_TIMEOUT_S = 3600
"""Longest --timeout accepted, s."""
MAX_RETRIES = 100
"""Most --retries accepted."""


def _timeout(text: str) -> float:
    """``--timeout``: seconds, a plain ASCII decimal from 0.01 to 3600."""
    if _DECIMAL.fullmatch(text) is None or not 0.01 <= float(text) <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"{text[:30]!r} is not a number of seconds from 0.01 to {MAX_TIMEOUT_S}"
        )
    return float(text)


def _retries(text: str) -> int:
    """``--retries``: a whole number from 0 to 100, ASCII digits."""
    if re.fullmatch(r"[0-9]{1,3}", text, re.ASCII) is None or int(text) > MAX_RETRIES:
        raise argparse.ArgumentTypeError(
            f"{text[:30]!r} is not a whole number from 0 to {MAX_RETRIES}"
        )
    return int(text)


# -- the parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="pumpctl",
        description="Read and program a vpump implantable pump over its telemetry link.",
        epilog=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        default=DEFAULT_PORT,
        help=f"pty path, socket://HOST:PORT or pumpsim://NAME (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--key",
        default=str(DEMO_KEY_FILE),
        help="key file (default: the public demo key shipped with vpump, protocol/data/demo.key)",
    )
    parser.add_argument(
        "--role",
        choices=["clinician", "patient"],
        default="clinician",
        help="session role (default clinician)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each answer (default {DEFAULT_TIMEOUT_S:g} s)",
    )
    parser.add_argument(
        "--retries",
        type=_retries,
        default=DEFAULT_RETRIES,
        help=f"retransmissions before giving up (default {DEFAULT_RETRIES})",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Callable[..., None], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("info", cmd_info, "identify the pump (no session needed)")
    add(
        "emergency",
        cmd_emergency,
        "what an emergency department needs from one interrogation (clinician or patient role)",
    )
    add("limits", cmd_limits, "the limits the pump enforces (alarm volume, boluses, doses)")
    add("status", cmd_status, "the pump's state, alarms and forecasts")
    add("interrogate", cmd_interrogate, "device, status and prescription in one read")

    program = add(
        "program",
        cmd_program,
        "program a new prescription (staged, verified, committed), or stop the pump",
    )
    modes = program.add_subparsers(dest="mode", required=True, metavar="MODE")
    simple = modes.add_parser(
        "simple",
        help="one dose all day",
        description="one dose all day, --dose in mcg/day of the drug in the pump",
    )
    simple.add_argument("--dose", help="daily dose, mcg/day")
    simple.add_argument(
        "--concentration",
        help="the drug the dose is of, mcg/mL (default: the pump's; any other is refused)",
    )
    flex = modes.add_parser(
        "flex",
        help="a daily profile of up to 13 steps",
        description="flex dosing. Steps are HH:MM=DOSE (mcg/day) separated by commas; the "
        "first starts at 00:00 and each runs until the next. Example: "
        "--steps 00:00=400,07:00=450,22:00=350",
    )
    flex.add_argument("--steps", help="the profile for every day")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        flex.add_argument(f"--{day}", help=f"the profile for {day} (give all seven)")
    flex.add_argument(
        "--concentration",
        help="the drug the doses are of, mcg/mL (default: the pump's; any other is refused)",
    )
    modes.add_parser(
        "minimum-rate",
        help="keep-open flow only",
        description="keep-open flow only (the model's minimum-rate flow)",
    )
    stop = modes.add_parser(
        "stop",
        help="stop delivery (withdrawal risk!)",
        description="stop delivery, recording why; `pumpctl resume` restarts the last mode",
    )
    stop.add_argument(
        "--reason",
        default="clinician-decision",
        help="clinician-decision, mri, catheter-revision, adverse-effect, other",
    )

    add("resume", cmd_resume, "resume delivery after a stop")

    refill = add(
        "refill",
        cmd_refill,
        "refill as one transaction: the reservoir emptied and refilled, the dose on the new "
        "drug and, when the concentration changes, the bridge",
    )
    refill.add_argument("--removed", required=True, help="volume emptied from the pump, mL")
    refill.add_argument("--added", required=True, help="volume injected, mL")
    refill.add_argument("--concentration", required=True, help="new drug concentration, mcg/mL")
    refill.add_argument("--dose", help="new daily dose on the new drug, mcg/day (simple)")
    refill.add_argument(
        "--same-dose",
        action="store_true",
        help="keep the current mcg/day on the new drug (the rate changes)",
    )
    refill.add_argument(
        "--no-bridge",
        action="store_true",
        help="decline the bridge after a concentration change (the catheter's old drug then "
        "runs at the new rates)",
    )
    refill.add_argument("--lot", help="lot number of the drug added")
    refill.add_argument(
        "--allow-nonstandard",
        action="store_true",
        help="accept a concentration outside the commercial list",
    )

    add(
        "cancel-bridge",
        cmd_cancel_bridge,
        "end a running bridge now (the rates change to the new concentration)",
    )

    valve = add("valve", cmd_valve, "the pump kind (motor or valve pump); reset a closed valve")
    valve.add_argument("action", nargs="?", choices=["show", "reset"], default="show")

    bolus = add("bolus", cmd_bolus, "start or cancel a bolus")
    bolus.add_argument("kind", choices=["therapeutic", "priming", "cancel"])
    bolus.add_argument("--dose", help="therapeutic dose, mcg")
    bolus.add_argument("--duration", help="therapeutic duration, minutes")
    bolus.add_argument("--volume", help="priming volume, mL (runs at the maximum rate)")

    implant = add("implant", cmd_implant, "read or write the implant record")
    implant.add_argument("action", nargs="?", choices=["show", "set"], default="show")
    implant.add_argument("--catheter-model", default="", help="catheter model name")
    implant.add_argument(
        "--volume-per-cm", default="0.0026", help="catheter dead volume, mL/cm (default 0.0026)"
    )
    implant.add_argument("--length", default="110", help="catheter length after trimming, cm")
    implant.add_argument("--uncertainty", default="0", help="+/- on the length, cm (default 0)")
    implant.add_argument("--implanted", help="implant date, ISO 8601 with zone")
    implant.add_argument("--patient-id", default="", help="patient identifier")
    implant.add_argument(
        "--origin", default="unknown", help="origin of the spasticity: spinal, cerebral, unknown"
    )
    implant.add_argument("--physician", default="", help="implanting or managing physician")

    add("alarms", cmd_alarms, "list the alarms")
    for name, handler, verb in (
        ("silence", cmd_silence, "silence (stop its tone)"),
        ("clear", cmd_clear, "clear (only once its condition is gone)"),
    ):
        p = add(name, handler, f"{verb} an alarm")
        p.add_argument("alarm", help=", ".join(enum_word(a) for a in AlarmCode))

    alarm_volume = add(
        "set-alarm-volume", cmd_set_alarm_volume, "set the low-reservoir alarm volume"
    )
    alarm_volume.add_argument("volume", help="mL")

    log = add("log", cmd_log, "read the event log")
    log.add_argument("--first", type=int, default=0, help="first entry index (default 0)")
    log.add_argument("--count", type=int, help="only the last COUNT entries")

    clock = add("clock", cmd_clock, "read or set the pump clock")
    clock.add_argument("--set", help="'now' (this computer's clock) or an ISO 8601 time with zone")

    settings = add(
        "patient-settings",
        cmd_patient_settings,
        "read or change the patient-activated dose settings",
    )
    enable = settings.add_mutually_exclusive_group()
    enable.add_argument("--enable", dest="enable", action="store_const", const=True)
    enable.add_argument("--disable", dest="enable", action="store_const", const=False)
    settings.add_argument("--dose", help="dose per activation, mcg")
    settings.add_argument("--duration", help="minutes to deliver one dose")
    settings.add_argument("--lockout", help="hours between doses")
    settings.add_argument("--max-per-day", type=int, help="doses allowed in any 24 h")

    add("patient-dose", cmd_patient_dose, "request a patient-activated dose")
    return parser


def _fail(code: int, message: str) -> NoReturn:
    print(f"pumpctl: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pumpctl`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    role = Role[args.role.upper()]

    def out(data: Any, lines: list[str]) -> None:
        if args.json:
            print(json.dumps(to_jsonable(data), sort_keys=True))
        else:
            print("\n".join(lines))

    try:
        key = None
        if args.command != "info":
            key = key_for(load_keys(args.key), role, source=args.key)
        with PumpClient(
            args.port, key=key, role=role, timeout_s=args.timeout, retries=args.retries
        ) as client:
            args.handler(client, args, out)
    except (UsageError, KeyFileError, InvalidMessage) as exc:
        _fail(EXIT_USAGE, str(exc))
    except (LinkTimeout, LinkClosed) as exc:
        _fail(EXIT_LINK, f"link error: {exc}")
    except NakError as exc:
        if exc.code is ErrorCode.FORBIDDEN:
            _fail(EXIT_AUTH, f"not permitted in the {role.name.lower()} role: {exc}")
        if exc.code in _SESSION_CODES:
            _fail(EXIT_AUTH, f"session refused: {exc}")
        _fail(EXIT_REFUSED, f"refused by the pump: {exc}")
    except (AuthenticationError, BadMacError) as exc:
        _fail(EXIT_AUTH, f"authentication failed: {exc}")
    except ProgrammingError as exc:
        _fail(EXIT_REFUSED, f"not confirmed: {exc}")
    except (ProtocolError, StateError) as exc:
        _fail(EXIT_LINK, f"protocol error: {exc}")
    except BrokenPipeError:
        # The reader went away (`pumpctl log | head`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
