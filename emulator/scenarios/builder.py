"""Building a scenario's typed model from its checked data (the values pass of
:mod:`~emulator.scenarios.loader`): units, enum names, event parameters, the starting
state, the steps and their actions and expectations, each problem with its line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from enum import IntEnum
from fractions import Fraction
from typing import Any, TypeVar

from emulator.mri import MAX_EXPOSURE_S, MAX_RECOVERY_DELAY_S, VALVE_WORDS, MriExit
from emulator.presets import CATHETER_VOLUME_NL_PER_CM as DEFAULT_CATHETER_NL_PER_CM
from emulator.presets import PumpSetup, implant_record
from emulator.scenarios import model as md
from emulator.scenarios.errors import Problem, ScenarioFileError, UnitError
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
    parse_time,
    parse_time_expectation,
    whole,
)
from firmware_model.errors import FirmwareError
from protocol.enums import (
    EVENT_PARAM_ENUMS,
    EVENT_PARAM_LABELS,
    EVENT_PARAM_UNITS,
    EVENT_PARAMS,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    Mode,
    Origin,
    StopReason,
)
from protocol.messages import ImplantFields
from protocol.units import Unit

E = TypeVar("E", bound=IntEnum)
T = TypeVar("T")

_ACTIONS = (
    "interrogate",
    "program",
    "stage",
    "commit",
    "refill",
    "bolus",
    "cancel_bolus",
    "cancel_bridge",
    "implant",
    "set_clock",
    "stop",
    "resume",
    "set_alarm_volume",
    "patient_settings",
    "patient_dose",
    "silence_alarm",
    "clear_alarm",
    "connect",
    "disconnect",
    "advance",
    "fault",
    "mri",
    "mri_start",
    "mri_end",
    "reset_valve",
    "link",
    "expect",
)

_QUANTITY_FIELDS: dict[str, Kind] = {
    "reservoir": Kind.VOLUME,
    "true_reservoir": Kind.VOLUME,
    "bolus_remaining": Kind.VOLUME,
    "alarm_volume": Kind.VOLUME,
    "daily_dose": Kind.DOSE_RATE,
    "daily_volume": Kind.VOLUME_RATE,
    "current_rate": Kind.VOLUME_RATE,
    "concentration": Kind.CONCENTRATION,
    "concentration_at_tip": Kind.CONCENTRATION,
    "battery": Kind.PERCENT,
    "delivered": Kind.DOSE,
    "bridge_remaining": Kind.VOLUME,
    "bridge_concentration": Kind.CONCENTRATION,
    "patient_rate": Kind.DOSE_RATE,
    "patient_last_hour": Kind.DOSE,
    "not_delivering_for": Kind.DURATION,
    "response": Kind.PERCENT,
    "response_progress": Kind.PERCENT,
    "patient_level": Kind.LEVEL,
    "delivered_to_patient": Kind.DOSE,
    "pocket": Kind.VOLUME,
}
_DATE_FIELDS = (
    "low_reservoir_date",
    "empty_date",
    "eri_date",
    "bridge_end",
    "clock",
    "delivering_since",
    "response_onset",
    "response_full_effect",
)
_FLAG_FIELDS = (
    "delivering",
    "bridging",
    "in_mri_field",
    "telemetry_mode",
    "withdrawal_risk",
    "overdose_risk",
    "valve_closed",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""The days of ``flex_weekly``, in the pump's order (Monday first)."""
_ALARM_SET_FIELDS = ("alarms", "alarms_include", "alarms_absent", "silenced")

