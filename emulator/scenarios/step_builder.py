"""Building a scenario's steps from its checked data: actions, MRI, refill, bolus,
patient settings, link changes and expectations (the values pass of
:mod:`~emulator.scenarios.loader`, on top of :mod:`~emulator.scenarios.builder`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from enum import IntEnum
from fractions import Fraction
from typing import Any

from emulator.mri import MAX_EXPOSURE_S, MAX_RECOVERY_DELAY_S, MriExit
from emulator.scenarios import model as md
from emulator.scenarios.builder import _ValueBuilder
from emulator.scenarios.errors import ScenarioFileError
from emulator.scenarios.source import PathKey
from emulator.scenarios.units import (
    Expectation,
    Kind,
    TimeExpectation,
    parse_time,
)
from protocol.enums import (
    EVENT_PARAM_ENUMS,
    EVENT_PARAM_LABELS,
    EVENT_PARAM_UNITS,
    EVENT_PARAMS,
    AlarmCode,
    BolusKind,
    ErrorCode,
    EventCode,
    StopReason,
)
from protocol.units import Unit

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


class _Builder(_ValueBuilder):
    """Turns checked data into the typed model, collecting every problem with its line:
    the scenario and its steps, actions and expectations."""

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
