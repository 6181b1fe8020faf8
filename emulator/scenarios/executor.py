"""Playing a scenario against an in-process emulator, step by step, into a trace.

:func:`run_scenario` builds a fresh :class:`~emulator.emulator.Emulator`
with the scenario's starting pump (manual clock at the scenario's start),
reaches it over an in-process link (``pumpsim://``, where latency and
pacing work as on a wire) and runs the steps in order:

* programmer steps go through :class:`~protocol.client.PumpClient` in a
  clinician session (opened when first needed; ``patient_dose`` opens a
  patient-role session, as the patient's handset would);
* world steps go to the emulator (time, faults, link impairment);
* ``expect`` steps read the truth through the emulator (``Emulator.state()``
  and the pump's event log) rather than over the link, so assertions never
  add traffic, faults or log entries of their own.

The first step that fails (an expectation not met, an error the file did
not expect, or an expected error that did not come) stops the run; the
rest are reported as not run. Every byte on the link is captured and
decoded, so each step carries the frames that crossed during it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from emulator.capture import Chunk, RingCapture
from emulator.decode import Decoder, FrameEvent, format_event
from emulator.emulator import Emulator
from emulator.link_faults import LinkFaults
from emulator.response_reading import read_response
from emulator.scenarios import model as md
from emulator.scenarios.errors import ScenarioFailed
from emulator.scenarios.loader import setup_for
from emulator.scenarios.result import (
    Check,
    Sample,
    ScenarioResult,
    StepResult,
    StepStatus,
    format_clock,
)
from emulator.scenarios.units import Expectation, Kind, format_quantity
from firmware_model.errors import FirmwareError
from protocol import units
from protocol.client import PumpClient
from protocol.enums import EVENT_PARAMS, BolusKind, ErrorCode, EventCode, Role
from protocol.errors import LinkTimeout, NakError, ProtocolError
from protocol.keys import DEMO_KEY_FILE, load_keys
from protocol.messages import ImplantFields

__all__ = ["ScenarioRunner", "SilentLinkClock", "run_scenario"]

ADVANCE_SAMPLES = 8
"""Reservoir samples taken within one ``advance`` step (for the plot)."""
FRAMES_PER_STEP = 12
"""Decoded frames kept per step (the newest)."""

_names = itertools.count()


def run_scenario(
    scenario: md.Scenario,
    *,
    on_step: Callable[[StepResult], None] | None = None,
    raise_on_failure: bool = False,
) -> ScenarioResult:
    """Run ``scenario`` and return its trace; ``on_step`` sees each step as it ends.

    With ``raise_on_failure`` a failed run raises :class:`ScenarioFailed` (carrying the
    result) instead of returning it.
    """
    result = ScenarioRunner(scenario, on_step=on_step).run()
    if raise_on_failure and not result.passed:
        raise ScenarioFailed(result.failure_report(), result)
    return result


class SilentLinkClock:
    """A programmer's wait clock that skips waits nothing can end (``PumpClient(monotonic=)``).

    On an in-process link the pump answers as a request arrives (or at the release time a
    delay or baud limit gives it). While the link is cut (``disconnected``) or drops every
    chunk (``drop`` 100 %) with nothing in flight, no answer can come, and the runner knows
    it at once: each reading of this clock then jumps by the client's timeout, so the
    client's wait, and each retry, ends at once instead of costing (retries + 1) x timeout
    of wall time. Otherwise it is ``time.monotonic`` (delayed answers are waited for in
    real time). The pump's own link timers are untouched: they stay on real time.
    """

    def __init__(self, faults: LinkFaults, timeout_s: Callable[[], float]) -> None:
        self._faults = faults
        self._timeout_s = timeout_s
        self._skipped_s = 0.0
        self.skipped_waits = 0
        """How many waits were skipped (for tests and reports)."""

    def silent(self) -> bool:
        """No answer can reach the programmer now."""
        settings = self._faults.settings
        cut = settings.disconnected or settings.drop >= 1.0
        return cut and self._faults.next_release_at() is None

    def __call__(self) -> float:
        if self.silent():
            self._skipped_s += self._timeout_s()
            self.skipped_waits += 1
        return time.monotonic() + self._skipped_s


class _StepFailedError(Exception):
    """Internal: a step's own failure, with the checks made so far."""


