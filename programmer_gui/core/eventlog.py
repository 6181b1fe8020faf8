"""The pump's event log, without Qt: each entry in words with units, filters, CSV export.

Each :class:`~protocol.messages.LogEntry` carries a code and two integers
whose meaning per code is ``protocol.enums.EVENT_PARAMS``; :func:`describe`
turns them into a sentence a clinician reads ("Refilled: 20.00 mL at
1000 mcg/mL"). Times are the pump's clock, shown as the programmer's local
time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

from protocol import messages as m
from protocol.client import PumpClient
from protocol.describe import describe_event
from protocol.enums import (
    EVENT_PARAMS,
    EventCode,
)
from protocol.units import format_clock, format_clock_iso

THERAPY: Final = "Therapy"
BOLUS: Final = "Bolus"
REFILL: Final = "Refill"
ALARM: Final = "Alarm"
DEVICE: Final = "Device"
SESSION: Final = "Session"
CATEGORIES: Final = (THERAPY, BOLUS, REFILL, ALARM, DEVICE, SESSION)
"""The filter groups, in the order the view lists them."""

NAMES: Final[dict[EventCode, tuple[str, str]]] = {
    EventCode.POWER_ON: ("Power on", DEVICE),
    EventCode.PROGRAMMED: ("Programmed", THERAPY),
    EventCode.REFILLED: ("Refilled", REFILL),
    EventCode.BOLUS_STARTED: ("Bolus started", BOLUS),
    EventCode.BOLUS_ENDED: ("Bolus ended", BOLUS),
    EventCode.BOLUS_CANCELLED: ("Bolus cancelled", BOLUS),
    EventCode.ALARM_RAISED: ("Alarm raised", ALARM),
    EventCode.ALARM_SILENCED: ("Alarm silenced", ALARM),
    EventCode.ALARM_CLEARED: ("Alarm cleared", ALARM),
    EventCode.MOTOR_STALL: ("Motor stall", ALARM),
    EventCode.STALL_RECOVERY: ("Stall recovery", ALARM),
    EventCode.CLOCK_SET: ("Clock set", DEVICE),
    EventCode.STOPPED: ("Stopped", THERAPY),
    EventCode.RESUMED: ("Resumed", THERAPY),
    EventCode.ALARM_VOLUME_SET: ("Alarm volume set", ALARM),
    EventCode.PATIENT_DOSE_GRANTED: ("Patient dose given", BOLUS),
    EventCode.PATIENT_DOSE_REFUSED: ("Patient dose refused", BOLUS),
    EventCode.PATIENT_SETTINGS_SET: ("Patient settings set", THERAPY),
    EventCode.DELIVERY_HALTED: ("Delivery halted", ALARM),
    EventCode.BATTERY_SET: ("Battery set", DEVICE),
    EventCode.MEMORY_ERROR: ("Memory error", ALARM),
    EventCode.SESSION_OPENED: ("Session opened", SESSION),
    EventCode.SESSION_CLOSED: ("Session closed", SESSION),
    EventCode.SECURITY: ("Security event", SESSION),
    EventCode.BRIDGE_STARTED: ("Bridge started", REFILL),
    EventCode.BRIDGE_ENDED: ("Bridge ended", REFILL),
    EventCode.BRIDGE_CANCELLED: ("Bridge cancelled", REFILL),
    EventCode.IMPLANT_RECORDED: ("Implant record written", DEVICE),
    EventCode.LOW_BATTERY_RESET: ("Low battery reset", ALARM),
    EventCode.VALVE_CLOSED: ("Valve closed", THERAPY),
    EventCode.VALVE_RESET: ("Valve reset", THERAPY),
}
"""Each event's name and filter group."""


def describe(entry: m.LogEntry) -> str:
    """The details of an entry in words, every number with its unit
    (:func:`protocol.describe.describe_event`)."""
    return describe_event(entry)


def format_local(clock_s: int) -> str:
    """A pump time as the programmer's local ``YYYY-MM-DD HH:MM:SS``."""
    return format_clock(clock_s)


def format_utc(clock_s: int) -> str:
    """A pump time in ISO 8601 UTC (for the CSV)."""
    return format_clock_iso(clock_s)


@dataclass(frozen=True, kw_only=True)
class EventRow:
    """One entry as the table shows it."""

    index: int
    clock_s: int
    code: EventCode
    event: str
    category: str
    details: str
    a: int
    b: int

    @property
    def time_text(self) -> str:
        return format_local(self.clock_s)

    def matches(self, *, categories: frozenset[str] | None, text: str) -> bool:
        """In one of ``categories`` (None: any) and containing ``text`` (any case)."""
        if categories is not None and self.category not in categories:
            return False
        needle = text.strip().lower()
        if not needle:
            return True
        return needle in f"{self.event} {self.details} {self.category}".lower()


def event_row(entry: m.LogEntry) -> EventRow:
    """The table row of one entry."""
    name, category = NAMES[entry.code]
    return EventRow(
        index=entry.index,
        clock_s=entry.clock_s,
        code=entry.code,
        event=name,
        category=category,
        details=describe(entry),
        a=entry.a,
        b=entry.b,
    )


def read_after(held: Sequence[m.LogEntry]) -> Callable[[PumpClient], list[m.LogEntry]]:
    """The link's job reading the entries after the last one ``held`` (all of them when
    none is held): the log is read incrementally and the new entries are merged (:func:`merge`)."""
    first = held[-1].index + 1 if held else 0

    def job(client: PumpClient) -> list[m.LogEntry]:
        return list(client.event_log(first))

    return job


def merge(existing: Sequence[m.LogEntry], new: Iterable[m.LogEntry]) -> list[m.LogEntry]:
    """``existing`` with the entries of ``new`` it lacks, by index, oldest first."""
    by_index = {entry.index: entry for entry in existing}
    for entry in new:
        by_index[entry.index] = entry
    return [by_index[index] for index in sorted(by_index)]


CSV_COLUMNS: Final = (
    "index",
    "pump_time_utc",
    "local_time",
    "category",
    "event",
    "details",
    "code",
    "param_a_name",
    "param_a",
    "param_b_name",
    "param_b",
)


def write_csv(rows: Iterable[EventRow], out: TextIO) -> int:
    """Write ``rows`` as CSV (a header, then one line per row); returns the rows written.

    The raw parameters go beside the words, named with their units
    (``EVENT_PARAMS``), so the file can be analysed without this program.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        name_a, name_b = EVENT_PARAMS[row.code]
        writer.writerow(
            (
                row.index,
                format_utc(row.clock_s),
                row.time_text,
                row.category,
                row.event,
                row.details,
                row.code.name,
                name_a,
                row.a,
                name_b,
                row.b,
            )
        )
        count += 1
    return count
