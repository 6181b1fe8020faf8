"""Protocol coverage: which opcodes, NAK codes, alarms and faults a test suite exercised.

Switched on by ``pytest --vpump-coverage`` or ``pump-emulator run --coverage``,
a :class:`ProtocolCoverage` is attached to every emulated pump built while it is
active (``EmulatedPump`` calls :func:`attach`, which does nothing when coverage
is off). For each pump it

* decodes every byte on every link (as the pump saw it, after the link's
  faults) and counts the request opcodes, the response opcodes and the NAK
  codes the pump answered with;
* reads the pump's event log (:meth:`ProtocolCoverage.harvest`, after each test
  or scenario): the alarms raised (``ALARM_RAISED``) and the faults the pump
  lived through (motor stall, which an MRI exposure also causes; critical and
  non-critical memory errors; the low-battery reset; a battery level set;
  delivery halted by each cause; patient doses refused with each code).

:meth:`ProtocolCoverage.report_text` and :meth:`ProtocolCoverage.report_html`
list, for each kind, what was exercised (with counts) and what never was,
against every member of the protocol's enums, so a QA lead sees what is
untested. Counts merge across processes (:meth:`to_json`, :meth:`merge`; the
pytest plugin merges the pytest-xdist workers').
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import TYPE_CHECKING

from emulator.capture import Chunk, Direction
from emulator.decode import Decoder, FrameEvent
from protocol.enums import AlarmCode, ErrorCode, EventCode, Op
from protocol.messages import Nak

if TYPE_CHECKING:
    from emulator.emulator import EmulatedPump

__all__ = [
    "FAULTS",
    "KINDS",
    "ProtocolCoverage",
    "active",
    "attach",
    "collecting",
    "start",
    "stop",
]

HALTING_ALARMS = (
    AlarmCode.EMPTY_RESERVOIR,
    AlarmCode.EOS,
    AlarmCode.MOTOR_STALL,
    AlarmCode.MEMORY_CRITICAL,
)
"""The faults that halt delivery (DELIVERY_HALTED names one)."""

FAULTS: tuple[str, ...] = (
    "MOTOR_STALL",
    "STALL_RECOVERY",
    "MEMORY_ERROR_CRITICAL",
    "MEMORY_ERROR_NON_CRITICAL",
    "LOW_BATTERY_RESET",
    "BATTERY_SET",
    *(f"DELIVERY_HALTED_{code.name}" for code in HALTING_ALARMS),
    "SECURITY",
)
"""The faults (and their consequences) the event log can show."""

KINDS: tuple[tuple[str, str], ...] = (
    ("requests", "request opcodes"),
    ("naks", "NAK codes"),
    ("alarms", "alarms raised"),
    ("faults", "faults"),
)
"""The kinds reported, with their headings."""


def _universe(kind: str) -> tuple[str, ...]:
    match kind:
        case "requests":
            return tuple(op.name for op in Op if op is not Op.NAK)
        case "naks":
            return tuple(code.name for code in ErrorCode)
        case "alarms":
            return tuple(code.name for code in AlarmCode)
        case _:
            return FAULTS


class ProtocolCoverage:
    """Counts of what the attached pumps saw; thread-safe (pumps answer on their loops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, Counter[str]] = {kind: Counter() for kind, _ in KINDS}
        self._decoders: dict[int, Decoder] = {}
        self._pumps: list[EmulatedPump] = []
        """Pumps to read at the next harvest (held until then, then let go)."""
        self._watched: weakref.WeakSet[EmulatedPump] = weakref.WeakSet()
        """Pumps whose links feed this coverage already."""
        self._harvested: weakref.WeakKeyDictionary[EmulatedPump, tuple[int, int]] = (
            weakref.WeakKeyDictionary()
        )
        """pump -> (next event-log index to count, id of the firmware Pump it belongs to: a
        reset builds a new one, with a new log)."""

    # -- feeding ---------------------------------------------------------------------------

    def attach(self, pump: EmulatedPump) -> None:
        """Watch ``pump``: its links from now on, and its event log at the next harvest (call
        again for the harvests after that, e.g. for a pump that serves many tests)."""
        with self._lock:
            if pump not in self._pumps:
                self._pumps.append(pump)
            if pump in self._watched:
                return
            self._watched.add(pump)
        pump.capture_to(_Sink(self, id(pump)))

    def feed(self, source: int, chunk: Chunk) -> None:
        with self._lock:
            decoder = self._decoders.setdefault(source, Decoder())
            for event in decoder.feed(chunk):
                if not isinstance(event, FrameEvent) or event.message is None:
                    continue
                if event.direction is Direction.TO_PUMP and event.kind == "request":
                    self.counts["requests"][event.op_name] += 1
                elif isinstance(event.message, Nak):
                    self.counts["naks"][event.message.code.name] += 1

    def harvest(self) -> None:
        """Count the event-log entries of the attached pumps not counted yet, then let go of
        the pumps (a test's pump goes with its emulator)."""
        with self._lock:
            pumps, self._pumps = self._pumps, []
        for emulated in pumps:
            self._harvest_one(emulated)

    def _harvest_one(self, emulated: EmulatedPump) -> None:
        with emulated.virtual.lock:
            pump = emulated.pump
            entries = list(pump.event_log)
        first, pump_id = self._harvested.get(emulated, (0, id(pump)))
        if pump_id != id(pump):  # reset: a new pump, a new log
            first = 0
        fresh = [e for e in entries if e.index >= first]
        if entries:
            self._harvested[emulated] = (entries[-1].index + 1, id(pump))
        with self._lock:
            for entry in fresh:
                for kind, name in _from_event(entry.code, entry.a):
                    self.counts[kind][name] += 1

    # -- merging ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: dict(counter) for kind, counter in self.counts.items()}

    def merge(self, data: dict[str, dict[str, int]]) -> None:
        with self._lock:
            for kind, counts in data.items():
                if kind in self.counts:
                    self.counts[kind].update({str(k): int(v) for k, v in counts.items()})

    # -- reporting -------------------------------------------------------------------------

    def summary(self) -> list[tuple[str, list[tuple[str, int]], list[str]]]:
        """For each kind: its heading, what was exercised (name, count), what never was."""
        rows = []
        with self._lock:
            for kind, heading in KINDS:
                counter = self.counts[kind]
                universe = _universe(kind)
                seen = [(name, counter[name]) for name in universe if counter[name]]
                seen += sorted((n, c) for n, c in counter.items() if n not in universe)
                never = [name for name in universe if not counter[name]]
                rows.append((heading, seen, never))
        return rows

    def report_text(self) -> str:
        lines = ["vpump protocol coverage"]
        for heading, seen, never in self.summary():
            total = len(seen) + len(never)
            lines.append(f"  {heading}: {len(seen)} of {total} exercised")
            if seen:
                lines.append("    exercised: " + ", ".join(f"{n} x{c}" for n, c in seen))
            lines.append("    never: " + (", ".join(never) if never else "(none)"))
        return "\n".join(lines)

    def report_html(self) -> str:
        parts = ['<div class="vpump-coverage"><h2>vpump protocol coverage</h2>']
        parts.append(
            '<table border="1" cellspacing="0" cellpadding="3"><tr><th>kind</th>'
            "<th>exercised</th><th>never exercised</th></tr>"
        )
        for heading, seen, never in self.summary():
            total = len(seen) + len(never)
            done = ", ".join(f"{escape(n)}&nbsp;&times;{c}" for n, c in seen) or "(none)"
            missing = ", ".join(escape(n) for n in never) or "(none)"
            parts.append(
                f"<tr><td>{escape(heading)} ({len(seen)}/{total})</td><td>{done}</td>"
                f'<td style="color:#cf222e">{missing}</td></tr>'
            )
        parts.append("</table></div>")
        return "".join(parts)


