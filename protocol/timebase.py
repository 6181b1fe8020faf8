"""Calendar arithmetic on the pump's real-time clock (RTC, Unix seconds, UTC).

Flex schedules follow the RTC time of day: the day is the UTC day and the
week starts on Monday (weekday 0), as in :meth:`datetime.date.weekday`.
These are calendar facts, not clinical constants.
"""

from __future__ import annotations

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3_600
MINUTES_PER_DAY = 1_440
SECONDS_PER_DAY = 86_400
DAYS_PER_WEEK = 7
SECONDS_PER_WEEK = SECONDS_PER_DAY * DAYS_PER_WEEK

MONDAY_EPOCH_CLOCK_S = 4 * SECONDS_PER_DAY
"""1970-01-05 00:00:00 UTC, the first Monday after the Unix epoch (a Thursday)."""

RTC_MAX_CLOCK_S = 2**32 - 1
"""The RTC is an unsigned 32-bit count of seconds."""

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def week_offset_s(clock_s: int) -> int:
    """Seconds since the most recent Monday 00:00 UTC at or before ``clock_s``."""
    return (clock_s - MONDAY_EPOCH_CLOCK_S) % SECONDS_PER_WEEK


def weekday(clock_s: int) -> int:
    """Day of the week of ``clock_s`` (Monday = 0 .. Sunday = 6), UTC."""
    return week_offset_s(clock_s) // SECONDS_PER_DAY


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact integer ceiling of ``numerator / denominator`` (``denominator > 0``)."""
    return -(-numerator // denominator)