@dataclass
class _Trace:
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, what: str, expected: str, actual: str, passed: bool) -> None:
        self.checks.append(Check(what=what, expected=expected, actual=actual, passed=passed))


class ScenarioRunner:
    """One run of one scenario (use :func:`run_scenario`)."""

    def __init__(
        self,
        scenario: md.Scenario,
        *,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.on_step = on_step
        self.keys = load_keys(DEMO_KEY_FILE)
        self._rng = random.Random(scenario.seed)
        self._clinician: PumpClient | None = None
        self._patient: PumpClient | None = None
        self._staged_checksum: int | None = None
        self._events: list[str] = []
        self._decoder = Decoder(keys=self.keys)
        self._samples: list[Sample] = []
        self.emulator: Emulator | None = None
        self.url = ""

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        scenario = self.scenario
        started = time.perf_counter()
        results: list[StepResult] = []
        emulator_error = ""
        with self._world() as emu:
            self._sample(emu)
            failed = False
            for step in scenario.steps:
                if failed:
                    results.append(
                        StepResult(
                            index=step.index,
                            line=step.line,
                            verb=step.verb,
                            name=step.name,
                            status=StepStatus.NOT_RUN,
                            clock_s=self._pump_now(emu),
                        )
                    )
                    continue
                result = self._run_step(emu, step)
                results.append(result)
                failed = not result.passed
                if self.on_step is not None:
                    self.on_step(result)
            self._close_clients()
            try:
                emu.check()
            except Exception as exc:  # any defect inside the emulator fails the run
                emulator_error = f"{type(exc).__name__}: {exc}"
        return ScenarioResult(
            source=scenario.source,
            title=scenario.title,
            description=scenario.description,
            start_s=scenario.pump.start_s,
            steps=tuple(results),
            samples=tuple(self._samples),
            elapsed_s=time.perf_counter() - started,
            emulator_error=emulator_error,
            tags=scenario.tags,
        )

    @contextmanager
    def _world(self) -> Iterator[Emulator]:
        scenario = self.scenario
        start = scenario.pump
        emu = Emulator.single(
            keys=self.keys,
            manual_clock=True,
            start_pump_s=start.start_s,
            catheter_length_cm=start.catheter_length_cm,
            seed=scenario.seed,
            random_bytes=random.Random(self._rng.getrandbits(64)).randbytes,
        )
        # Emulator.single takes a preset; the scenario's own starting state replaces it.
        emu.pumps[0].setup = setup_for(start)
        emu.pumps[0].reset()
        if start.alarm_volume_nl is not None:
            with emu.pumps[0].virtual.lock:
                emu.pumps[0].pump.set_alarm_volume(start.start_s, start.alarm_volume_nl)
        ring = RingCapture(pump_clock=emu.clock.now)
        ring.subscribe(self._on_chunk)
        emu.pumps[0].capture_to(ring)
        name = f"scenario-{os.getpid()}-{next(_names)}"
        self.url = emu.register_inproc(0, name)
        self.emulator = emu
        try:
            yield emu
        finally:
            self._close_clients()
            ring.unsubscribe(self._on_chunk)
            emu.close()

    def _on_chunk(self, chunk: Chunk) -> None:
        for event in self._decoder.feed(chunk):
            self._events.append(format_event(event, show_hex=not isinstance(event, FrameEvent)))

    def _sample(self, emu: Emulator) -> None:
        clock_s, reservoir_nl, true_reservoir_nl = emu.pumps[0].reservoir_now()
        self._samples.append(
            Sample(clock_s=clock_s, reservoir_nl=reservoir_nl, true_reservoir_nl=true_reservoir_nl)
        )

    def _run_step(self, emu: Emulator, step: md.Step) -> StepResult:
        trace = _Trace()
        first_event = len(self._events)
        started = time.perf_counter()
        status = StepStatus.PASSED
        error = ""
        try:
            self._act(emu, step, trace)
            if step.expect_error is not None:
                status = StepStatus.FAILED
                trace.check(
                    "error", _error_name(step.expect_error), "none: the step succeeded", False
                )
        except _StepFailedError:
            status = StepStatus.FAILED
        except NakError as exc:
            status, error = self._unexpected_or_expected(step, exc.code.name, str(exc), trace)
        except LinkTimeout as exc:
            status, error = self._unexpected_or_expected(step, md.TIMEOUT, str(exc), trace)
        except (ProtocolError, FirmwareError, OSError, ValueError) as exc:
            status, error = StepStatus.ERROR, f"{type(exc).__name__}: {exc}"
        if any(not c.passed for c in trace.checks) and status is StepStatus.PASSED:
            status = StepStatus.FAILED
        self._sample(emu)
        return StepResult(
            index=step.index,
            line=step.line,
            verb=step.verb,
            name=step.name,
            status=status,
            checks=tuple(trace.checks),
            note="; ".join(trace.notes),
            error=error,
            clock_s=self._pump_now(emu),
            elapsed_s=time.perf_counter() - started,
            frames=tuple(self._events[first_event:][-FRAMES_PER_STEP:]),
        )

    @staticmethod
    def _unexpected_or_expected(
        step: md.Step, got: str, text: str, trace: _Trace
    ) -> tuple[StepStatus, str]:
        if step.expect_error is None:
            return StepStatus.ERROR, text
        wanted = _error_name(step.expect_error)
        trace.check("error", wanted, text, got == wanted)
        if got == wanted:
            trace.notes.append(f"refused as expected: {text}")
            return StepStatus.PASSED, ""
        return StepStatus.FAILED, ""

    # -- links --------------------------------------------------------------------------------

    def _client(self, role: Role = Role.CLINICIAN) -> PumpClient:
        current = self._clinician if role is Role.CLINICIAN else self._patient
        if current is not None:
            return current
        settings = self.scenario.programmer
        holder: list[PumpClient] = []
        clock = SilentLinkClock(
            self._require_emulator().pumps[0].faults, lambda: holder[0].timeout_s
        )
        client = PumpClient(
            self.url,
            key=self.keys[role],
            role=role,
            timeout_s=settings.timeout_s,
            retries=settings.retries,
            random_bytes=random.Random(self._rng.getrandbits(64)).randbytes,
            monotonic=clock,
        )
        holder.append(client)
        client.connect()
        if role is Role.CLINICIAN:
            self._clinician = client
        else:
            self._patient = client
        return client

    def _abandon(self, client: PumpClient) -> None:
        """Close ``client``'s link without closing its session (the programmer walked away)."""
        emu = self._require_emulator()
        before = emu.pumps[0].faults.settings
        emu.set_link(disconnected=True)
        client.close()  # its farewell is lost: the silent link costs it no wall time
        emu.set_link(disconnected=before.disconnected)

    def _close_clients(self) -> None:
        for client in (self._clinician, self._patient):
            if client is not None:
                # The link may be impaired or gone: the pump then ends the session by itself.
                with contextlib.suppress(ProtocolError):
                    client.close()
        self._clinician = self._patient = None

    def _require_emulator(self) -> Emulator:
        assert self.emulator is not None
        return self.emulator

    # -- the actions --------------------------------------------------------------------------

    def _act(self, emu: Emulator, step: md.Step, trace: _Trace) -> None:
        action = step.action
        match action:
            case md.Interrogate():
                self._interrogate(trace)
            case md.Program():
                self._program(action, trace)
            case md.Commit():
                checksum = self._client().commit(self._staged_checksum or 0)
                trace.notes.append(f"committed checksum 0x{checksum:08x}")
            case md.Refill():
                self._refill(action, trace)
            case md.StartBolus():
                self._bolus(action, trace)
            case md.CancelBolus():
                delivered = self._client().cancel_bolus()
                trace.notes.append(f"cancelled after {units.format_volume_nl(delivered)}")
            case md.CancelBridge():
                cancelled = self._client().cancel_bridge()
                trace.notes.append(
                    f"bridge cancelled after {units.format_volume_nl(cancelled.delivered_nl)}"
                    f", {units.format_volume_nl(cancelled.remaining_nl)} left"
                )
            case md.SetClock():
                before = self._pump_now(emu)
                target = action.to.resolve(start_s=self.scenario.pump.start_s, now_s=before)
                after = self._client().set_clock(target)
                trace.notes.append(
                    f"pump clock set from {self._when(before)} to {self._when(after)} "
                    f"({'+' if after >= before else '-'}"
                    f"{format_quantity(abs(after - before), Kind.DURATION)})"
                )
            case md.ResetValve():
                closed_s = self._client().reset_valve()
                trace.notes.append(
                    "valve reset after " + format_quantity(closed_s, Kind.DURATION) + " closed"
                )
            case md.SetImplant():
                stored = self._client().set_implant(action.implant)
                trace.notes.append(
                    f"implant record: {stored.catheter_length_mm / 10:g} cm "
                    f"(± {stored.catheter_length_uncertainty_mm / 10:g} cm) of "
                    f"{stored.catheter_volume_nl_per_cm} nL/cm, {stored.origin.name}"
                )
            case md.Stop():
                self._client().stop(action.reason)
            case md.Resume():
                mode = self._client().resume().mode
                trace.notes.append(f"resumed {mode.name}")
            case md.SetAlarmVolume():
                self._client().set_alarm_volume(action.volume_nl)
            case md.PatientSettings():
                self._patient_settings(action, trace)
            case md.PatientDose():
                grant = self._client(Role.PATIENT).patient_dose()
                trace.notes.append(
                    f"granted {units.format_dose_ug(Fraction(grant.dose_ng, 1000))} = "
                    f"{units.format_volume_nl(grant.volume_nl)}, "
                    f"{grant.doses_in_24h} in 24 h, next allowed "
                    f"{self._when(grant.next_allowed_at_s)}"
                )
            case md.SilenceAlarm():
                self._client().silence_alarm(action.code)
            case md.ClearAlarm():
                self._client().clear_alarm(action.code)
            case md.Connect():
                if self._clinician is not None:
                    self._clinician.close()
                    self._clinician = None
                self._client()
            case md.Disconnect():
                if self._clinician is not None:
                    self._abandon(self._clinician)
                    self._clinician = None
            case md.Advance():
                self._advance(emu, action)
            case md.Fault():
                self._fault(emu, action, trace)
            case md.Mri():
                self._mri(emu, action, trace)
            case md.LinkChange():
                settings = emu.set_link(None, **action.changes())
                trace.notes.append(f"link now {settings}")
            case md.Expect():
                self._expect(emu, action, trace)
                if any(not c.passed for c in trace.checks):
                    raise _StepFailedError

    @staticmethod
    def _pump_now(emu: Emulator) -> int:
        """The pump's clock now (what ``start`` and ``now`` in a file are on; it differs from
        the emulator's time once SET_CLOCK moved it)."""
        p = emu.pumps[0]
        with p.virtual.lock:
            return p.pump.clock(emu.clock.now())

    def _when(self, clock_s: int | None) -> str:
        if clock_s is None:
            return "never"
        return _day(clock_s, self.scenario.pump.start_s)

    def _concentration(self) -> int:
        return self._client().status().concentration_ug_per_ml

    def _interrogate(self, trace: _Trace) -> None:
        client = self._client()
        status = client.status()
        client.read_prescription()
        client.alarms()
        entries = list(client.event_log())
        alarms = ", ".join(a.name for a in sorted(status.alarms_active)) or "none"
        dose = Fraction(status.daily_dose_ng, 1000)
        trace.notes.append(
            f"reservoir {units.format_volume_nl(status.reservoir_nl)}, {status.mode.name} "
            f"{units.format_dose_ug_per_day(dose)} at "
            f"{units.format_concentration_ug_per_ml(status.concentration_ug_per_ml)}, "
            f"alarms: {alarms}, battery {status.battery_permille / 10:g} %, "
            f"low-reservoir alarm {self._when(status.low_reservoir_alarm_at_s)}, "
            f"{len(entries)} log entries"
        )

    def _program(self, action: md.Program, trace: _Trace) -> None:
        client = self._client()
        concentration = self._concentration()
        spec = md.prescription_spec(action.prescription, concentration)
        if action.stage_only:
            self._staged_checksum = client.stage(spec)
            trace.notes.append(f"staged {spec.mode.name}, checksum 0x{self._staged_checksum:08x}")
            return
        client.program(spec)
        status = client.status()
        dose = Fraction(status.daily_dose_ng, 1000)
        trace.notes.append(
            f"programmed {spec.mode.name} {units.format_rate_nl_per_day(status.daily_volume_nl)}"
            f" = {units.format_dose_ug_per_day(dose)} at "
            f"{units.format_concentration_ug_per_ml(concentration)}"
        )

    def _refill(self, action: md.Refill, trace: _Trace) -> None:
        client = self._client()
        before = client.status()
        removed = action.removed_nl
        if removed is None:
            removed = before.reservoir_nl
        new = action.concentration_ug_per_ml
        if action.prescription is not None:
            spec = md.prescription_spec(action.prescription, new)
        elif action.same_dose or new == before.concentration_ug_per_ml:
            spec = client.read_prescription().prescription.with_concentration(new)
        else:
            raise ValueError(
                f"this refill changes the drug from {before.concentration_ug_per_ml} to {new} "
                "mcg/mL: it must say what runs on the new drug (prescription: ... or "
                "same_dose: true)"
            )
        response = client.refill(
            removed_nl=removed,
            added_nl=action.added_nl,
            concentration_ug_per_ml=new,
            prescription=spec,
            bridge=action.bridge,
            drug_lot=action.lot,
            allow_nonstandard=action.nonstandard,
        )
        after = client.status()
        bridge = "no bridge"
        if response.bridge_volume_nl:
            bridge = (
                f"bridge of {units.format_volume_nl(response.bridge_volume_nl)} at "
                f"{units.format_concentration_ug_per_ml(before.concentration_ug_per_ml)}, "
                f"ends {self._when(response.bridge_ends_at_s)}"
            )
        trace.notes.append(
            f"removed {units.format_volume_nl(removed)} (expected "
            f"{units.format_volume_nl(response.expected_nl)}, discrepancy "
            f"{units.format_volume_nl(response.discrepancy_nl)}"
            f"{', FLAGGED' if response.discrepancy_flagged else ''}); reservoir now "
            f"{units.format_volume_nl(response.reservoir_nl)} of "
            f"{units.format_concentration_ug_per_ml(new)}; dose "
            f"{units.format_dose_ug_per_day(Fraction(before.daily_dose_ng, 1000))} -> "
            f"{units.format_dose_ug_per_day(Fraction(after.daily_dose_ng, 1000))}; {bridge}; "
            f"low-reservoir alarm {self._when(response.low_reservoir_alarm_at_s)}"
        )
        if action.expect_discrepancy is not None:
            exp = action.expect_discrepancy
            trace.check(
                "refill discrepancy",
                exp.describe(),
                format_quantity(response.discrepancy_nl, Kind.VOLUME),
                exp.matches(response.discrepancy_nl),
            )
        if action.expect_flagged is not None:
            trace.check(
                "refill discrepancy flagged",
                str(action.expect_flagged).lower(),
                str(response.discrepancy_flagged).lower(),
                response.discrepancy_flagged == action.expect_flagged,
            )
        if any(not c.passed for c in trace.checks):
            raise _StepFailedError

    def _bolus(self, action: md.StartBolus, trace: _Trace) -> None:
        client = self._client()
        if action.kind is BolusKind.PRIMING:
            volume = action.volume_nl
            if volume is None:  # the dead volume of the pump tubing and the recorded catheter
                info = client.device_info()
                record = client.implant()
                if not record.recorded:
                    raise ValueError("priming without a volume needs an implant record")
                volume = dead_volume_from_record(info.tubing_volume_nl, record.implant)
            response = client.start_priming(volume_nl=volume)
        else:
            assert action.dose_ug is not None
            response = client.start_bolus(
                dose_ng=md.dose_ng(action.dose_ug), duration_s=action.duration_s
            )
        ends = self._when(response.ends_at_s)
        dose = (
            f"{units.format_dose_ug(Fraction(response.dose_ng, 1000))} = "
            if response.dose_ng
            else ""
        )
        trace.notes.append(
            f"{action.kind.name} bolus of {dose}{units.format_volume_nl(response.volume_nl)}"
            f" over {format_quantity(response.duration_s, Kind.DURATION)}, ends {ends}"
        )

    def _patient_settings(self, action: md.PatientSettings, trace: _Trace) -> None:
        client = self._client()
        stored = client.set_patient_settings(
            enabled=action.enabled,
            dose_ng=md.dose_ng(action.dose_ug),
            duration_s=action.duration_s,
            lockout_s=action.lockout_s,
            max_per_24h=action.max_per_24h,
        )
        trace.notes.append(
            f"patient doses {'on' if stored.enabled else 'off'}: "
            f"{units.format_dose_ug(Fraction(stored.dose_ng, 1000))} over "
            f"{format_quantity(stored.duration_s, Kind.DURATION)}, lockout "
            f"{format_quantity(stored.lockout_s, Kind.DURATION)}, "
            f"at most {stored.max_per_24h} a day"
        )

    def _advance(self, emu: Emulator, action: md.Advance) -> None:
        now = self._pump_now(emu)
        if action.until is not None:
            target = action.until.resolve(start_s=self.scenario.pump.start_s, now_s=now)
            if target < now:
                raise ValueError(
                    f"cannot advance to {action.until.text}: it is {now - target} s in the past"
                )
            seconds = target - now
        else:
            seconds = action.seconds or 0
        # In pieces, so the plot sees the reservoir fall (the model is exact either way).
        pieces = max(1, min(ADVANCE_SAMPLES, seconds // 3_600))
        done = 0
        for i in range(1, pieces + 1):
            part = seconds * i // pieces - done
            emu.advance(part)
            done += part
            if i < pieces:
                self._sample(emu)

    def _fault(self, emu: Emulator, action: md.Fault, trace: _Trace) -> None:
        if action.motor_stall is not None:
            emu.fault_motor_stall(action.motor_stall)
        if action.memory_error is not None:
            emu.fault_memory_error(action.memory_error)
        if action.battery_permille is not None:
            emu.fault_battery(action.battery_permille / 10)
        if action.low_battery_reset:
            emu.fault_low_battery_reset()
        if action.pocket_fill:
            emu.fault_pocket_fill()
            trace.notes.append("the next refill's drug goes into the pocket")
        alarms = ", ".join(emu.state()["pump"]["alarms_active"]) or "none"
        trace.notes.append(f"alarms now: {alarms}")

    def _mri(self, emu: Emulator, action: md.Mri, trace: _Trace) -> None:
        # The patient walks into (or out of) the scanner: the programmer's sessions end, so
        # the next programmer step after the scan opens a new one, an interrogation.
        self._close_clients()
        if action.start and action.end:
            state = emu.mri(action.duration_s, action.exit)
            end = state["scheduled_end"]
            trace.notes.append(
                f"in the field for {format_quantity(action.duration_s, Kind.DURATION)}, "
                f"until {self._when(end['ends_at_clock_s'])}; {_mri_exit_text(end)}"
            )
        elif action.start:
            emu.mri_start()
            trace.notes.append("in the field (the rotor stops)")
        else:
            state = emu.mri_end(action.exit)
            trace.notes.append(f"out of the field; {_mri_exit_text(state['exit'])}")
        alarms = ", ".join(emu.state()["pump"]["alarms_active"]) or "none"
        trace.notes.append(f"alarms now: {alarms}")

    # -- assertions ---------------------------------------------------------------------------

    def _expect(self, emu: Emulator, action: md.Expect, trace: _Trace) -> None:
        state = emu.state()
        pump: dict[str, Any] = state["pump"]
        now = int(pump["clock_s"])
        start = self.scenario.pump.start_s
        for key, exp in action.quantities:
            actual = _actual_quantity(key, state)
            if actual is None:
                trace.check(key, exp.describe(), "unknown (nothing reported)", False)
                continue
            trace.check(key, exp.describe(), format_quantity(actual, exp.kind), exp.matches(actual))
        response = read_response(state)
        onset, full_effect = response.onset_at_clock_s, response.full_effect_at_clock_s
        dates = {
            "low_reservoir_date": pump["low_reservoir_at_clock_s"],
            "empty_date": pump["empty_at_clock_s"],
            "eri_date": pump["eri_at_clock_s"],
            "bridge_end": pump["bridge_end_clock_s"],
            "clock": pump["clock_s"],
            "delivering_since": pump["delivering_since_clock_s"],
            "response_onset": onset,
            "response_full_effect": full_effect,
        }
        for key, date in action.dates:
            actual_s = dates[key]
            expected = date.text
            if date.time is not None:
                resolved = date.time.resolve(start_s=start, now_s=now)
                expected = f"{date.text} (= {_day(resolved, start)})"
            trace.check(
                key,
                expected,
                "none" if actual_s is None else _day(int(actual_s), start),
                date.matches(actual_s, start_s=start, now_s=now),
            )
        names = {
            "mode": pump["mode"],
            "bolus": pump["bolus_kind"],
            "patient_state": str(state["patient"]["state"]).upper(),
        }
        patient_state = names["patient_state"]
        for key, name in action.names:
            trace.check(key, name, str(names[key]), names[key] == name)
        mri = pump["mri"] or {}
        for key, flag in action.flags:
            match key:
                case "in_mri_field":
                    actual_flag = bool(mri.get("in_field", False))
                case "telemetry_mode":
                    actual_flag = bool(mri.get("telemetry_mode", False))
                case "withdrawal_risk" | "overdose_risk":
                    actual_flag = patient_state == key.upper()
                case "valve_closed":
                    actual_flag = pump["valve"]["closed_since_clock_s"] is not None
                case _:
                    actual_flag = bool(pump[key])
            trace.check(key, str(flag).lower(), str(actual_flag).lower(), actual_flag == flag)
        active = frozenset(pump["alarms_active"])
        silenced = frozenset(pump["silenced_alarms"])
        for key, codes in action.alarm_sets:
            wanted = frozenset(c.name for c in codes)
            passed = {
                "alarms": active == wanted,
                "alarms_include": wanted <= active,
                "alarms_absent": not (wanted & active),
                "silenced": silenced == wanted,
            }[key]
            shown = silenced if key == "silenced" else active
            trace.check(key, _names_text(wanted), _names_text(shown), passed)
        if action.events or action.events_absent:
            self._expect_events(emu, action, trace)
        if action.prescription is not None:
            running = emu.pumps[0].pump.prescription
            concentration = int(pump["concentration_ug_per_ml"])
            wanted_p = md.prescription_spec(action.prescription, concentration)
            trace.check("prescription", repr(wanted_p), repr(running), running == wanted_p)

    def _expect_events(self, emu: Emulator, action: md.Expect, trace: _Trace) -> None:
        p = emu.pumps[0]
        with p.virtual.lock:
            entries = list(p.pump.event_log)
        for match in action.events:
            found = [e for e in entries if e.code is match.code and _params_match(match, e.a, e.b)]
            if match.count is None:
                passed = bool(found)
                expected = f"at least one {match.text}"
            else:
                passed = len(found) == match.count
                expected = f"{match.count} x {match.text}"
            same_code = [e for e in entries if e.code is match.code]
            actual = f"{len(found)} matching"
            if not passed:
                actual += f"; {match.code.name} entries: " + (
                    ", ".join(_entry_text(e.code, e.a, e.b) for e in same_code[-5:]) or "none"
                )
            trace.check("event log", expected, actual, passed)
        for code in action.events_absent:
            present = [e for e in entries if e.code is code]
            trace.check(
                "event log",
                f"no {code.name}",
                f"{len(present)} {code.name}" if present else "none",
                not present,
            )


def _mri_exit_text(exit_: dict[str, Any]) -> str:
    delay = format_quantity(int(exit_["recovery_delay_s"]), Kind.DURATION)
    trap = "telemetry-mode trap" if exit_["telemetry_trap"] else "no telemetry-mode trap"
    logged = (
        "recovery logged at the second interrogation"
        if exit_["recovery_logged_at_second_interrogation"]
        else "recovery logged when the motor turns"
    )
    return f"recovery delay {delay}, {trap}, {logged}"


def _day(clock_s: int, start_s: int) -> str:
    return format_clock(clock_s, start_s)


def _error_name(expected: ErrorCode | str) -> str:
    return expected.name if isinstance(expected, ErrorCode) else str(expected)


def _names_text(names: frozenset[str]) -> str:
    return "[" + ", ".join(sorted(names)) + "]"


def _actual_quantity(key: str, state: dict[str, Any]) -> Fraction | None:
    pump = state["pump"]
    match key:
        case "reservoir":
            return Fraction(pump["reservoir_nl"])
        case "true_reservoir":
            return Fraction(pump["true_reservoir_nl"])
        case "bolus_remaining":
            return Fraction(pump["bolus_remaining_nl"])
        case "alarm_volume":
            return Fraction(pump["alarm_volume_nl"])
        case "daily_dose":
            return Fraction(pump["daily_dose_ng"], 1000)
        case "bridge_remaining":
            return Fraction(pump["bridge_remaining_nl"])
        case "bridge_concentration":
            return Fraction(pump["bridge_concentration_ug_per_ml"])
        case "patient_rate":
            return Fraction(repr(state["fluid_path"]["patient_rate_ug_per_day"]))
        case "patient_last_hour":
            return Fraction(repr(state["fluid_path"]["last_hour_to_patient_ug"]))
        case "daily_volume":
            return Fraction(pump["daily_volume_nl"])
        case "current_rate":
            return Fraction(pump["current_rate_nl_per_day"])
        case "concentration":
            return Fraction(pump["concentration_ug_per_ml"])
        case "concentration_at_tip":
            tip = state["fluid_path"]["concentration_at_tip_ug_per_ml"]
            return None if tip is None else Fraction(tip)
        case "battery":
            return Fraction(pump["battery_permille"], 1000)
        case "not_delivering_for":
            if pump["delivering"]:
                return Fraction(0)
            return Fraction(int(pump["clock_s"]) - int(pump["delivering_since_clock_s"]))
        case "response":
            return read_response(state).share
        case "response_progress":
            return read_response(state).progress
        case "patient_level":
            return Fraction(repr(state["patient"]["level_ng_per_ml"]))
        case "pocket":
            return Fraction(state["fluid_path"]["pocket_nl"])
        case _:  # delivered(_to_patient): drug that reached the patient past the catheter tip
            return Fraction(repr(state["fluid_path"]["delivered_to_patient_ug"]))


def _params_match(match: md.EventMatch, a: int, b: int) -> bool:
    names = EVENT_PARAMS[match.code]
    values = {names[0]: a, names[1]: b}
    for wire, expected in match.params:
        value = values[wire]
        if isinstance(expected, Expectation):
            actual = Fraction(value, _WIRE_SCALE.get(wire.rsplit("_", 1)[-1], 1))
            if not expected.matches(actual):
                return False
        elif value != expected:
            return False
    return True


_WIRE_SCALE = {"permille": 1000, "ng": 1000, "mm": 10}
"""Wire units whose scenario unit is larger: permille -> ratio, ng -> mcg, mm -> cm."""


def dead_volume_from_record(tubing_volume_nl: int, implant: ImplantFields) -> int:
    """The dead volume the implant record gives: the pump tubing plus the recorded catheter
    (its nominal length), nL rounded up."""
    catheter = -(-implant.catheter_volume_nl_per_cm * implant.catheter_length_mm // 10)
    return tubing_volume_nl + catheter


def _entry_text(code: EventCode, a: int, b: int) -> str:
    first, second = EVENT_PARAMS[code]
    parts = [f"{name}={value}" for name, value in ((first, a), (second, b)) if name != "unused"]
    return f"{code.name}({', '.join(parts)})"
