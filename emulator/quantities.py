"""Quantities written with their units, as the integers the wire and the emulator use.

The same strict parser as scenario files (:mod:`emulator.scenarios.units`), for Python
tests: ``dose("100 mcg/day")`` is 100,000 ng/day, ``volume("2.87 mL")`` 2,870,000 nL.
A value that does not parse, or is finer than the wire's unit, raises
:class:`~emulator.scenarios.errors.UnitError` (a ``ValueError``) naming what is accepted::

    >>> from emulator.quantities import concentration, dose, duration, flow, volume
    >>> dose("100 mcg/day"), dose("50 mcg")
    (100000, 50000)
    >>> volume("2.87 mL"), flow("0.2 mL/day"), duration("1d 6h"), concentration("500 mcg/mL")
    (2870000, 200000, 108000, 500)
    >>> try:
    ...     volume("20 ml")
    ... except ValueError as exc:
    ...     print(str(exc).split(";")[0])
    '20 ml': 'ml' is not a unit of a volume (did you mean mL?)
"""

from __future__ import annotations

from emulator.scenarios.errors import UnitError
from emulator.scenarios.units import Kind, parse_quantity, whole

__all__ = ["concentration", "dose", "duration", "flow", "volume"]

_NG_PER_UG = 1000


def dose(text: str) -> int:
    """A dose in ng (``"50 mcg"``) or a daily dose in ng/day (``"100 mcg/day"``), by its unit:
    what ``PrescriptionSpec.simple``, ``start_bolus`` and the patient settings take."""
    if str(text).strip().endswith("/day"):
        return whole(parse_quantity(text, Kind.DOSE_RATE) * _NG_PER_UG, text, "ng/day")
    if "/" in str(text):
        raise UnitError(
            f"{text!r}: a dose is written in mcg (50 mcg) or a daily dose in mcg/day "
            "(100 mcg/day); a flow is flow(), e.g. flow('0.2 mL/day')"
        )
    return whole(parse_quantity(text, Kind.DOSE) * _NG_PER_UG, text, "ng")


def volume(text: str) -> int:
    """A volume in whole nanolitres (``"2 mL"`` is 2,000,000)."""
    return whole(parse_quantity(text, Kind.VOLUME), text, "nL")


def flow(text: str) -> int:
    """A flow rate in nL/day (``"0.2 mL/day"`` is 200,000)."""
    return whole(parse_quantity(text, Kind.VOLUME_RATE), text, "nL/day")


def duration(text: str) -> int:
    """A duration in whole seconds (``"90d"``, ``"1d 6h"``, ``"30 min"``)."""
    return whole(parse_quantity(text, Kind.DURATION), text, "seconds")


def concentration(text: str) -> int:
    """A drug concentration in mcg/mL (``"500 mcg/mL"``)."""
    return whole(parse_quantity(text, Kind.CONCENTRATION), text, "mcg/mL")
