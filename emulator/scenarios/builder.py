"""Building a scenario's typed model from its checked data (the values pass of
:mod:`~emulator.scenarios.loader`): units, enum names and the starting state and
prescription, each problem with its line (the steps: :mod:`~emulator.scenarios.step_builder`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum
from fractions import Fraction
from typing import Any, TypeVar

from emulator.mri import VALVE_WORDS
from emulator.presets import CATHETER_VOLUME_NL_PER_CM as DEFAULT_CATHETER_NL_PER_CM
from emulator.presets import PumpSetup, implant_record
from emulator.scenarios import model as md
from emulator.scenarios.errors import Problem, UnitError
from emulator.scenarios.source import Located, PathKey
from emulator.scenarios.units import (
    Comparison,
    Expectation,
    Kind,
    TimeExpectation,
    parse_duration_s,
    parse_expectation,
    parse_iso_utc,
    parse_quantity,
    parse_time_expectation,
    whole,
)
from firmware_model.errors import FirmwareError
from protocol.enums import (
    Mode,
    Origin,
)
from protocol.messages import ImplantFields

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""The days of ``flex_weekly``, in the pump's order (Monday first)."""
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class _ValueBuilder:
    """Turns checked data into the typed model, collecting every problem with its line."""

    def __init__(
        self, located: Located, *, bad_paths: list[PathKey] | None = None, case: str = ""
    ) -> None:
        self.located = located
        self.problems: list[Problem] = []
        self.bad_paths = bad_paths or []
        """Where the schema found problems: the parts under them are not built."""
        self.case = case

    def sound(self, path: PathKey) -> bool:
        """No schema problem at or under ``path``: safe to build."""
        return not any(bad[: len(path)] == path for bad in self.bad_paths)

    def sound_part(self, path: PathKey, raw: object) -> dict[str, Any] | None:
        """The keys of mapping ``raw`` (at ``path``) the schema found sound, or None when the
        mapping itself is at fault (each key is built on its own: the pump, an expect)."""
        if not isinstance(raw, dict) or path in self.bad_paths:
            return None
        return {k: v for k, v in raw.items() if self.sound((*path, k))}

    def fail(self, path: PathKey, message: str) -> None:
        self.problems.append(self.located.problem(path, message))

    def attempt(self, path: PathKey, parse: Callable[[], T], default: T) -> T:
        """``parse()``, or ``default`` after recording its UnitError/ValueError at ``path``."""
        try:
            return parse()
        except (UnitError, ValueError) as exc:
            self.fail(path, str(exc))
            return default

    def quantity(self, path: PathKey, text: object, kind: Kind) -> Fraction:
        return self.attempt(path, lambda: parse_quantity(text, kind), Fraction(0))

    def whole(self, path: PathKey, text: object, kind: Kind, unit: str) -> int:
        return self.attempt(path, lambda: whole(parse_quantity(text, kind), text, unit), 0)

    def duration(self, path: PathKey, text: object) -> int:
        return self.attempt(path, lambda: parse_duration_s(text), 0)

    def expectation(self, path: PathKey, text: object, kind: Kind) -> Expectation:
        return self.attempt(
            path,
            lambda: parse_expectation(text, kind),
            Expectation(kind=kind, comparison=Comparison.EQUAL, value=Fraction(0), text=str(text)),
        )

    def date_expectation(self, path: PathKey, text: object) -> TimeExpectation:
        fallback = TimeExpectation(time=None, text="none")
        return self.attempt(path, lambda: parse_time_expectation(text), fallback)

    def optional_volume(self, path: PathKey, raw: dict[str, Any]) -> int | None:
        if "volume" not in raw:
            return None
        return self.whole((*path, "volume"), raw["volume"], Kind.VOLUME, "nL")

    def optional_dose(self, path: PathKey, raw: dict[str, Any]) -> Fraction | None:
        if "dose" not in raw:
            return None
        return self.quantity((*path, "dose"), raw["dose"], Kind.DOSE)

    def optional_duration(self, path: PathKey, raw: dict[str, Any], key: str) -> int:
        return self.duration((*path, key), raw[key]) if key in raw else 0

    def member(self, path: PathKey, enum: type[E], name: object) -> E:
        try:
            return enum[str(name)]
        except KeyError:
            self.fail(path, f"{name!r} is not one of {', '.join(m.name for m in enum)}")
            return next(iter(enum))

    # -- the document -------------------------------------------------------------------------

    def pump_start(self, raw: dict[str, Any]) -> md.PumpStart:
        p: PathKey = ("pump",)
        defaults = md.PumpStart()
        model = int(str(raw.get("model", f"{defaults.model} mL")).split()[0])
        concentration = (
            self.whole((*p, "concentration"), raw["concentration"], Kind.CONCENTRATION, "mcg/mL")
            if "concentration" in raw
            else defaults.concentration_ug_per_ml
        )
        implant = self.pump_implant(p, raw)
        return md.PumpStart(
            model=model,
            serial=str(raw.get("serial", f"VP{model}-QA0001")),
            reservoir_nl=(
                self.whole((*p, "reservoir"), raw["reservoir"], Kind.VOLUME, "nL")
                if "reservoir" in raw
                else 1_000_000 * model
            ),
            concentration_ug_per_ml=concentration,
            prescription=(
                self.prescription((*p, "prescription"), raw["prescription"])
                if "prescription" in raw
                else defaults.prescription
            ),
            battery_permille=(
                self.permille((*p, "battery"), raw["battery"])
                if "battery" in raw
                else defaults.battery_permille
            ),
            alarm_volume_nl=(
                self.whole((*p, "alarm_volume"), raw["alarm_volume"], Kind.VOLUME, "nL")
                if "alarm_volume" in raw
                else None
            ),
            catheter_length_cm=(
                self.whole((*p, "catheter"), raw["catheter"], Kind.LENGTH, "cm")
                if "catheter" in raw
                else implant.catheter_length_mm // 10
                if implant is not None
                else defaults.catheter_length_cm
            ),
            implant=implant,
            kind=VALVE_WORDS[raw.get("kind", "motor")],
            start_s=(
                self.attempt((*p, "start"), lambda: parse_iso_utc(raw["start"]), 0)
                if "start" in raw
                else defaults.start_s
            ),
        )

    def pump_implant(self, p: PathKey, raw: dict[str, Any]) -> ImplantFields | None:
        """The starting implant record: as written, none (``implant: false``), or by default
        one matching the true catheter (``catheter``, 50 cm if not written)."""
        if raw.get("implant") is False:
            return None
        if isinstance(raw.get("implant"), dict):
            return self.implant((*p, "implant"), raw["implant"])
        length = (
            self.whole((*p, "catheter"), raw["catheter"], Kind.LENGTH, "cm")
            if "catheter" in raw
            else md.PumpStart().catheter_length_cm
        )
        return default_implant(length)

    def implant(self, path: PathKey, raw: dict[str, Any]) -> ImplantFields:
        """An implant record as written (lengths in cm or mm, the volume per cm in mL/cm)."""
        length_mm = self.length_mm((*path, "catheter"), raw["catheter"])
        uncertainty_mm = (
            self.length_mm((*path, "uncertainty"), raw["uncertainty"])
            if "uncertainty" in raw
            else 0
        )
        per_cm = DEFAULT_CATHETER_NL_PER_CM
        if "volume_per_cm" in raw:
            text = str(raw["volume_per_cm"]).strip()
            if not text.endswith("/cm"):
                self.fail(
                    (*path, "volume_per_cm"), f"{text!r}: write a volume per cm, e.g. 0.0026 mL/cm"
                )
            else:
                per_cm = self.whole(
                    (*path, "volume_per_cm"), text.removesuffix("/cm"), Kind.VOLUME, "nL"
                )
        implanted = None
        if "implanted" in raw:
            implanted = self.attempt(
                (*path, "implanted"), lambda: parse_iso_utc(raw["implanted"]), None
            )
        try:
            return ImplantFields(
                catheter_model=str(raw.get("model", "")),
                catheter_volume_nl_per_cm=per_cm,
                catheter_length_mm=length_mm,
                catheter_length_uncertainty_mm=uncertainty_mm,
                implanted_at_s=implanted,
                patient_id=str(raw.get("patient", "")),
                origin=self.member((*path, "origin"), Origin, raw.get("origin", "UNKNOWN")),
                physician=str(raw.get("physician", "")),
            )
        except ValueError as exc:
            self.fail(path, f"not a valid implant record: {exc}")
            return default_implant(md.PumpStart().catheter_length_cm)

    def length_mm(self, path: PathKey, text: object) -> int:
        """A length (cm or mm) in whole millimetres."""
        return self.attempt(
            path, lambda: whole(parse_quantity(text, Kind.LENGTH) * 10, text, "mm"), 1
        )

    def permille(self, path: PathKey, text: object) -> int:
        ratio = self.quantity(path, text, Kind.PERCENT)
        value = ratio * 1000
        if value.denominator != 1 or not 0 <= value <= 1000:
            self.fail(path, f"{text!r}: the battery is 0 to 100 % in steps of 0.1 %")
            return 0
        return int(value)

    def check_start(self, start: md.PumpStart) -> None:
        """Build the starting pump once, as the executor will: refuse an impossible one now."""
        try:
            pump = setup_for(start).build(t=start.start_s)
            if start.alarm_volume_nl is not None:
                pump.set_alarm_volume(start.start_s, start.alarm_volume_nl)
        except (FirmwareError, ValueError) as exc:
            self.fail(("pump",), f"the pump cannot start like this: {exc}")

    def programmer(self, raw: dict[str, Any]) -> md.ProgrammerSettings:
        defaults = md.ProgrammerSettings()
        timeout = defaults.timeout_s
        if "timeout" in raw:
            value = self.quantity(("programmer", "timeout"), raw["timeout"], Kind.SHORT_DURATION)
            if value <= 0:
                self.fail(("programmer", "timeout"), "the timeout must be more than 0 ms")
            else:
                timeout = float(value)
        return md.ProgrammerSettings(timeout_s=timeout, retries=int(raw.get("retries", 3)))

    def dose_rate(self, path: PathKey, text: object) -> Fraction:
        """A prescribed dose in mcg/day (whole ng/day); a flow (mL/day) is refused: a
        prescription is a dose of the drug in the pump, and only the pump turns it into a
        flow (minimum_rate is the one volume mode, and it takes no number)."""
        if isinstance(text, str) and not text.strip().endswith("mcg/day"):
            try:
                parse_quantity(text, Kind.VOLUME_RATE)
            except UnitError:
                pass
            else:
                self.fail(
                    path,
                    f"{text!r}: a prescription is a dose of the drug in the pump, written in "
                    "mcg/day (e.g. 100 mcg/day), never a flow; only minimum_rate runs a volume "
                    "rate, and it takes none",
                )
                return Fraction(0)
        dose = self.quantity(path, text, Kind.DOSE_RATE)
        if (dose * md.NG_PER_UG).denominator != 1:
            self.fail(path, f"{text!r}: a dose is at most 3 decimals of mcg/day (whole ng/day)")
        return dose

    def prescription(self, path: PathKey, raw: dict[str, Any]) -> md.PrescriptionInput:
        if "simple" in raw:
            return md.PrescriptionInput(
                mode=Mode.SIMPLE, dose_ug_per_day=self.dose_rate((*path, "simple"), raw["simple"])
            )
        if "flex" in raw:
            return md.PrescriptionInput(
                mode=Mode.FLEX, flex=self.flex_profile((*path, "flex"), raw["flex"])
            )
        if "flex_weekly" in raw:
            days = raw["flex_weekly"]
            return md.PrescriptionInput(
                mode=Mode.FLEX,
                weekly=tuple(
                    self.flex_profile((*path, "flex_weekly", day), days[day]) for day in WEEKDAYS
                ),
            )
        if "minimum_rate" in raw:
            return md.PrescriptionInput(mode=Mode.MINIMUM_RATE)
        return md.PrescriptionInput(mode=Mode.STOPPED)

    def flex_profile(
        self, path: PathKey, raw: list[dict[str, Any]]
    ) -> tuple[md.FlexStepInput, ...]:
        """One day's flex steps ``[{at: HH:MM, dose: N mcg/day}, ...]``, in time order from
        midnight."""
        steps = []
        for i, item in enumerate(raw):
            at = _HHMM.fullmatch(item["at"])
            assert at is not None  # the schema checked the pattern
            steps.append(
                md.FlexStepInput(
                    start_min=int(at[1]) * 60 + int(at[2]),
                    dose_ug_per_day=self.dose_rate((*path, i, "dose"), item["dose"]),
                )
            )
        if steps[0].start_min != 0:
            self.fail((*path, 0, "at"), "a flex profile starts at 00:00")
        for i in range(1, len(steps)):
            if steps[i].start_min <= steps[i - 1].start_min:
                self.fail((*path, i, "at"), "flex steps must be in time order")
        return tuple(steps)

    # -- steps --------------------------------------------------------------------------------


def setup_for(start: md.PumpStart) -> PumpSetup:
    """The emulator's :class:`PumpSetup` for a scenario's starting state."""
    return PumpSetup(
        model=start.model,
        serial=start.serial,
        reservoir_nl=start.reservoir_nl,
        concentration_ug_per_ml=start.concentration_ug_per_ml,
        prescription=md.prescription_spec(start.prescription, start.concentration_ug_per_ml),
        implant=start.implant,
        battery_permille=start.battery_permille,
        description="scenario start",
        valve=start.kind,
    )


def default_implant(length_cm: int) -> ImplantFields:
    """The implant record a scenario's pump has when the file writes none: the true catheter
    (``catheter``) of the presets' model."""
    return implant_record(length_cm=length_cm)
