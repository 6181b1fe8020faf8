"""The pump's telemetry head: request frames in, response frames out.

One :class:`PumpTelemetry` per pump holds the pump model and its
:class:`~protocol.session.DeviceSecurity` (keys, lockout); each link (a pty, a
TCP connection, an in-process port) gets a :class:`TelemetryLink` with its own
deframer, session and staged prescription. The session layer answers the
handshake, MAC, SEQ and role rules by itself; what it accepts is executed here.

A request that is malformed, forbidden or refused changes nothing: the
session refuses it before it gets here, or the pump model raises a
:class:`~firmware_model.errors.RequestError` before it changes any state, and
the refusal goes back as a NAK with the error's code. Security refusals and
session openings and closings are written to the pump's event log: those the
session logs itself (failed proofs and MACs, replays, forbidden commands,
the lockout), and the refusals sent without a MAC (no session, session
expired, locked out, a handshake out of order or malformed), which anyone can
provoke without a key and so are logged at most once per error code per
:data:`SECURITY_LOG_INTERVAL_S`, so a flood cannot push the clinical history
out of the log.

Pure like the rest of the model: the pump time ``t`` (whole seconds) and the
link time ``now_s`` (seconds on any monotonic clock, for idle timeouts and
lockouts, which run on the link's time, not the simulated pump's) come in as
arguments.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from firmware_model.errors import (
    ChecksumMismatchError,
    InvalidStateError,
    RequestError,
    StorageError,
)
from firmware_model.prescription import Bolus, PatientDoseSettings
from firmware_model.pump import Pump, PumpStatus, RefillOrder
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import PROTOCOL_VERSION, BolusKind, ErrorCode, EventCode, Op, Origin
from protocol.frames import Frame
from protocol.frozen import frozen
from protocol.session import (
    Accepted,
    DeviceSecurity,
    DeviceSession,
    Reply,
    SessionEvent,
    SessionEventKind,
)

TELEMETRY_S_PER_FRAME = 1
"""Radio-on time charged to the battery for each frame handled, in seconds (rounded up
from a real inductive link's tens of milliseconds per exchange, so telemetry-heavy
sessions show up in the battery forecast the way they do on real pumps). It is charged
before the frame is answered, so a STATUS's battery and ERI date include its own cost."""

RX_SILENCE_RESET_S = 0.5
"""Link silence, in seconds, after which a partial frame is abandoned (like a UART
receiver's inter-character timeout): a programmer that vanished mid-frame must not
leave a half header that swallows the next programmer's frames."""

FRAME_ARRIVAL_MAX_S = 1.0
"""Link seconds a frame may take to arrive from its first byte. A partial frame older than
this is abandoned (its first SYNC byte dropped, hunting resumed over the bytes behind it), so
a sender trickling a long frame a byte at a time (slowloris) cannot hold the link: a frame
written at once arrives in milliseconds even at 300 baud, where pacing delivers it whole."""

SECURITY_LOG_INTERVAL_S = 3600.0
"""Link seconds before a second SECURITY entry with the same error code may be written (per
pump): however long an attack lasts, it adds at most one entry per code an hour."""

SECURITY_RUN_SCAN = 64
"""How far back the aggregation looks for the trailing run of SECURITY entries (a run holds
at most one entry per error code, far fewer than this)."""


@frozen(kw_only=False)
class _Staged:
    spec: m.PrescriptionSpec
    checksum: int


@frozen(kw_only=False)
class _StagedRefill:
    order: RefillOrder
    checksum: int


