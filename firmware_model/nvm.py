"""Non-volatile memory: the whole pump state to bytes and back.

Image layout (big-endian)::

    offset  size  field
    0       4     MAGIC    b"VPNV"
    4       2     VERSION  format version (this module writes 1)
    6       4     LEN      payload length in bytes
    10      LEN   PAYLOAD  canonical JSON (UTF-8, sorted keys) of the state
    10+LEN  4     CRC      CRC-32 (zlib) of bytes 0 .. 10+LEN

A wrong magic, version, length or CRC, a payload that does not decode, or a
state that fails validation raises :class:`CorruptImageError`; a
half-loaded pump is never returned. JSON carries Python ints exactly, so a
round trip is exact.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, fields
from typing import Any

from firmware_model.alarms import ActiveAlarm
from firmware_model.delivery import DeliveryState, RunningBolus
from firmware_model.errors import CorruptImageError, FirmwareError
from firmware_model.event_log import LogEntry
from firmware_model.prescription import (
    DayProfile,
    Flex,
    FlexStep,
    MinimumRate,
    PatientDoseSettings,
    Prescription,
    Simple,
    Stopped,
)
from firmware_model.profile import PumpProfile, ToneSpec
from protocol.enums import AlarmCode, BolusKind, EventCode, StopReason

MAGIC = b"VPNV"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">4sHI")
_CRC = struct.Struct(">I")


@dataclass(frozen=True, kw_only=True)
class PumpImage:
    """Everything a pump is, as plain values (what :mod:`firmware_model.pump` stores)."""

    profile: PumpProfile
    serial: str
    t: int
    clock_offset_s: int
    prescription: Prescription
    concentration_ug_per_ml: int
    alarm_volume_nl: int
    delivery: DeliveryState
    battery_uc: int
    alarms: tuple[ActiveAlarm, ...]
    suspended: StopReason | None
    stalled_since_t: int | None
    patient: PatientDoseSettings
    grants_t: tuple[int, ...]
    log_capacity: int
    log_total_written: int
    log_entries: tuple[LogEntry, ...]


# --------------------------------------------------------------------------- encode


def _profile_to_json(profile: PumpProfile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(profile):
        value = getattr(profile, f.name)
        if isinstance(value, ToneSpec):
            out[f.name] = [value.tones, value.duration_s, value.repeat_s]
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def _prescription_to_json(prescription: Prescription) -> dict[str, Any]:
    match prescription:
        case Simple(rate_nl_per_day=rate):
            return {"kind": "simple", "rate_nl_per_day": rate}
        case Flex(days=days):
            return {
                "kind": "flex",
                "days": [[[s.start_min, s.rate_nl_per_day] for s in day.steps] for day in days],
            }
        case MinimumRate():
            return {"kind": "minimum_rate"}
        case Stopped():
            return {"kind": "stopped"}


def _delivery_to_json(d: DeliveryState) -> dict[str, Any]:
    bolus = d.bolus
    return {
        "estimate_nl": d.estimate_nl,
        "reservoir_nl": d.reservoir_nl,
        "total_filled_nl": d.total_filled_nl,
        "total_delivered_nl": d.total_delivered_nl,
        "total_removed_nl": d.total_removed_nl,
        "total_commanded_nl": d.total_commanded_nl,
        "basal_remainder": d.basal_remainder,
        "bias_remainder": d.bias_remainder,
        "bolus": None
        if bolus is None
        else [int(bolus.kind), bolus.volume_nl, bolus.duration_s, bolus.start_t],
    }


def encode(image: PumpImage) -> bytes:
    """The image as bytes (header, canonical JSON payload, CRC-32)."""
    state = {
        "profile": _profile_to_json(image.profile),
        "serial": image.serial,
        "t": image.t,
        "clock_offset_s": image.clock_offset_s,
        "prescription": _prescription_to_json(image.prescription),
        "concentration_ug_per_ml": image.concentration_ug_per_ml,
        "alarm_volume_nl": image.alarm_volume_nl,
        "delivery": _delivery_to_json(image.delivery),
        "battery_uc": image.battery_uc,
        "alarms": [[int(a.code), a.raised_at_clock_s, a.silenced] for a in image.alarms],
        "suspended": None if image.suspended is None else int(image.suspended),
        "stalled_since_t": image.stalled_since_t,
        "patient": [
            image.patient.enabled,
            image.patient.volume_nl,
            image.patient.duration_s,
            image.patient.lockout_s,
            image.patient.max_per_24h,
        ],
        "grants_t": list(image.grants_t),
        "log": {
            "capacity": image.log_capacity,
            "total_written": image.log_total_written,
            "entries": [[e.index, e.clock_s, int(e.code), e.a, e.b] for e in image.log_entries],
        },
    }
    payload = json.dumps(state, sort_keys=True, separators=(",", ":")).encode("utf-8")
    body = _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload)) + payload
    return body + _CRC.pack(zlib.crc32(body))


# --------------------------------------------------------------------------- decode


class _Fields:
    """Typed, strict access to one decoded JSON object."""

    def __init__(self, obj: object, where: str) -> None:
        if not isinstance(obj, dict):
            raise CorruptImageError(f"{where}: expected an object")
        self._obj: dict[str, object] = obj
        self._where = where

    def get_raw(self, key: str) -> object:
        if key not in self._obj:
            raise CorruptImageError(f"{self._where}: missing {key!r}")
        return self._obj[key]

    def get_int(self, key: str) -> int:
        return _as_int(self.get_raw(key), f"{self._where}.{key}")

    def get_opt_int(self, key: str) -> int | None:
        value = self.get_raw(key)
        return None if value is None else _as_int(value, f"{self._where}.{key}")

    def get_str(self, key: str) -> str:
        value = self.get_raw(key)
        if type(value) is not str:
            raise CorruptImageError(f"{self._where}.{key}: expected a string")
        return value

    def get_list(self, key: str) -> list[object]:
        return _as_list(self.get_raw(key), f"{self._where}.{key}")

    def get_obj(self, key: str) -> _Fields:
        return _Fields(self.get_raw(key), f"{self._where}.{key}")


def _as_int(value: object, where: str) -> int:
    if type(value) is not int:
        raise CorruptImageError(f"{where}: expected an integer")
    return value


def _as_bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise CorruptImageError(f"{where}: expected a boolean")
    return value


def _as_list(value: object, where: str, length: int | None = None) -> list[object]:
    if type(value) is not list or (length is not None and len(value) != length):
        raise CorruptImageError(f"{where}: expected a list" + (f" of {length}" if length else ""))
    return value


def _ints(value: object, where: str, length: int | None = None) -> list[int]:
    return [_as_int(v, f"{where}[{i}]") for i, v in enumerate(_as_list(value, where, length))]


def _profile_from_json(f: _Fields) -> PumpProfile:
    kwargs: dict[str, Any] = {}
    for field in fields(PumpProfile):
        where = f"profile.{field.name}"
        if field.type == "int":
            kwargs[field.name] = f.get_int(field.name)
        elif field.type == "str":
            kwargs[field.name] = f.get_str(field.name)
        elif field.type == "tuple[int, ...]":
            kwargs[field.name] = tuple(_ints(f.get_raw(field.name), where))
        elif field.type == "ToneSpec":
            tones, duration_s, repeat_s = _ints(f.get_raw(field.name), where, 3)
            kwargs[field.name] = ToneSpec(tones=tones, duration_s=duration_s, repeat_s=repeat_s)
        else:  # pragma: no cover - a new profile field type needs a codec here
            raise CorruptImageError(f"{where}: no codec for type {field.type}")
    return PumpProfile(**kwargs)


def _prescription_from_json(f: _Fields) -> Prescription:
    kind = f.get_str("kind")
    if kind == "simple":
        return Simple(rate_nl_per_day=f.get_int("rate_nl_per_day"))
    if kind == "flex":
        days = []
        for d, day in enumerate(f.get_list("days")):
            steps = []
            for i, step in enumerate(_as_list(day, f"days[{d}]")):
                start_min, rate = _ints(step, f"days[{d}][{i}]", 2)
                steps.append(FlexStep(start_min=start_min, rate_nl_per_day=rate))
            days.append(DayProfile(steps=tuple(steps)))
        return Flex(days=tuple(days))
    if kind == "minimum_rate":
        return MinimumRate()
    if kind == "stopped":
        return Stopped()
    raise CorruptImageError(f"prescription: unknown kind {kind!r}")


def _delivery_from_json(f: _Fields) -> DeliveryState:
    raw_bolus = f.get_raw("bolus")
    bolus = None
    if raw_bolus is not None:
        kind, volume_nl, duration_s, start_t = _ints(raw_bolus, "delivery.bolus", 4)
        bolus = RunningBolus(
            kind=BolusKind(kind), volume_nl=volume_nl, duration_s=duration_s, start_t=start_t
        )
    return DeliveryState(
        estimate_nl=f.get_int("estimate_nl"),
        reservoir_nl=f.get_int("reservoir_nl"),
        total_filled_nl=f.get_int("total_filled_nl"),
        total_delivered_nl=f.get_int("total_delivered_nl"),
        total_removed_nl=f.get_int("total_removed_nl"),
        total_commanded_nl=f.get_int("total_commanded_nl"),
        basal_remainder=f.get_int("basal_remainder"),
        bias_remainder=f.get_int("bias_remainder"),
        bolus=bolus,
    )


def _image_from_json(root: _Fields) -> PumpImage:
    alarms = []
    for i, raw in enumerate(root.get_list("alarms")):
        code, raised, silenced = _as_list(raw, f"alarms[{i}]", 3)
        alarms.append(
            ActiveAlarm(
                code=AlarmCode(_as_int(code, f"alarms[{i}][0]")),
                raised_at_clock_s=_as_int(raised, f"alarms[{i}][1]"),
                silenced=_as_bool(silenced, f"alarms[{i}][2]"),
            )
        )
    enabled, *numbers = _as_list(root.get_raw("patient"), "patient", 5)
    volume_nl, duration_s, lockout_s, max_per_24h = _ints(numbers, "patient", 4)
    suspended = root.get_opt_int("suspended")
    log = root.get_obj("log")
    entries = tuple(
        LogEntry(index=index, clock_s=clock_s, code=EventCode(code), a=a, b=b)
        for index, clock_s, code, a, b in (
            _ints(raw, f"log.entries[{i}]", 5) for i, raw in enumerate(log.get_list("entries"))
        )
    )
    return PumpImage(
        profile=_profile_from_json(root.get_obj("profile")),
        serial=root.get_str("serial"),
        t=root.get_int("t"),
        clock_offset_s=root.get_int("clock_offset_s"),
        prescription=_prescription_from_json(root.get_obj("prescription")),
        concentration_ug_per_ml=root.get_int("concentration_ug_per_ml"),
        alarm_volume_nl=root.get_int("alarm_volume_nl"),
        delivery=_delivery_from_json(root.get_obj("delivery")),
        battery_uc=root.get_int("battery_uc"),
        alarms=tuple(alarms),
        suspended=None if suspended is None else StopReason(suspended),
        stalled_since_t=root.get_opt_int("stalled_since_t"),
        patient=PatientDoseSettings(
            enabled=_as_bool(enabled, "patient[0]"),
            volume_nl=volume_nl,
            duration_s=duration_s,
            lockout_s=lockout_s,
            max_per_24h=max_per_24h,
        ),
        grants_t=tuple(_ints(root.get_raw("grants_t"), "grants_t")),
        log_capacity=log.get_int("capacity"),
        log_total_written=log.get_int("total_written"),
        log_entries=entries,
    )


def decode(data: bytes) -> PumpImage:
    """Parse and check an image; raises CorruptImageError for anything but a valid one."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CorruptImageError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEADER.size + _CRC.size:
        raise CorruptImageError(f"image truncated: {len(data)} bytes")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CorruptImageError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise CorruptImageError(f"format version {version}, this firmware reads {FORMAT_VERSION}")
    expected_size = _HEADER.size + length + _CRC.size
    if len(data) != expected_size:
        raise CorruptImageError(f"image is {len(data)} bytes, its header says {expected_size}")
    body = data[: _HEADER.size + length]
    (crc,) = _CRC.unpack_from(data, len(body))
    if zlib.crc32(body) != crc:
        raise CorruptImageError("CRC-32 mismatch")
    try:
        root = _Fields(json.loads(body[_HEADER.size :].decode("utf-8")), "state")
        return _image_from_json(root)
    except CorruptImageError:
        raise
    except (FirmwareError, ValueError, TypeError) as exc:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; so are bad enum values.
        raise CorruptImageError(f"invalid state in image: {exc}") from exc
