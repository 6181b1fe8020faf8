"""The vpump pytest plugin's configuration of a virtual pump: :class:`VirtualPumpConfig`,
the defaults of ``virtual_pump`` (the overridable ``vpump_config`` fixture), and the
``@pytest.mark.vpump(...)`` options applied to it with their units written out
(:meth:`VirtualPumpConfig.with_options`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from emulator.emulator import true_catheter_cm
from emulator.errors import EmulatorUsageError
from emulator.link_faults import LinkImpairment
from emulator.mri import VALVE_WORDS
from emulator.presets import PRESETS, PumpSetup, implant_record
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFileError, UnitError
from emulator.scenarios.loader import did_you_mean, parse_prescription
from emulator.scenarios.units import Kind, parse_iso_utc, parse_quantity, whole
from protocol.messages import ImplantFields, PrescriptionSpec

__all__ = ["VirtualPumpConfig", "VpumpConfigError"]


class VpumpConfigError(EmulatorUsageError, ValueError):
    """A ``vpump`` marker or ``vpump_config`` option that is unknown or malformed."""


@dataclass(frozen=True, kw_only=True)
class VirtualPumpConfig:
    """How ``virtual_pump`` starts its pump. Override the ``vpump_config`` fixture to change
    the defaults for a directory, or use ``@pytest.mark.vpump(...)`` per test."""

    preset: str = "default"
    """The starting state the other fields modify (emulator.presets.PRESETS)."""
    model: int | None = None
    serial: str | None = None
    reservoir_nl: int | None = None
    concentration_ug_per_ml: int | None = None
    prescription: PrescriptionSpec | None = None
    """A dose of the drug filled (None: the preset's doses, of the drug filled)."""
    battery_permille: int | None = None
    alarm_volume_nl: int | None = None
    catheter_length_cm: int | None = None
    """The TRUE catheter, cm (None: the implant record's length)."""
    implant: ImplantFields | str | None = "preset"
    """The implant record: "preset" (the preset's), None (no record) or a record."""
    start_s: int = md.DEFAULT_START_S
    """Pump clock when the test starts (in session scope: the same weekday and time of day)."""
    kind: str = "motor"
    """How the pump meters drug: "motor", "valve-discharge" or "valve-flow-activated"."""
    motor_stall: bool = False
    low_battery_reset: bool = False
    """Start with the pump just reset on a low battery (minimum rate, critical alarm)."""
    memory_error: str | None = None
    """None, "critical" or "non-critical"."""
    link: LinkImpairment = field(default_factory=LinkImpairment)
    clock: str = "manual"
    """"manual" (time moves only by advance) or "running" (at ``speed``)."""
    speed: float = 1.0
    fresh: bool = False
    """A pump of its own for this test even in session scope."""
    seed: int = 0
    timeout_s: float = 1.0
    retries: int = 3

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise VpumpConfigError(f"preset {self.preset!r}: known presets are {sorted(PRESETS)}")
        if self.kind not in VALVE_WORDS:
            raise VpumpConfigError(f"kind {self.kind!r}: one of {', '.join(VALVE_WORDS)}")
        if self.clock not in ("manual", "running"):
            raise VpumpConfigError(f"clock {self.clock!r}: use 'manual' or 'running'")
        if self.memory_error not in (None, "critical", "non-critical"):
            raise VpumpConfigError(
                f"memory_error {self.memory_error!r}: use 'critical' or 'non-critical'"
            )
        if not (
            self.implant == "preset"
            or self.implant is None
            or isinstance(self.implant, ImplantFields)
        ):
            raise VpumpConfigError(
                f"implant must be an ImplantFields or None, got {self.implant!r}"
            )
        if not isinstance(self.link, LinkImpairment):
            raise VpumpConfigError(f"link must be a LinkImpairment, got {self.link!r}")

    def setup(self) -> PumpSetup:
        """The emulator's starting state for this configuration."""
        base = PRESETS[self.preset].with_identity(model=self.model, serial=self.serial)
        changes: dict[str, Any] = {}
        for name in ("reservoir_nl", "battery_permille"):
            value = getattr(self, name)
            if value is not None:
                changes[name] = value
        if self.implant != "preset":
            changes["implant"] = self.implant
        changes["valve"] = VALVE_WORDS[self.kind]
        if self.concentration_ug_per_ml is not None or self.prescription is not None:
            base = base.with_drug(
                self.concentration_ug_per_ml or base.concentration_ug_per_ml, self.prescription
            )
        return replace(base, **changes)

    @property
    def true_catheter_cm(self) -> int:
        """The emulator's true catheter for this configuration."""
        return true_catheter_cm(self.setup(), self.catheter_length_cm)

    def with_options(self, **options: Any) -> VirtualPumpConfig:
        """This configuration with marker-style options applied (units written out)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise VpumpConfigError(
                f"unknown vpump option {unknown[0]!r}{did_you_mean(unknown[0], _OPTIONS)}; "
                f"known: {', '.join(_OPTIONS)}"
            )
        config = self
        # A prescription written as a dose needs the final concentration: it goes last.
        for key in sorted(options, key=lambda k: k == "prescription"):
            value = options[key]
            try:
                config = replace(config, **_option(key, value, config))
            except (UnitError, ValueError, TypeError) as exc:
                # The value is named in most messages already: say it once.
                shown = "" if repr(value) in str(exc) or len(repr(value)) > 40 else f"={value!r}"
                raise VpumpConfigError(f"vpump option {key}{shown}: {exc}") from None
        return config


_OPTIONS = [
    "preset",
    "model",
    "serial",
    "reservoir",
    "concentration",
    "prescription",
    "battery",
    "alarm_volume",
    "catheter",
    "implant",
    "start",
    "kind",
    "motor_stall",
    "low_battery_reset",
    "memory_error",
    "link",
    "clock",
    "speed",
    "fresh",
    "seed",
    "timeout",
    "retries",
]


def _option(key: str, value: Any, current: VirtualPumpConfig) -> dict[str, Any]:
    """One marker option as configuration fields (units parsed strictly)."""
    match key:
        case "reservoir":
            return {"reservoir_nl": whole(parse_quantity(value, Kind.VOLUME), value, "nL")}
        case "alarm_volume":
            return {"alarm_volume_nl": whole(parse_quantity(value, Kind.VOLUME), value, "nL")}
        case "concentration":
            conc = whole(parse_quantity(value, Kind.CONCENTRATION), value, "mcg/mL")
            return {"concentration_ug_per_ml": conc}
        case "battery":
            permille = parse_quantity(value, Kind.PERCENT) * 1000
            return {"battery_permille": whole(permille, value, "tenths of a percent")}
        case "catheter":
            return {"catheter_length_cm": whole(parse_quantity(value, Kind.LENGTH), value, "cm")}
        case "implant":
            if isinstance(value, str):
                cm = parse_quantity(value, Kind.LENGTH)
                return {"implant": implant_record(length_cm=whole(cm, value, "cm"))}
            return {"implant": value}
        case "start":
            return {"start_s": parse_iso_utc(value)}
        case "timeout":
            return {"timeout_s": float(parse_quantity(value, Kind.SHORT_DURATION))}
        case "prescription":
            return {"prescription": _prescription(value, current, key)}
        case "model":
            return {"model": int(str(value).split()[0])}
        case "link":
            return {"link": _link(value)}
        case _:
            # preset, serial, motor_stall, memory_error, clock, speed, fresh, seed, retries are
            # taken as they are (checked on construction); others are refused by the caller.
            return {key: value}


def _prescription(value: Any, current: VirtualPumpConfig, key: str) -> PrescriptionSpec:
    """A marker prescription: a dose (``"100 mcg/day"``) of the drug filled, a mapping as a
    scenario file writes one (``{"flex_weekly": {"monday": [...], ...}}``), or a spec."""
    if isinstance(value, PrescriptionSpec):
        return value
    if isinstance(value, str):
        value = {"simple": value}
    if not isinstance(value, Mapping):
        raise TypeError(
            "a prescription is a dose such as '100 mcg/day', a mapping as in a scenario file "
            "({'flex': [...]}, {'flex_weekly': {...}}) or a PrescriptionSpec"
        )
    concentration = current.concentration_ug_per_ml or current.setup().concentration_ug_per_ml
    try:
        written = parse_prescription(dict(value), "prescription")
    except ScenarioFileError as exc:
        raise ValueError("; ".join(p.message for p in exc.problems)) from None
    return md.prescription_spec(written, concentration)


def _link(value: Any) -> LinkImpairment:
    if isinstance(value, LinkImpairment):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("link takes a LinkImpairment or a mapping such as {'drop': '10 %'}")
    changes: dict[str, object] = {}
    for name, raw in value.items():
        if name in ("drop", "corrupt") and isinstance(raw, str):
            changes[name] = float(parse_quantity(raw, Kind.PERCENT))
        elif name == "delay" and isinstance(raw, str):
            changes["delay_ms"] = float(parse_quantity(raw, Kind.SHORT_DURATION) * 1000)
        else:
            changes[name] = raw
    return LinkImpairment().replace(**changes)