class PumpTelemetry:
    """The telemetry head of one pump: shared by every link to it.

    ``on_defect`` receives any exception other than a refusal raised while
    executing a command (a bug, never the peer's doing): the programmer gets an
    INTERNAL NAK so the link stays usable, and the owner decides what to do with
    the defect (the emulator records it and re-raises it in tests).
    """

    def __init__(
        self,
        pump: Pump,
        security: DeviceSecurity,
        *,
        on_defect: Callable[[Exception], None] | None = None,
    ) -> None:
        self.pump = pump
        self.security = security
        self.on_defect = on_defect
        self._checksum_of: tuple[m.PrescriptionSpec, int] | None = None
        self.security_counts: dict[ErrorCode, int] = {}
        """Every security refusal per error code, logged or aggregated (a statistic)."""
        self._security_logged_s: dict[ErrorCode, float] = {}
        self.make_durable: Callable[[], None] | None = None
        """Called after a command changed the pump and before it is acknowledged (the state
        file). It raises :class:`~firmware_model.errors.StorageError` when the change cannot
        be kept: the pump is then put back as it was before the command, and the command is
        refused with STORAGE_FAILED, so nothing is applied without an answer."""

    def log_security(self, code: ErrorCode, op: int, *, t: int, now_s: float) -> bool:
        """Count a security refusal; write a SECURITY entry unless one with this code was
        written less than :data:`SECURITY_LOG_INTERVAL_S` ago, or the log's trailing run of
        SECURITY entries already holds one with it. True when written."""
        code = ErrorCode(code)
        self.security_counts[code] = self.security_counts.get(code, 0) + 1
        last = self._security_logged_s.get(code)
        if last is not None and now_s - last < SECURITY_LOG_INTERVAL_S:
            return False
        log = self.pump.event_log
        start = max(log.first_index, log.total_written - SECURITY_RUN_SCAN)
        for entry in reversed(log.read(start, SECURITY_RUN_SCAN)):
            if entry.code is not EventCode.SECURITY:
                break
            if entry.a == code:
                return False
        self.pump.log_event(t, EventCode.SECURITY, code, op)
        self._security_logged_s[code] = now_s
        return True

    def active_prescription(self) -> tuple[m.PrescriptionSpec, int]:
        """The running prescription as the wire carries it, and its checksum.

        Cached per prescription object (the pump replaces it on every commit), because
        every STATUS reports the checksum and encoding it is most of a STATUS's cost.
        """
        spec = self.pump.prescription
        cached = self._checksum_of
        if cached is None or cached[0] is not spec:
            cached = (spec, m.prescription_checksum(spec))
            self._checksum_of = cached
        return cached

    def open_link(self) -> TelemetryLink:
        """A new link (its own deframer and session) to this pump."""
        return TelemetryLink(self)


_Request = TypeVar("_Request", bound=m.Message)


@frozen(kw_only=False)
class _Route(Generic[_Request]):
    """One command: the request class the session decodes for its op, and its handler."""

    request: type[_Request]
    handler: Callable[[TelemetryLink, _Request, int], m.Message]

    def __call__(self, link: TelemetryLink, request: m.Message, t: int) -> m.Message:
        if not isinstance(request, self.request):  # a defect: the session decodes by op
            raise TypeError(f"{type(request).__name__} is not a {self.request.__name__}")
        return self.handler(link, request, t)