def _from_event(code: EventCode, a: int) -> list[tuple[str, str]]:
    match code:
        case EventCode.ALARM_RAISED:
            return [("alarms", _name(AlarmCode, a))]
        case EventCode.MOTOR_STALL | EventCode.STALL_RECOVERY:
            return [("faults", code.name)]
        case EventCode.MEMORY_ERROR:
            critical = a == AlarmCode.MEMORY_CRITICAL
            return [("faults", "MEMORY_ERROR_" + ("CRITICAL" if critical else "NON_CRITICAL"))]
        case EventCode.LOW_BATTERY_RESET | EventCode.BATTERY_SET | EventCode.SECURITY:
            return [("faults", code.name)]
        case EventCode.DELIVERY_HALTED:
            return [("faults", "DELIVERY_HALTED_" + _name(AlarmCode, a))]
        case EventCode.PATIENT_DOSE_REFUSED:
            return []  # its NAK crossed the wire and is counted there
        case _:
            return []


def _name(enum: type[AlarmCode], value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


class _Sink:
    """A chunk sink that feeds a coverage (one per pump)."""

    def __init__(self, coverage: ProtocolCoverage, source: int) -> None:
        self._coverage = coverage
        self._source = source

    def record(self, direction: Direction, link: str, data: bytes) -> Chunk:
        chunk = Chunk(wall_s=0.0, pump_s=0, direction=direction, link=link, data=bytes(data))
        # (times do not matter here: the decoder only needs the bytes in order per link)
        self._coverage.feed(self._source, chunk)
        return chunk


_collecting: list[ProtocolCoverage] = []
"""The coverages collecting now, innermost last (pumps attach to the innermost)."""


def active() -> ProtocolCoverage | None:
    """The coverage collecting now, if any."""
    return _collecting[-1] if _collecting else None


def attach(pump: EmulatedPump) -> None:
    """Called by every new emulated pump: watched when coverage is collecting."""
    if _collecting:
        _collecting[-1].attach(pump)


def start(coverage: ProtocolCoverage | None = None) -> ProtocolCoverage:
    """Collect into ``coverage`` (a new one by default) until :func:`stop`."""
    chosen = coverage if coverage is not None else ProtocolCoverage()
    _collecting.append(chosen)
    return chosen


def stop(coverage: ProtocolCoverage) -> None:
    """Stop collecting into ``coverage`` (after a last harvest)."""
    coverage.harvest()
    if coverage in _collecting:
        _collecting.remove(coverage)


@contextmanager
def collecting(coverage: ProtocolCoverage | None = None) -> Iterator[ProtocolCoverage]:
    """Collect into ``coverage`` (a new one by default) while the block runs."""
    chosen = start(coverage)
    try:
        yield chosen
    finally:
        stop(chosen)
