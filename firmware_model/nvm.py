"""Non-volatile memory: the whole pump state to bytes and back.

Image layout (big-endian)::

    offset  size  field
    0       4     MAGIC    b"VPNV"
    4       2     VERSION  format version (this module writes 2; an older image is refused)
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
from dataclasses import fields
from typing import Any

from firmware_model.alarms import ActiveAlarm
from firmware_model.delivery import BridgeState, DeliveryState
from firmware_model.errors import CorruptImageError, FirmwareError
from firmware_model.event_log import LogEntry
from firmware_model.mri import MriState
from firmware_model.prescription import PatientDoseSettings
from firmware_model.profile import PumpProfile, ToneSpec
from protocol import messages as m
from protocol.enums import AlarmCode, BolusKind, EventCode, Op, StopReason, ValveModel
from protocol.frozen import frozen
from protocol.schedule import RunningBolus

MAGIC = b"VPNV"
FORMAT_VERSION = 2
"""2: prescriptions are doses (the wire encoding), with the bridge and the implant record."""
_HEADER = struct.Struct(">4sHI")
_CRC = struct.Struct(">I")


@frozen
class PumpImage:
    """Everything a pump is, as plain values (what :mod:`firmware_model.pump` stores)."""

    profile: PumpProfile
    serial: str
    t: int
    clock_offset_s: int
    prescription: m.PrescriptionSpec
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
    bridge: BridgeState | None = None
    implant: m.ImplantFields | None = None
    drug_lot: str = ""
    last_refill_t: int | None = None
    reset_pending: bool = False
    mri: MriState | None = None
    delivering_since_t: int = 0
    valve_closed_since_t: int | None = None


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


def _prescription_to_json(prescription: m.PrescriptionSpec) -> str:
    return m.encode_prescription(prescription).hex()


def _implant_to_json(implant: m.ImplantFields | None) -> str | None:
    return None if implant is None else m.encode_payload(m.SetImplantRequest(implant=implant)).hex()


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
        else [int(bolus.kind), bolus.volume_nl, bolus.duration_s, bolus.start_t, bolus.dose_ng],
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
            image.patient.dose_ng,
            image.patient.duration_s,
            image.patient.lockout_s,
            image.patient.max_per_24h,
        ],
        "grants_t": list(image.grants_t),
        "bridge": None
        if image.bridge is None
        else [
            image.bridge.volume_nl,
            image.bridge.remaining_nl,
            image.bridge.old_concentration_ug_per_ml,
            image.bridge.started_t,
        ],
        "implant": _implant_to_json(image.implant),
        "drug_lot": image.drug_lot,
        "last_refill_t": image.last_refill_t,
        "reset_pending": image.reset_pending,
        "mri": None
        if image.mri is None
        else [
            image.mri.since_t,
            image.mri.in_field,
            image.mri.resume_at_t,
            image.mri.trapped,
            image.mri.log_at_second_interrogation,
            image.mri.interrogations,
            image.mri.recovered_t,
            image.mri.valve,
        ],
        "valve_closed_since_t": image.valve_closed_since_t,
        "delivering_since_t": image.delivering_since_t,
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

    def has(self, key: str) -> bool:
        return key in self._obj

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
        elif field.type == "ValveModel":  # absent from images saved before valve models
            raw = f.get_raw(field.name) if f.has(field.name) else int(ValveModel.MOTOR)
            kwargs[field.name] = _valve_model(raw, where)
        elif field.type == "ToneSpec":
            tones, duration_s, repeat_s = _ints(f.get_raw(field.name), where, 3)
            kwargs[field.name] = ToneSpec(tones=tones, duration_s=duration_s, repeat_s=repeat_s)
        else:  # pragma: no cover - a new profile field type needs a codec here
            raise CorruptImageError(f"{where}: no codec for type {field.type}")
    return PumpProfile(**kwargs)


def _prescription_from_json(raw: str) -> m.PrescriptionSpec:
    return m.decode_prescription(bytes.fromhex(raw))


def _implant_from_json(raw: object) -> m.ImplantFields | None:
    if raw is None:
        return None
    if type(raw) is not str:
        raise CorruptImageError("implant: expected a hex string or null")
    request = m.decode_request(int(Op.SET_IMPLANT), bytes.fromhex(raw))
    assert isinstance(request, m.SetImplantRequest)
    return request.implant


def _delivery_from_json(f: _Fields) -> DeliveryState:
    raw_bolus = f.get_raw("bolus")
    bolus = None
    if raw_bolus is not None:
        kind, volume_nl, duration_s, start_t, dose_ng = _ints(raw_bolus, "delivery.bolus", 5)
        bolus = RunningBolus(
            kind=BolusKind(kind),
            volume_nl=volume_nl,
            duration_s=duration_s,
            start_t=start_t,
            dose_ng=dose_ng,
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
    dose_ng, duration_s, lockout_s, max_per_24h = _ints(numbers, "patient", 4)
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
        prescription=_prescription_from_json(root.get_str("prescription")),
        concentration_ug_per_ml=root.get_int("concentration_ug_per_ml"),
        alarm_volume_nl=root.get_int("alarm_volume_nl"),
        delivery=_delivery_from_json(root.get_obj("delivery")),
        battery_uc=root.get_int("battery_uc"),
        alarms=tuple(alarms),
        suspended=None if suspended is None else StopReason(suspended),
        stalled_since_t=root.get_opt_int("stalled_since_t"),
        patient=PatientDoseSettings(
            enabled=_as_bool(enabled, "patient[0]"),
            dose_ng=dose_ng,
            duration_s=duration_s,
            lockout_s=lockout_s,
            max_per_24h=max_per_24h,
        ),
        grants_t=tuple(_ints(root.get_raw("grants_t"), "grants_t")),
        log_capacity=log.get_int("capacity"),
        log_total_written=log.get_int("total_written"),
        log_entries=entries,
        bridge=_bridge_from_json(root.get_raw("bridge")),
        implant=_implant_from_json(root.get_raw("implant")),
        drug_lot=root.get_str("drug_lot"),
        last_refill_t=root.get_opt_int("last_refill_t"),
        reset_pending=_as_bool(root.get_raw("reset_pending"), "reset_pending"),
        mri=_mri_from_json(root.get_raw("mri")),
        delivering_since_t=root.get_int("delivering_since_t"),
        valve_closed_since_t=root.get_opt_int("valve_closed_since_t")
        if root.has("valve_closed_since_t")
        else None,
    )


def _valve_model(raw: object, where: str) -> ValveModel:
    value = _as_int(raw, where)
    try:
        return ValveModel(value)
    except ValueError:
        raise CorruptImageError(f"{where}: no valve model {value}") from None


def _mri_from_json(raw: object) -> MriState | None:
    if raw is None:
        return None
    items = list(_as_list(raw, "mri"))
    if len(items) == 7:  # saved before valve models: a motor's exposure
        items.append(False)
    since_t, in_field, resume_at_t, trapped, second, count, recovered_t, valve = _as_list(
        items, "mri", 8
    )

    def opt(value: object, where: str) -> int | None:
        return None if value is None else _as_int(value, where)

    return MriState(
        since_t=_as_int(since_t, "mri[0]"),
        in_field=_as_bool(in_field, "mri[1]"),
        resume_at_t=opt(resume_at_t, "mri[2]"),
        trapped=_as_bool(trapped, "mri[3]"),
        log_at_second_interrogation=_as_bool(second, "mri[4]"),
        interrogations=_as_int(count, "mri[5]"),
        recovered_t=opt(recovered_t, "mri[6]"),
        valve=_as_bool(valve, "mri[7]"),
    )


def _bridge_from_json(raw: object) -> BridgeState | None:
    if raw is None:
        return None
    volume_nl, remaining_nl, old, started_t = _ints(raw, "bridge", 4)
    return BridgeState(
        volume_nl=volume_nl,
        remaining_nl=remaining_nl,
        old_concentration_ug_per_ml=old,
        started_t=started_t,
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