class TelemetryLink:
    """One programmer link to the pump: bytes in, bytes out."""

    def __init__(self, head: PumpTelemetry) -> None:
        self.head = head
        self.deframer = Deframer()
        self.session = DeviceSession(head.security)
        self._staged: _Staged | None = None
        self._staged_refill: _StagedRefill | None = None
        self._last_rx_s: float | None = None
        self._partial_since_s: float | None = None
        self.requests_executed = 0
        """Commands that reached the pump model (retransmissions answered from cache excluded)."""

    @property
    def pump(self) -> Pump:
        return self.head.pump

    def receive(self, data: bytes, *, t: int, now_s: float) -> bytes:
        """Feed bytes from the programmer; return the bytes to send back."""
        head = self.head
        head.pump.advance_to(t)
        event = self.session.poll(now_s)  # an idle session that expired is logged now
        if event is not None:
            self._log_session_event(event, t)
        last, self._last_rx_s = self._last_rx_s, now_s
        if last is not None and now_s - last > RX_SILENCE_RESET_S:
            self.deframer.reset()
            self._partial_since_s = None
        frame = self.deframer.whole_frame(data)
        if frame is not None:  # the usual case: exactly one request (what _frames finds then)
            self._partial_since_s = None
            head.pump.note_telemetry(t, TELEMETRY_S_PER_FRAME)
            return self.handle_frame(frame, t=t, now_s=now_s)
        frames = self._frames(data, now_s)
        if len(frames) == 1:  # the usual case: one request, one answer (no list, no join)
            # Charged first: the answer (a STATUS's battery and ERI) includes its own cost.
            self.head.pump.note_telemetry(t, TELEMETRY_S_PER_FRAME)
            return self.handle_frame(frames[0], t=t, now_s=now_s)
        answers = []
        for frame in frames:
            # The pump is read again for each frame: an interrogation may replace it.
            self.head.pump.note_telemetry(t, TELEMETRY_S_PER_FRAME)
            answers.append(self.handle_frame(frame, t=t, now_s=now_s))
        return b"".join(answers)

    def _frames(self, data: bytes, now_s: float) -> list[Frame]:
        """Deframe ``data``, abandoning a partial frame older than FRAME_ARRIVAL_MAX_S."""
        deframer = self.deframer
        progress = (deframer.frames, deframer.bad_frames, deframer.dropped_bytes)
        frames = deframer.feed(data)
        moved = (deframer.frames, deframer.bad_frames, deframer.dropped_bytes) != progress
        since = self._partial_since_s
        if not deframer.buffered:
            self._partial_since_s = None
        elif moved or since is None:
            self._partial_since_s = now_s  # a new partial frame begins about now
        elif now_s - since > FRAME_ARRIVAL_MAX_S:
            frames += deframer.abandon()
            self._partial_since_s = now_s if deframer.buffered else None
        return frames

    def close(self, *, t: int) -> None:
        """The link went away: end its session (logged) and drop what it staged."""
        self._staged = None
        self._staged_refill = None
        self._log_session_event(self.session.disconnect(), t)

    def _log_session_event(
        self, event: SessionEvent | None, t: int, now_s: float = -math.inf
    ) -> None:
        if event is None:
            return
        code, a, b = event.log_params()
        if code is EventCode.SESSION_OPENED:
            self._interrogated(t, a, b)
            return
        if code is EventCode.SESSION_CLOSED:
            # A staged prescription or refill never outlives its session.
            self._staged = None
            self._staged_refill = None
        if code is EventCode.SECURITY:
            self.head.log_security(ErrorCode(a), b, t=t, now_s=now_s)
            return
        self.pump.log_event(t, code, a, b)

    def _interrogated(self, t: int, a: int, b: int) -> None:
        """A session opened is an interrogation: it ends an MRI's telemetry-mode trap and
        counts towards a stall recovery logged at the second interrogation (domain.md).
        That changes the pump, so, like a command's change, it is made durable before the
        session's answer; if it cannot be, the pump is put back as it was (still in
        telemetry mode, as stored) and the session opens all the same."""
        pump = self.pump
        durable = self.head.make_durable
        exposure = pump.mri
        if durable is None or exposure is None or exposure.in_field:
            pump.note_interrogation(t)  # nothing for an interrogation to change
            pump.log_event(t, EventCode.SESSION_OPENED, a, b)
            return
        before = pump.to_bytes()
        pump.note_interrogation(t)
        pump.log_event(t, EventCode.SESSION_OPENED, a, b)
        try:
            durable()
        except StorageError:
            restored = Pump.from_bytes(before)
            restored.log_event(t, EventCode.SESSION_OPENED, a, b)
            self.head.pump = restored

    def handle_frame(self, frame: Frame, *, t: int, now_s: float) -> bytes:
        """Answer one frame (the session's own answer, or the command's)."""
        result = self.session.handle(frame, now_s)
        if isinstance(result, Reply):
            # Security refusals arrive as SECURITY events; a cached retransmission has none.
            self._log_session_event(result.event, t, now_s)
            logged = result.event is not None and result.event.kind is SessionEventKind.SECURITY
            if result.error is not None and not logged and not result.mac:
                self.head.log_security(result.error, frame.op, t=t, now_s=now_s)
            return result.data
        return self._execute(result, t)

    def _execute(self, accepted: Accepted, t: int) -> bytes:
        route = _HANDLERS[accepted.op]
        durable = self.head.make_durable
        before, staged, staged_refill = None, self._staged, self._staged_refill
        if durable is not None and accepted.op not in _READ_ONLY:
            before = self.pump.to_bytes()
        try:
            response = route(self, accepted.request, t)
            if before is not None and durable is not None and self.pump.to_bytes() != before:
                try:
                    durable()
                except StorageError:
                    self.head.pump = Pump.from_bytes(before)  # the change is undone
                    self._staged, self._staged_refill = staged, staged_refill
                    raise
        except RequestError as refusal:
            return self.session.refuse(accepted, refusal.code, str(refusal))
        except Exception as defect:
            answer = self.session.refuse(
                accepted, ErrorCode.INTERNAL, f"{accepted.op.name} failed inside the pump"
            )
            if self.head.on_defect is None:
                raise
            self.head.on_defect(defect)
            return answer
        self.requests_executed += 1
        return self.session.respond(accepted, response)

    # -- the commands ----------------------------------------------------------------------

    def _device_info(self, request: m.DeviceInfoRequest, t: int) -> m.Message:
        profile = self.pump.profile
        return m.DeviceInfoResponse(
            model=profile.model,
            serial=self.pump.serial,
            firmware_version=profile.firmware_version,
            capacity_nl=profile.capacity_nl,
            protocol_version=PROTOCOL_VERSION,
            min_rate_nl_per_day=profile.min_rate_nl_per_day,
            max_rate_nl_per_day=profile.max_rate_nl_per_day,
            minimum_mode_rate_nl_per_day=profile.minimum_rate_mode_nl_per_day,
            empty_threshold_nl=profile.empty_threshold_nl,
            tubing_volume_nl=profile.internal_tubing_volume_nl,
            catheter_volume_nl_per_cm=profile.catheter_volume_nl_per_cm,
            battery_capacity_uc=profile.battery_capacity_uc,
            battery_quiescent_drain_uc_per_s=profile.battery_quiescent_drain_uc_per_s,
            battery_drain_uc_per_nl=profile.battery_drain_uc_per_nl,
            battery_telemetry_drain_uc_per_s=profile.battery_telemetry_drain_uc_per_s,
            telemetry_s_per_frame=TELEMETRY_S_PER_FRAME,
            eri_lead_s=profile.eri_lead_s,
            forecast_horizon_s=profile.forecast_horizon_s,
            min_bolus_volume_nl=profile.min_bolus_volume_nl,
            max_bolus_duration_s=profile.max_bolus_duration_s,
        )

    def _limits(self, request: m.LimitsRequest, t: int) -> m.Message:
        profile = self.pump.profile
        # Accepted without allow_nonstandard: the commercial ones only. A trial-injection
        # concentration (50 mcg/mL) needs the override for a refill (domain.md), so it is
        # not "standard" here.
        standard = profile.commercial_concentrations_ug_per_ml
        return m.LimitsResponse(
            min_alarm_volume_nl=profile.min_alarm_volume_nl,
            max_alarm_volume_nl=profile.max_alarm_volume_nl,
            min_bolus_volume_nl=profile.min_bolus_volume_nl,
            max_bolus_volume_nl=profile.capacity_nl,
            max_bolus_duration_s=profile.max_bolus_duration_s,
            max_patient_dose_volume_nl=profile.patient_dose_max_volume_nl,
            min_patient_lockout_s=profile.patient_lockout_min_s,
            max_patient_lockout_s=profile.patient_lockout_max_s,
            max_patient_doses_per_24h=profile.patient_max_doses_per_24h,
            min_concentration_ug_per_ml=profile.nonstandard_concentration_min_ug_per_ml,
            max_concentration_ug_per_ml=profile.nonstandard_concentration_max_ug_per_ml,
            standard_concentrations_ug_per_ml=standard,
            max_flex_steps=profile.max_flex_steps,
            flex_step_granularity_min=profile.flex_step_granularity_min,
        )

    def _status(self, request: m.StatusRequest, t: int) -> m.Message:
        # Built straight from the pump (Pump.status_response: the same record, one dict).
        return self.pump.status_response(self.head.active_prescription()[1])

    def _read_prescription(self, request: m.ReadPrescriptionRequest, t: int) -> m.Message:
        spec, checksum = self.head.active_prescription()
        return m.ReadPrescriptionResponse(prescription=spec, checksum=checksum)

    def _stage(self, request: m.StagePrescriptionRequest, t: int) -> m.Message:
        # Refuses another drug's prescription and out-of-range rates before staging.
        self.pump.check_prescription(request.prescription)
        checksum = m.prescription_checksum(request.prescription)
        self._staged = _Staged(request.prescription, checksum)
        return m.StagePrescriptionResponse(checksum=checksum)

    def _commit(self, request: m.CommitPrescriptionRequest, t: int) -> m.Message:
        staged = self._staged
        _check_commit(request.checksum, staged, what="prescription", stage=Op.STAGE_PRESCRIPTION)
        assert staged is not None
        self.pump.program(t, staged.spec)
        self._staged = None
        return m.CommitPrescriptionResponse(checksum=staged.checksum)

    def _read_delivery(self, request: m.ReadDeliveryRequest, t: int) -> m.Message:
        pump = self.pump
        return m.ReadDeliveryResponse(
            delivering=pump.delivering,
            since_s=pump.delivering_since_clock_s,
            last_refill_at_s=pump.last_refill_clock_s,
        )

    def _start_bolus(self, request: m.StartBolusRequest, t: int) -> m.Message:
        pump = self.pump
        if request.kind is BolusKind.PRIMING:
            bolus = Bolus.priming(volume_nl=request.volume_nl, profile=pump.profile)
        else:
            pump.advance_to(t)
            bolus = pump.therapeutic_bolus(dose_ng=request.dose_ng, duration_s=request.duration_s)
        pump.start_bolus(t, bolus)
        running = pump.bolus
        assert running is not None
        return m.StartBolusResponse(
            dose_ng=running.dose_ng,
            volume_nl=running.volume_nl,
            duration_s=running.duration_s,
            ends_at_s=pump.clock(running.end_t),
        )

    def _cancel_bolus(self, request: m.CancelBolusRequest, t: int) -> m.Message:
        return m.CancelBolusResponse(delivered_nl=self.pump.cancel_bolus(t))

    def _stop(self, request: m.StopPumpRequest, t: int) -> m.Message:
        self.pump.stop(t, request.reason)
        return m.StopPumpResponse()

    def _resume(self, request: m.ResumePumpRequest, t: int) -> m.Message:
        self.pump.resume(t)
        return m.ResumePumpResponse(mode=self.pump.mode)

    def _cancel_bridge(self, request: m.CancelBridgeRequest, t: int) -> m.Message:
        delivered, remaining = self.pump.cancel_bridge(t)
        return m.CancelBridgeResponse(
            delivered_nl=min(delivered, 2**32 - 1), remaining_nl=remaining
        )

    def _read_valve(self, request: m.ReadValveRequest, t: int) -> m.Message:
        pump = self.pump
        closed = pump.valve_closed_since_clock_s
        return m.ReadValveResponse(
            valve_model=pump.profile.valve_model,
            closed=closed is not None,
            closed_since_s=closed,
        )

    def _reset_valve(self, request: m.ResetValveRequest, t: int) -> m.Message:
        return m.ResetValveResponse(closed_for_s=self.pump.reset_valve(t))

    def _stage_refill(self, request: m.StageRefillRequest, t: int) -> m.Message:
        order = RefillOrder(
            removed_nl=request.removed_nl,
            added_nl=request.added_nl,
            concentration_ug_per_ml=request.concentration_ug_per_ml,
            prescription=request.prescription,
            bridge=request.bridge,
            drug_lot=request.drug_lot,
            allow_nonstandard_concentration=request.allow_nonstandard,
        )
        result = self.pump.plan_refill(t, order)
        checksum = zlib.crc32(m.encode_payload(request))
        self._staged_refill = _StagedRefill(order, checksum)
        return m.StageRefillResponse(
            checksum=checksum,
            expected_nl=result.expected_nl,
            discrepancy_nl=result.discrepancy_nl,
            discrepancy_flagged=result.discrepancy_flagged,
            bridge_volume_nl=result.bridge_volume_nl,
        )

    def _commit_refill(self, request: m.CommitRefillRequest, t: int) -> m.Message:
        staged = self._staged_refill
        _check_commit(request.checksum, staged, what="refill", stage=Op.STAGE_REFILL)
        assert staged is not None
        result = self.pump.refill(t, staged.order)
        self._staged_refill = None
        self._staged = None  # staged before the drug changed: it would now be refused anyway
        return m.CommitRefillResponse(
            expected_nl=result.expected_nl,
            discrepancy_nl=result.discrepancy_nl,
            discrepancy_flagged=result.discrepancy_flagged,
            reservoir_nl=result.reservoir_nl,
            prescription_checksum=self.head.active_prescription()[1],
            bridge_volume_nl=result.bridge_volume_nl,
            bridge_ends_at_s=self.pump.bridge_end_at(),
            low_reservoir_alarm_at_s=self.pump.low_reservoir_at(),
        )

    def _read_implant(self, request: m.ReadImplantRequest, t: int) -> m.Message:
        pump = self.pump
        implant = pump.implant
        return m.ReadImplantResponse(
            recorded=implant is not None,
            implant=EMPTY_IMPLANT if implant is None else implant,
            concentration_ug_per_ml=pump.concentration_ug_per_ml,
            drug_lot=pump.drug_lot,
            last_refill_at_s=pump.last_refill_clock_s,
        )

    def _set_implant(self, request: m.SetImplantRequest, t: int) -> m.Message:
        self.pump.set_implant(t, request.implant)
        implant = self.pump.implant
        assert implant is not None
        return m.SetImplantResponse(implant=implant)

    def _set_alarm_volume(self, request: m.SetAlarmVolumeRequest, t: int) -> m.Message:
        self.pump.set_alarm_volume(t, request.volume_nl)
        return m.SetAlarmVolumeResponse(volume_nl=self.pump.alarm_volume_nl)

    def _read_alarms(self, request: m.ReadAlarmsRequest, t: int) -> m.Message:
        return m.ReadAlarmsResponse(
            alarms=tuple(
                m.AlarmRecord(
                    code=view.code,
                    alarm_class=view.alarm_class,
                    raised_at_s=view.raised_at_clock_s,
                    silenced=view.silenced,
                    condition_present=self.pump.alarm_condition_present(view.code),
                )
                for view in self.pump.alarms()
            )
        )

    def _silence(self, request: m.SilenceAlarmRequest, t: int) -> m.Message:
        self.pump.silence_alarm(t, request.code)
        return m.SilenceAlarmResponse()

    def _clear(self, request: m.ClearAlarmRequest, t: int) -> m.Message:
        self.pump.clear_alarm(t, request.code)
        return m.ClearAlarmResponse()

    def _read_log(self, request: m.ReadEventLogRequest, t: int) -> m.Message:
        log = self.pump.event_log
        entries = log.read(request.first_index, request.max_count)
        return m.ReadEventLogResponse(
            total_written=log.total_written,
            overwritten=log.overwritten,
            entries=tuple(
                m.LogEntry(index=e.index, clock_s=e.clock_s, code=e.code, a=e.a, b=e.b)
                for e in entries
            ),
        )

    def _read_clock(self, request: m.ReadClockRequest, t: int) -> m.Message:
        return m.ReadClockResponse(clock_s=self.pump.clock(t))

    def _set_clock(self, request: m.SetClockRequest, t: int) -> m.Message:
        self.pump.set_clock(t, request.clock_s)
        return m.SetClockResponse(clock_s=self.pump.clock(t))

    def _read_patient_settings(self, request: m.ReadPatientSettingsRequest, t: int) -> m.Message:
        return _settings_message(m.ReadPatientSettingsResponse, self.pump.patient_settings)

    def _set_patient_settings(self, request: m.SetPatientSettingsRequest, t: int) -> m.Message:
        self.pump.set_patient_settings(
            t,
            PatientDoseSettings(
                enabled=request.enabled,
                dose_ng=request.dose_ng,
                duration_s=request.duration_s,
                lockout_s=request.lockout_s,
                max_per_24h=request.max_per_24h,
            ),
        )
        return _settings_message(m.SetPatientSettingsResponse, self.pump.patient_settings)

    def _patient_dose(self, request: m.PatientDoseRequest, t: int) -> m.Message:
        grant = self.pump.request_patient_dose(t)
        return m.PatientDoseResponse(
            dose_ng=grant.dose_ng,
            volume_nl=grant.volume_nl,
            ends_at_s=grant.ends_at_clock_s,
            doses_in_24h=grant.doses_in_24h,
            next_allowed_at_s=grant.next_allowed_at_clock_s,
        )