_PARAM_KINDS: dict[Unit, Kind | None] = {
    Unit.NG: Kind.DOSE,
    Unit.NG_PER_DAY: Kind.DOSE_RATE,
    Unit.MM: Kind.LENGTH,
    Unit.UG_PER_ML: Kind.CONCENTRATION,
    Unit.NL: Kind.VOLUME,
    Unit.NL_PER_DAY: Kind.VOLUME_RATE,
    Unit.PERMILLE: Kind.PERCENT,
    Unit.S: Kind.DURATION,
    Unit.COUNT: None,
}
"""The kind a scenario writes an event parameter of each unit in (a count is bare)."""
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def event_parameters(code: EventCode) -> dict[str, tuple[str, Kind | type[IntEnum] | None]]:
    """The parameters a scenario may match for ``code``: the name written in the file (its
    ``EVENT_PARAM_LABELS`` label) -> (wire name, the kind its declared unit is written in,
    its enum, or None for a count)."""
    result: dict[str, tuple[str, Kind | type[IntEnum] | None]] = {}
    for wire in EVENT_PARAMS[code]:
        if wire == "unused":
            continue
        label = EVENT_PARAM_LABELS.get(wire, wire)
        enum = EVENT_PARAM_ENUMS.get(wire)
        result[label] = (wire, enum if enum is not None else _PARAM_KINDS[EVENT_PARAM_UNITS[wire]])
    return result