EMPTY_IMPLANT: m.ImplantFields = m.ImplantFields(
    catheter_model="",
    catheter_volume_nl_per_cm=1,
    catheter_length_mm=1,
    catheter_length_uncertainty_mm=0,
    implanted_at_s=None,
    patient_id="",
    origin=Origin.UNKNOWN,
    physician="",
)
"""What READ_IMPLANT carries in ``implant`` when no record was written (``recorded`` false)."""


def _check_commit(
    named: int, staged: _Staged | _StagedRefill | None, *, what: str, stage: Op
) -> None:
    """Refuse a COMMIT that names no staged change, or another checksum than the staged one."""
    if staged is None:
        raise InvalidStateError(f"no {what} is staged: {stage.name} first")
    if named != staged.checksum:
        raise ChecksumMismatchError(
            f"commit names checksum 0x{named:08x}, the staged {what}'s is 0x{staged.checksum:08x}"
        )


_Settings = TypeVar("_Settings", bound=m.PatientSettingsFields)


def _settings_message(cls: type[_Settings], s: PatientDoseSettings) -> _Settings:
    """The patient-dose settings as one of the wire's PatientSettingsFields messages."""
    return cls(
        enabled=s.enabled,
        dose_ng=s.dose_ng,
        duration_s=s.duration_s,
        lockout_s=s.lockout_s,
        max_per_24h=s.max_per_24h,
    )


_READ_ONLY = frozenset(
    {
        Op.DEVICE_INFO,
        Op.LIMITS,
        Op.STATUS,
        Op.READ_PRESCRIPTION,
        Op.STAGE_PRESCRIPTION,  # staged on the link, not in the pump's store
        Op.READ_ALARMS,
        Op.READ_EVENT_LOG,
        Op.READ_CLOCK,
        Op.READ_PATIENT_SETTINGS,
        Op.READ_DELIVERY,
        Op.READ_VALVE,
        Op.READ_IMPLANT,
        Op.STAGE_REFILL,  # staged on the link too
    }
)
"""Commands that never change the pump's stored state (no snapshot, no save before the
answer); any other command is saved before it is acknowledged if it changed anything."""

_HANDLERS: dict[Op, _Route[Any]] = {
    Op.DEVICE_INFO: _Route(m.DeviceInfoRequest, TelemetryLink._device_info),
    Op.LIMITS: _Route(m.LimitsRequest, TelemetryLink._limits),
    Op.STATUS: _Route(m.StatusRequest, TelemetryLink._status),
    Op.READ_PRESCRIPTION: _Route(m.ReadPrescriptionRequest, TelemetryLink._read_prescription),
    Op.STAGE_PRESCRIPTION: _Route(m.StagePrescriptionRequest, TelemetryLink._stage),
    Op.COMMIT_PRESCRIPTION: _Route(m.CommitPrescriptionRequest, TelemetryLink._commit),
    Op.READ_DELIVERY: _Route(m.ReadDeliveryRequest, TelemetryLink._read_delivery),
    Op.START_BOLUS: _Route(m.StartBolusRequest, TelemetryLink._start_bolus),
    Op.CANCEL_BOLUS: _Route(m.CancelBolusRequest, TelemetryLink._cancel_bolus),
    Op.STOP_PUMP: _Route(m.StopPumpRequest, TelemetryLink._stop),
    Op.RESUME_PUMP: _Route(m.ResumePumpRequest, TelemetryLink._resume),
    Op.CANCEL_BRIDGE: _Route(m.CancelBridgeRequest, TelemetryLink._cancel_bridge),
    Op.READ_VALVE: _Route(m.ReadValveRequest, TelemetryLink._read_valve),
    Op.RESET_VALVE: _Route(m.ResetValveRequest, TelemetryLink._reset_valve),
    Op.STAGE_REFILL: _Route(m.StageRefillRequest, TelemetryLink._stage_refill),
    Op.SET_ALARM_VOLUME: _Route(m.SetAlarmVolumeRequest, TelemetryLink._set_alarm_volume),
    Op.COMMIT_REFILL: _Route(m.CommitRefillRequest, TelemetryLink._commit_refill),
    Op.READ_IMPLANT: _Route(m.ReadImplantRequest, TelemetryLink._read_implant),
    Op.SET_IMPLANT: _Route(m.SetImplantRequest, TelemetryLink._set_implant),
    Op.READ_ALARMS: _Route(m.ReadAlarmsRequest, TelemetryLink._read_alarms),
    Op.SILENCE_ALARM: _Route(m.SilenceAlarmRequest, TelemetryLink._silence),
    Op.CLEAR_ALARM: _Route(m.ClearAlarmRequest, TelemetryLink._clear),
    Op.READ_EVENT_LOG: _Route(m.ReadEventLogRequest, TelemetryLink._read_log),
    Op.READ_CLOCK: _Route(m.ReadClockRequest, TelemetryLink._read_clock),
    Op.SET_CLOCK: _Route(m.SetClockRequest, TelemetryLink._set_clock),
    Op.READ_PATIENT_SETTINGS: _Route(
        m.ReadPatientSettingsRequest, TelemetryLink._read_patient_settings
    ),
    Op.SET_PATIENT_SETTINGS: _Route(
        m.SetPatientSettingsRequest, TelemetryLink._set_patient_settings
    ),
    Op.PATIENT_DOSE: _Route(m.PatientDoseRequest, TelemetryLink._patient_dose),
}
"""Every command the session may hand over; the session answers the handshake ops itself."""