def did_you_mean(word: object, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean X?)`` for the closest of ``choices`` to a misspelt ``word``, or ""."""
    if not isinstance(word, str):
        return ""
    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not near:
        lowered = {c.lower(): c for c in choices}
        near = [lowered[word.lower()]] if word.lower() in lowered else []
    return f" (did you mean {near[0]}?)" if near else ""


class _Builder:
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

    def step_sound(self, index: int, raw: object) -> bool:
        """Whether step ``index`` can be built: sound, or an ``expect`` whose faulty keys are
        left out (its other checks are still checked)."""
        path: PathKey = ("steps", index)
        if self.sound(path):
            return True
        if not isinstance(raw, dict) or [k for k in raw if k in _ACTIONS] != ["expect"]:
            return False
        inside = (*path, "expect")
        under = [bad for bad in self.bad_paths if bad[: len(path)] == path]
        return all(len(bad) > len(inside) and bad[: len(inside)] == inside for bad in under)

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

    def build(self, *, schema_ok: bool = True) -> md.Scenario | None:
        """The scenario; or, when the schema found problems (``schema_ok`` False), None after
        checking the values of every part it found sound (their problems are raised)."""
        data = self.located.data
        if not isinstance(data, dict):
            return None
        sound = self.sound
        pump_raw = self.sound_part(("pump",), data.get("pump") or {})
        pump = md.PumpStart() if pump_raw is None else self.pump_start(pump_raw)
        programmer_raw = data.get("programmer") or {}
        programmer = (
            self.programmer(programmer_raw) if sound(("programmer",)) else md.ProgrammerSettings()
        )
        raw_steps = data.get("steps")
        steps = tuple(
            self.step(index, raw)
            for index, raw in enumerate(raw_steps if isinstance(raw_steps, list) else ())
            if self.step_sound(index, raw)
        )
        if not self.problems and schema_ok:
            self.check_start(pump)
        if self.problems:
            raise ScenarioFileError(self.problems)
        if not schema_ok:
            return None
        title = str(data["scenario"])
        requirement = data.get("requirement", ())
        return md.Scenario(
            source=self.located.source,
            title=f"{title} [{self.case}]" if self.case else title,
            description=str(data.get("description", "")).strip(),
            pump=pump,
            programmer=programmer,
            seed=int(data.get("seed", 0)),
            steps=steps,
            tags=tuple(data.get("tags", ())),
            requirements=(requirement,) if isinstance(requirement, str) else tuple(requirement),
            case=self.case,
        )

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

    def step(self, index: int, raw: dict[str, Any]) -> md.Step:
        verb = next(k for k in raw if k in _ACTIONS)
        path: PathKey = ("steps", index, verb)
        line = self.located.where(("steps", index))[0]
        action = self.action(path, verb, raw[verb])
        expect_error: ErrorCode | str | None = None
        if "expect_error" in raw:
            name = raw["expect_error"]
            expect_error = md.TIMEOUT if name == md.TIMEOUT else ErrorCode[name]
            if isinstance(action, md.Advance | md.Fault | md.Mri | md.LinkChange | md.Expect):
                self.fail(
                    ("steps", index, "expect_error"),
                    f"expect_error applies to programmer steps, not to {verb}",
                )
        return md.Step(
            index=index + 1,
            line=line,
            verb=verb,
            name=str(raw.get("name") or _describe(verb, raw[verb])),
            action=action,
            expect_error=expect_error,
        )

    def action(self, path: PathKey, verb: str, raw: Any) -> md.Action:
        simple: dict[str, Callable[[], md.Action]] = {
            "interrogate": md.Interrogate,
            "commit": md.Commit,
            "cancel_bolus": md.CancelBolus,
            "cancel_bridge": md.CancelBridge,
            "reset_valve": md.ResetValve,
            "resume": md.Resume,
            "patient_dose": md.PatientDose,
            "connect": md.Connect,
            "disconnect": md.Disconnect,
        }
        if verb in simple:
            return simple[verb]()
        match verb:
            case "program" | "stage":
                return md.Program(
                    prescription=self.prescription(path, raw), stage_only=verb == "stage"
                )
            case "refill":
                return self.refill(path, raw)
            case "implant":
                return md.SetImplant(implant=self.implant(path, raw))
            case "set_clock":
                fallback = parse_time("now")
                return md.SetClock(to=self.attempt(path, lambda: parse_time(raw), fallback))
            case "bolus":
                return self.bolus(path, raw)
            case "stop":
                return md.Stop(reason=StopReason[raw])
            case "set_alarm_volume":
                return md.SetAlarmVolume(volume_nl=self.whole(path, raw, Kind.VOLUME, "nL"))
            case "patient_settings":
                return self.patient_settings(path, raw)
            case "silence_alarm":
                return md.SilenceAlarm(code=AlarmCode[raw])
            case "clear_alarm":
                return md.ClearAlarm(code=AlarmCode[raw])
            case "advance":
                if isinstance(raw, dict):
                    text = raw["until"]
                    fallback = parse_time("start")
                    until = self.attempt((*path, "until"), lambda: parse_time(text), fallback)
                    return md.Advance(until=until)
                return md.Advance(seconds=self.duration(path, raw))
            case "fault":
                return md.Fault(
                    motor_stall=raw.get("motor_stall"),
                    memory_error=(
                        None if "memory_error" not in raw else raw["memory_error"] == "CRITICAL"
                    ),
                    battery_permille=(
                        self.permille((*path, "battery"), raw["battery"])
                        if "battery" in raw
                        else None
                    ),
                    low_battery_reset=bool(raw.get("low_battery_reset", False)),
                    pocket_fill=bool(raw.get("pocket_fill", False)),
                )
            case "link":
                return self.link(path, raw)
            case "mri" | "mri_start" | "mri_end":
                return self.mri(path, verb, raw)
            case _:
                return self.expect(path, raw)

    def mri(self, path: PathKey, verb: str, raw: dict[str, Any] | None) -> md.Mri:
        """``mri: {duration, ...exit}``, ``mri_start: {}``, ``mri_end: {...exit}``."""
        raw = raw or {}
        duration = 0
        if verb == "mri":
            duration = self.duration((*path, "duration"), raw["duration"])
            if not 1 <= duration <= MAX_EXPOSURE_S:
                self.fail((*path, "duration"), "an exposure lasts 1 s to 24 h")
        delay: int | tuple[int, int] = 0
        if "recovery_delay" in raw:
            text = str(raw["recovery_delay"])
            low_text, sep, high_text = text.partition("..")
            low = self.duration((*path, "recovery_delay"), low_text)
            high = self.duration((*path, "recovery_delay"), high_text) if sep else low
            if not 0 <= low <= high <= MAX_RECOVERY_DELAY_S or (sep and low == high):
                self.fail(
                    (*path, "recovery_delay"),
                    f"{text!r}: a delay (e.g. 4h) or a range (e.g. 2h..24h, the shorter first),"
                    " 0 to 24 h (the longest delay reported)",
                )
            else:
                delay = (low, high) if sep else low
        trap = raw.get("telemetry_trap", False)
        return md.Mri(
            start=verb in ("mri", "mri_start"),
            end=verb in ("mri", "mri_end"),
            duration_s=duration,
            exit=MriExit(
                recovery_delay_s=delay,
                telemetry_trap="seeded" if trap == "seeded" else bool(trap),
                recovery_logged_at_second_interrogation=bool(
                    raw.get("recovery_logged_at_second_interrogation", False)
                ),
            ),
        )

    def refill(self, path: PathKey, raw: dict[str, Any]) -> md.Refill:
        expect = raw.get("expect", {})
        same_dose = bool(raw.get("same_dose", False))
        prescription = (
            self.prescription((*path, "prescription"), raw["prescription"])
            if "prescription" in raw
            else None
        )
        if same_dose and prescription is not None:
            self.fail(path, "a refill takes a prescription or same_dose: true, not both")
        return md.Refill(
            removed_nl=(
                None
                if raw["removed"] == "expected"
                else self.whole((*path, "removed"), raw["removed"], Kind.VOLUME, "nL")
            ),
            added_nl=self.whole((*path, "added"), raw["added"], Kind.VOLUME, "nL"),
            concentration_ug_per_ml=self.whole(
                (*path, "concentration"), raw["concentration"], Kind.CONCENTRATION, "mcg/mL"
            ),
            prescription=prescription,
            same_dose=same_dose,
            bridge=bool(raw.get("bridge", False)),
            lot=str(raw.get("lot", "")),
            nonstandard=bool(raw.get("nonstandard", False)),
            expect_discrepancy=(
                self.expectation(
                    (*path, "expect", "discrepancy"), expect["discrepancy"], Kind.VOLUME
                )
                if "discrepancy" in expect
                else None
            ),
            expect_flagged=expect.get("flagged"),
        )

    def bolus(self, path: PathKey, raw: dict[str, Any]) -> md.StartBolus:
        if raw["kind"] == "BRIDGE":
            self.fail(
                (*path, "kind"),
                "the bridge is not a bolus: it is part of the refill (refill: {..., bridge: "
                "true}), running the new doses at the old concentration until the dead volume "
                "has moved",
            )
            return md.StartBolus(kind=BolusKind.THERAPEUTIC)
        kind = BolusKind[raw["kind"]]
        volume = (
            self.whole((*path, "volume"), raw["volume"], Kind.VOLUME, "nL")
            if "volume" in raw
            else None
        )
        dose = self.quantity((*path, "dose"), raw["dose"], Kind.DOSE) if "dose" in raw else None
        duration = self.duration((*path, "duration"), raw["duration"]) if "duration" in raw else 0
        if kind is BolusKind.THERAPEUTIC:
            if volume is not None:
                self.fail(
                    (*path, "volume"), "a THERAPEUTIC bolus is a dose (e.g. 50 mcg), not a volume"
                )
            if dose is None:
                self.fail(path, "a THERAPEUTIC bolus needs a dose, e.g. 50 mcg")
            elif (dose * md.NG_PER_UG).denominator != 1:
                self.fail((*path, "dose"), "a dose is whole nanograms (at most 3 decimals of mcg)")
            if not duration:
                self.fail(path, "a THERAPEUTIC bolus needs a duration, e.g. 1h")
        else:
            if dose is not None:
                self.fail((*path, "dose"), "a PRIMING bolus is a volume, not a dose")
            if duration:
                self.fail(
                    (*path, "duration"), "a PRIMING bolus runs at the maximum rate: no duration"
                )
        return md.StartBolus(kind=kind, volume_nl=volume, dose_ug=dose, duration_s=duration)

    def patient_settings(self, path: PathKey, raw: dict[str, Any]) -> md.PatientSettings:
        enabled = bool(raw["enabled"])
        dose = self.quantity((*path, "dose"), raw["dose"], Kind.DOSE) if "dose" in raw else None
        if "volume" in raw:
            self.fail((*path, "volume"), "a patient dose is a dose (e.g. 20 mcg), not a volume")
        if dose is not None and (dose * md.NG_PER_UG).denominator != 1:
            self.fail((*path, "dose"), "a dose is whole nanograms (at most 3 decimals of mcg)")
        if enabled:
            for key in ("dose", "duration", "lockout", "max_per_day"):
                if key not in raw:
                    self.fail(path, f"enabled patient doses need {key!r}")
        return md.PatientSettings(
            enabled=enabled,
            dose_ug=dose or Fraction(0),
            duration_s=self.duration((*path, "duration"), raw["duration"])
            if "duration" in raw
            else 0,
            lockout_s=self.duration((*path, "lockout"), raw["lockout"]) if "lockout" in raw else 0,
            max_per_24h=int(raw.get("max_per_day", 0)),
        )

    def link(self, path: PathKey, raw: dict[str, Any]) -> md.LinkChange:
        def probability(key: str) -> float | None:
            if key not in raw:
                return None
            value = self.quantity((*path, key), raw[key], Kind.PERCENT)
            if not 0 <= value <= 1:
                self.fail((*path, key), f"{raw[key]!r}: a probability is 0 to 100 %")
            return float(value)

        delay = None
        if "delay" in raw:
            delay = float(self.quantity((*path, "delay"), raw["delay"], Kind.SHORT_DURATION) * 1000)
        return md.LinkChange(
            drop=probability("drop"),
            corrupt=probability("corrupt"),
            delay_ms=delay,
            baud=raw.get("baud"),
            disconnected=raw.get("disconnected"),
        )

    def expect(self, path: PathKey, raw: dict[str, Any]) -> md.Expect:
        raw = self.sound_part(path, raw) or {}
        quantities = tuple(
            (key, self.expectation((*path, key), raw[key], kind))
            for key, kind in _QUANTITY_FIELDS.items()
            if key in raw
        )
        dates: list[tuple[str, TimeExpectation]] = []
        for key in _DATE_FIELDS:
            if key in raw:
                dates.append((key, self.date_expectation((*path, key), raw[key])))
        names = tuple((key, raw[key]) for key in ("mode", "bolus", "patient_state") if key in raw)
        flags = tuple((key, bool(raw[key])) for key in _FLAG_FIELDS if key in raw)
        alarm_sets = tuple(
            (key, frozenset(AlarmCode[name] for name in raw[key]))
            for key in _ALARM_SET_FIELDS
            if key in raw
        )
        events = tuple(
            self.event_match((*path, "events", i), item)
            for i, item in enumerate(raw.get("events", ()))
        )
        absent = tuple(EventCode[name] for name in raw.get("events_absent", ()))
        prescription = (
            self.prescription((*path, "prescription"), raw["prescription"])
            if "prescription" in raw
            else None
        )
        return md.Expect(
            quantities=quantities,
            dates=tuple(dates),
            names=names,
            flags=flags,
            alarm_sets=alarm_sets,
            events=events,
            events_absent=absent,
            prescription=prescription,
        )

    def event_match(self, path: PathKey, raw: dict[str, Any]) -> md.EventMatch:
        code = EventCode[raw["event"]]
        known = event_parameters(code)
        params: list[tuple[str, Expectation | int]] = []
        for key, value in raw.items():
            if key in ("event", "count"):
                continue
            if key not in known:
                choices = ", ".join(known) or "none"
                near = did_you_mean(key, list(known))
                self.fail(
                    (*path, key),
                    f"{code.name} has no parameter {key!r}{near} (it has: {choices})",
                )
                continue
            wire, kind = known[key]
            if isinstance(kind, Kind):
                params.append((wire, self.expectation((*path, key), value, kind)))
            elif kind is None:
                if isinstance(value, bool) or not isinstance(value, int):
                    self.fail((*path, key), f"{key} is a count: write a whole number")
                    continue
                params.append((wire, value))
            else:
                params.append((wire, int(self.member((*path, key), kind, value))))
        text = ", ".join(f"{k}: {v}" for k, v in raw.items())
        return md.EventMatch(code=code, params=tuple(params), count=raw.get("count"), text=text)


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


def _describe(verb: str, raw: Any) -> str:
    """A short default name for a step: the verb and its arguments as written."""
    if raw is None or raw == {}:
        return verb.replace("_", " ")
    if isinstance(raw, dict):
        inner = ", ".join(f"{k} {_short(v)}" for k, v in raw.items())
        return f"{verb.replace('_', ' ')}: {inner}"
    return f"{verb.replace('_', ' ')} {raw}"


def _short(value: Any) -> str:
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(str(v) for v in value) + "]"
        return f"({len(value)} entries)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_short(v)}" for k, v in value.items()) + "}"
    return str(value)