def status_response(
    s: PumpStatus, prescription_checksum: int, *, trusted: bool = True
) -> m.StatusResponse:
    """The STATUS answer for the pump's status ``s``.

    ``trusted`` (the telemetry head's own use) builds it without re-validating each field
    through its wire type: every value comes from the pump model, which keeps them in
    range, and re-checking them cost about a fifth of a STATUS's server time.
    ``tests/firmware_model/test_status_response_fastpath.py`` proves the trusted build
    equal, field by field and byte for byte on the wire, to the validated one
    (``trusted=False``) over the states a pump goes through."""
    # A dict display, not dict(**keywords): the same dict, built without a keyword dict.
    values: dict[str, Any] = {
        "clock_s": s.clock_s,
        "mode": s.mode,
        "stop_reason": s.stop_reason,
        "delivering": s.delivering,
        "halted_by": frozenset(s.halted_by) if s.halted_by else _NO_CODES,
        "bolus_kind": s.bolus_kind,
        "bolus_dose_ng": s.bolus_dose_ng,
        "bolus_volume_nl": s.bolus_volume_nl,
        "bolus_duration_s": s.bolus_duration_s,
        "bolus_started_at_s": s.bolus_start_clock_s,
        "bolus_remaining_nl": s.bolus_remaining_nl,
        "bolus_ends_at_s": s.bolus_ends_at_s,
        "basal_rate_nl_per_day": s.basal_rate_nl_per_day,
        "current_rate_nl_per_day": s.current_rate_nl_per_day,
        "daily_dose_ng": s.daily_dose_ng,
        "daily_volume_nl": s.daily_volume_nl,
        "concentration_ug_per_ml": s.concentration_ug_per_ml,
        "bridge_remaining_nl": s.bridge_remaining_nl,
        "bridge_concentration_ug_per_ml": s.bridge_concentration_ug_per_ml,
        "bridge_ends_at_s": s.bridge_end_clock_s,
        "basal_remainder": s.basal_remainder,
        "reservoir_nl": s.reservoir_nl,
        "capacity_nl": s.capacity_nl,
        "alarm_volume_nl": s.alarm_volume_nl,
        "alarms_active": frozenset(s.alarms_active) if s.alarms_active else _NO_CODES,
        "alarms_silenced": (frozenset(s.silenced_alarms) if s.silenced_alarms else _NO_CODES),
        "low_reservoir_alarm_at_s": s.low_reservoir_at_clock_s,
        "empty_at_s": s.empty_at_clock_s,
        "battery_permille": s.battery_permille,
        "battery_uc": s.battery_uc,
        "eri_at_s": s.eri_at_clock_s,
        "prescription_checksum": prescription_checksum,
        "recent_doses": (
            tuple(m.DoseGrant(at_s=g) for g in s.recent_doses_clock_s)
            if s.recent_doses_clock_s
            else ()
        ),
    }
    if not trusted:
        return m.StatusResponse(**values)
    response = _new_record(m.StatusResponse)
    # A record's fields live in its __dict__ (records are frozen, not slotted): ``values``
    # becomes it, whole.
    _set_attribute(response, "__dict__", values)
    return response


_new_record = object.__new__
_set_attribute = object.__setattr__
_NO_CODES: frozenset[Any] = frozenset()
"""The empty set of alarm codes, shared (equal to a new one: the fields are compared by value)."""
