"""One emulated pump: the firmware model behind its telemetry head, with its true world.

:class:`EmulatedPump` is a :class:`~emulator.device.VirtualPump` (the firmware model and its
telemetry head) plus what the pump cannot see: the link's faults, the catheter's fluid path
(exact in nanolitres, advanced by the pump's constant-rate stretches) and the patient model;
its true state (:meth:`EmulatedPump.state`) is what the control channel and the educator
read. :class:`~emulator.emulator.Emulator` holds one or many of them with their clock and
ports.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, field, fields, is_dataclass
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from emulator.clock import PumpClock
from emulator.device import VirtualPump
from emulator.errors import MriControlError
from emulator.fluid_path import PG_PER_UG, FluidPath, FluidTracker, HourlyLedger, tip_pieces
from emulator.link_faults import LinkFaults
from emulator.mri import MriExit, ScheduledMriEnd, push_instant_delivery
from emulator.patient import PatientModel, PatientParams
from emulator.persistence import Saver, StateFile, StateFileError, StoredState
from emulator.presets import PumpSetup
from emulator.transports.base import Endpoint, EndpointFactory
from firmware_model.delivery import PPM
from firmware_model.errors import FirmwareError, StorageError
from firmware_model.pump import Pump
from protocol.enums import Mode, Role
from protocol.frozen import mutable
from protocol.response import ResponseChange
from protocol.schedule import daily_dose_ng
from protocol.timebase import weekday

if TYPE_CHECKING:
    from emulator.capture import ChunkSink

# The transports other than the pty (and the captures) are imported when first used, so a
# ``serve`` that does not use them starts without them (pyserial's RFC 2217 among them).


DEFAULT_CATHETER_LENGTH_CM = 50
"""The true catheter's length when neither the caller nor the pump's implant record
gives one, cm."""


def true_catheter_cm(setup: PumpSetup, catheter_length_cm: int | None) -> int:
    """The TRUE catheter (the emulator's fluid path): as given, else the implant record's
    length (whole cm), else :data:`DEFAULT_CATHETER_LENGTH_CM`. Kept apart from the record
    the pump stores, so an educator can stage a mismatch."""
    if catheter_length_cm is not None:
        return catheter_length_cm
    if setup.implant is not None:
        return setup.implant.catheter_length_mm // 10
    return DEFAULT_CATHETER_LENGTH_CM


RESPONSE_CHANGES_KEPT = 16
"""How many dose changes the world remembers with their response milestones."""

RESPONSE_CHANGE_MIN = Fraction(1, 200)
"""A change of the 24-h dose by less than 0.5 % (a rate rounded at another concentration)
is not remembered as a change: no titration step is that small."""


@mutable(kw_only=False)
class _World:
    """What happens beyond the pump: the catheter's dead volume and the patient."""

    fluid: FluidTracker
    patient: PatientModel
    ledger: HourlyLedger
    t: int
    reference_key: int = 0
    """id() of the prescription the patient's reference dose was last taken from."""
    dose_ug_per_day: Fraction = Fraction(0)
    """The 24-h dose of the last change remembered."""
    changes: list[ResponseChange] = field(default_factory=list)
    # A pocket fill (a world fault): drug the pump counts that is not in its reservoir.
    filled_nl: int = 0
    """The pump's total_filled_nl when last seen (a rise is a refill)."""
    pocket_armed: bool = False
    """The next refill's drug goes into the subcutaneous pocket."""
    missing_nl: int = 0
    """What the pump believes is in the reservoir beyond what really is."""
    dry_nl: int = 0
    """Volume the pump counted as delivered that moved nothing (the reservoir was empty)."""
    pocket_nl: int = 0
    """Drug volume injected into the pocket, in all."""


class EmulatedPump:
    """One virtual pump with its world: link faults, catheter fluid path, patient."""

    def __init__(
        self,
        *,
        index: int,
        setup: PumpSetup,
        keys: Mapping[Role, bytes],
        clock: PumpClock,
        wall: Callable[[], float],
        catheter_length_cm: int | None = None,
        patient_params: PatientParams | None = None,
        seed: int = 0,
        random_bytes: Callable[[int], bytes] = os.urandom,
        pump: Pump | None = None,
    ) -> None:
        self.index = index
        self.setup = setup
        self.keys = dict(keys)
        self.catheter_length_cm = true_catheter_cm(setup, catheter_length_cm)
        """The TRUE catheter, cm (see :func:`true_catheter_cm`)."""
        self.patient_params = patient_params or PatientParams()
        self._random_bytes = random_bytes
        self.faults = LinkFaults(seed=seed, clock=wall)
        built = pump if pump is not None else setup.build(t=clock.now())
        self.virtual = VirtualPump(
            pump=built, keys=keys, clock=clock, wall=wall, random_bytes=random_bytes
        )
        self.virtual.on_advance = self._advance_world
        self._world = self._new_world(built)
        self._seed = seed
        self._mri_rng_made: random.Random | None = None
        """Draws the MRI exposures' seeded delays and traps (made on the first exposure, and
        made afresh after :meth:`reset`)."""
        self._mri_end_value: ScheduledMriEnd | None = None
        self.advanced_at = -math.inf
        """Wall time the pump was last brought up to the clock (by a request or the sweep):
        the sweep passes over a pump a request has just advanced."""
        self.on_world_events_changed: Callable[[EmulatedPump], None] | None = None
        """Called when this pump's next world event may have changed (the emulator keeps
        the pumps with a scheduled event apart, so its loop never scans the whole fleet)."""
        self._saver: Saver | None = None
        self._saved_image = b""
        self._sinks: list[ChunkSink] = []
        self._link_numbers = itertools.count(1)
        # Watched while protocol coverage is collecting; it can only be when its module is
        # loaded, so a plain `serve` never imports it (nor the decoder and captures it uses).
        coverage = sys.modules.get("emulator.coverage")
        if coverage is not None:
            coverage.attach(self)

    # -- the world beyond the pump -----------------------------------------------------------

    def _new_world(self, pump: Pump) -> _World:
        path = FluidPath.for_catheter(
            pump.profile,
            catheter_length_cm=self.catheter_length_cm,
            initial_concentration_ug_per_ml=pump.concentration_ug_per_ml,
        )
        tracker = FluidTracker(path, total_delivered_nl=pump.total_delivered_nl)
        dose = self._prescribed_dose(pump)
        patient = PatientModel(
            reference_dose_ug_per_day=max(dose, Fraction(1)),
            params=self.patient_params,
            start_s=pump.t,
        )
        return _World(
            fluid=tracker,
            patient=patient,
            ledger=HourlyLedger(),
            t=pump.t,
            dose_ug_per_day=dose,
            filled_nl=pump.total_filled_nl,
        )

    @staticmethod
    def _prescribed_dose(pump: Pump) -> Fraction:
        """Today's prescribed dose, mcg/day (a dose: the same during a bridge)."""
        ng = daily_dose_ng(
            pump.prescription,
            weekday(pump.clock(pump.t)),
            minimum_mode_rate_nl_per_day=pump.profile.minimum_rate_mode_nl_per_day,
        )
        return ng / 1000

    def _advance_world(self, pump: Pump, t: int) -> None:
        """Advance the pump to ``t``, event to event, feeding each constant-rate stretch it
        delivers to the catheter and the patient whole (called by the VirtualPump under its
        lock): the catheter moves the stretch's whole nanolitres exactly, the patient model
        integrates it in closed form, the ledger splits it at the hours.

        Exact: the pump, what entered and left the catheter (nL, pg), its contents, at the
        end of every stretch. Within a tolerance, because inside a stretch the pump's whole
        nanolitres are spread evenly in time: each hour of the ledger within 2 nL of drug of
        the pump's own count, the patient's level and response within the drug of 2 nL of a
        world stepped every 300 s (``tests/emulator/test_world_events.py``). A reservoir run
        dry inside a stretch stops the flow on the second the stretch's even share runs out.
        """
        world = self._world
        self.advanced_at = self.virtual.wall()
        # Each follower is called only when what it follows has moved (most requests at
        # real speed find nothing to do).
        # A prescription committed since the last call took effect at the pump's time now.
        if id(pump.prescription) != world.reference_key:
            self._follow_prescription(pump, world)
        if pump.total_filled_nl != world.filled_nl:
            self._follow_fill(pump, world)
        # A valve pump's discharge in an MRI field left the reservoir at one instant.
        # (the tracker's last_total_delivered_nl, read without the property's call)
        if pump.total_delivered_nl - world.dry_nl != world.fluid._last_total_nl:
            push_instant_delivery(
                world.fluid, world.patient, world.ledger, pump, dry_nl=world.dry_nl
            )
        if self._mri_end_value is not None:
            self._fire_world_events(pump)
        if pump.t >= t:
            # No time to pass (a request at the instant the clock's step already advanced
            # the pump to): the followers above were all there was to do, and none of them
            # changes the prescription (the check below the loop is for the pump's own
            # changes while it runs).
            return
        while pump.t < t:
            # A scheduled world event (an MRI exposure's end) lands on its own second.
            stop = t
            if self._mri_end_value is not None:  # else there is no world event to stop at
                event_t = self.next_world_event_t
                if event_t is not None and pump.t < event_t < t:
                    stop = event_t
            reservoir_nl = pump.reservoir_nl
            concentration = pump.concentration_ug_per_ml
            offset_s = pump.clock(0)
            patient = world.patient
            push_raw, add_even, steady, general = (
                world.fluid.push_raw,
                world.ledger.add_even,
                patient._infuse_steady,
                patient._infuse_general,
            )
            for start, end, delivered_nl, commanded_nl in pump.advance_in_stretches(stop):
                reservoir_nl -= delivered_nl
                duration_s = end - start
                if delivered_nl and (world.missing_nl or reservoir_nl == 0):
                    self._push_short_stretch(
                        pump,
                        world,
                        (start + offset_s, duration_s, concentration),
                        (reservoir_nl, delivered_nl, commanded_nl),
                    )
                    continue
                if duration_s <= 0:
                    continue
                # The usual stretch (_push_stretch, inline): what the pump delivered flowed
                # all along it; a full catheter of one drug gives as much of it at the tip.
                pushed = push_raw(delivered_nl, concentration)
                fill_nl, out = pushed
                if fill_nl or len(out) > 1:
                    self._tip_out(world, start + offset_s, duration_s, delivered_nl, pushed)
                    continue
                volume_out_nl, concentration_out = out[0] if out else (0, 0)
                add_even(start + offset_s, duration_s, volume_out_nl, concentration_out)
                # patient.infuse, its checks known true: whole seconds > 0, and an int
                # over an int is a finite float >= 0.
                drug_ug = volume_out_nl * concentration_out / PG_PER_UG
                if not steady(duration_s, drug_ug):
                    general(duration_s, drug_ug)
            world.t = pump.t
            if self._mri_end_value is not None:
                self._fire_world_events(pump)
        if id(pump.prescription) != world.reference_key:
            self._follow_prescription(pump, world)

    @staticmethod
    def _push_short_stretch(
        pump: Pump,
        world: _World,
        when: tuple[int, int, int],
        volumes: tuple[int, int, int],
    ) -> None:
        """A stretch whose flow may stop early: the pump counted ``delivered_nl`` > 0 but
        the real drug ran out (after a pocket fill what the rotor moves may be nothing: the
        real drug left goes first, then the stretch flows dry), or the reservoir ran dry
        inside it (the rotor moved its last drug at the stretch's rate, then nothing).
        ``when``: (start on the pump clock, duration s, concentration in the reservoir);
        ``volumes``: (the true reservoir after the stretch, nL delivered, nL commanded)."""
        start_clock_s, duration_s, concentration = when
        reservoir_nl, delivered_nl, commanded_nl = volumes
        flowing_s = duration_s
        volume_nl = delivered_nl
        if world.missing_nl:
            real_nl = max(0, reservoir_nl + delivered_nl - world.missing_nl)
            dry_nl = max(0, delivered_nl - real_nl)
            world.dry_nl += dry_nl
            world.missing_nl = max(0, world.missing_nl - dry_nl)
            volume_nl -= dry_nl
            if dry_nl:
                flowing_s = -(-duration_s * volume_nl // delivered_nl)
        else:
            bias_ppm = pump.profile.delivery_bias_ppm
            nominal_nl = commanded_nl * (PPM + bias_ppm) // PPM
            if nominal_nl > delivered_nl:
                flowing_s = -(-duration_s * delivered_nl // nominal_nl)
        EmulatedPump._push_stretch(world, start_clock_s, flowing_s, volume_nl, concentration)
        if flowing_s < duration_s:
            EmulatedPump._push_stretch(
                world, start_clock_s + flowing_s, duration_s - flowing_s, 0, 0
            )

    @staticmethod
    def _push_stretch(
        world: _World, start_clock_s: int, duration_s: int, volume_nl: int, concentration: int
    ) -> None:
        """``volume_nl`` into the catheter at a constant flow over ``duration_s`` > 0 from
        ``start_clock_s``; what leaves the tip to the ledger and the patient."""
        if duration_s <= 0:
            return
        pushed = world.fluid.push_raw(volume_nl, concentration)
        EmulatedPump._tip_out(world, start_clock_s, duration_s, volume_nl, pushed)

    @staticmethod
    def _tip_out(
        world: _World,
        start_clock_s: int,
        duration_s: int,
        volume_nl: int,
        pushed: tuple[int, list[tuple[int, int]]],
    ) -> None:
        """What left the tip while ``volume_nl`` was pushed in over ``duration_s`` > 0 (the
        catheter's answer ``pushed``: nL that filled air, the plugs out of the tip), to the
        ledger and the patient."""
        fill_nl, out = pushed
        if not fill_nl and len(out) <= 1:
            # The usual stretch: one drug out of the tip, evenly over the whole stretch.
            volume_out_nl, concentration_out = out[0] if out else (0, 0)
            world.ledger.add_even(start_clock_s, duration_s, volume_out_nl, concentration_out)
            world.patient.infuse(duration_s, volume_out_nl * concentration_out / PG_PER_UG)
            return
        pieces = tip_pieces(fill_nl, out, volume_nl, duration_s)
        world.ledger.add(start_clock_s, pieces)
        world.patient.feed(pieces)

    def _follow_prescription(self, pump: Pump, world: _World) -> None:
        """Move the patient's reference to a new prescription, and remember a change of the
        24-h dose with the forecast of the response to it."""
        key = id(pump.prescription)
        if key == world.reference_key:
            return
        world.reference_key = key
        dose = self._prescribed_dose(pump)
        # A stop or the keep-open minimum rate (a low battery reset) keeps the reference:
        # that is how withdrawal shows.
        if dose > 0 and pump.prescription.mode in (Mode.SIMPLE, Mode.FLEX):
            world.patient.set_reference_dose(dose)
        if dose == world.dose_ug_per_day:
            return  # the same dose again (a refill keeps the dose)
        at_s = float(world.patient.t_s)
        from_dose = world.dose_ug_per_day
        if world.changes and world.changes[-1].at_s == at_s:
            # Steps at one instant (a refill at a new concentration, then the prescription
            # for it) are one change, or none if they end where they began.
            from_dose = Fraction(world.changes.pop().from_ug_per_day)
            world.dose_ug_per_day = from_dose
        if abs(dose - from_dose) <= RESPONSE_CHANGE_MIN * from_dose:
            return  # measured from the last change remembered, so small steps add up
        world.dose_ug_per_day = dose
        milestones = world.patient.response_milestones(dose)
        per_ml = 1_000 / world.patient.params.csf_volume_ml  # mcg in the CSF -> ng/mL
        world.changes.append(
            ResponseChange(
                at_s=at_s,
                from_ug_per_day=float(from_dose),
                to_ug_per_day=float(dose),
                start_response_ng_per_ml=milestones.start_response_ug * per_ml,
                final_response_ng_per_ml=milestones.final_response_ug * per_ml,
                onset_at_s=None
                if milestones.onset_after_s is None
                else at_s + milestones.onset_after_s,
                full_effect_at_s=None
                if milestones.full_effect_after_s is None
                else at_s + milestones.full_effect_after_s,
            )
        )
        del world.changes[:-RESPONSE_CHANGES_KEPT]

    @staticmethod
    def _follow_fill(pump: Pump, world: _World) -> None:
        """A refill since the last call: it emptied the reservoir (really), then filled it,
        or, with a pocket fill armed, put the drug into the pocket (the pump counts it)."""
        added_nl = pump.total_filled_nl - world.filled_nl
        world.filled_nl = pump.total_filled_nl
        if added_nl <= 0:
            return
        world.missing_nl = 0
        if world.pocket_armed:
            world.pocket_armed = False
            world.missing_nl = pump.reservoir_nl
            world.pocket_nl += added_nl

    def arm_pocket_fill(self) -> None:
        """World fault: the next refill's drug goes into the subcutaneous pocket, never the
        reservoir; the pump believes it was filled, the catheter gets nothing from it."""
        with self.virtual.lock:
            self.virtual.advance()
            self._world.pocket_armed = True

    def _fire_world_events(self, pump: Pump) -> None:
        end = self._mri_end
        if end is not None and pump.t >= end.at_t:
            self._mri_end = None
            pump.mri_leave(
                pump.t,
                recovery_delay_s=end.recovery_delay_s,
                telemetry_trap=end.telemetry_trap,
                recovery_logged_at_second_interrogation=end.recovery_logged_at_second_interrogation,
            )

    @property
    def _mri_rng(self) -> random.Random:
        if self._mri_rng_made is None:
            self._mri_rng_made = random.Random(f"vpump/mri/{self._seed}")
        return self._mri_rng_made

    @property
    def _mri_end(self) -> ScheduledMriEnd | None:
        return self._mri_end_value

    @_mri_end.setter
    def _mri_end(self, end: ScheduledMriEnd | None) -> None:
        self._mri_end_value = end
        self.world_events_changed()

    def world_events_changed(self) -> None:
        """Tell the emulator that :attr:`next_world_event_t` may have changed. Every source
        of world events (the MRI exposure's end; others to come) calls it when it schedules
        or drops an event; the emulator then watches this pump until the property says None."""
        if self.on_world_events_changed is not None:
            self.on_world_events_changed(self)

    def schedule_mri_end(self, end: ScheduledMriEnd) -> None:
        """Restore an exposure's scheduled end (a resumed pump still in the field); an end
        for a pump not in a field is dropped."""
        with self.virtual.lock:
            state = self.pump.mri
            self._mri_end = end if state is not None and state.in_field else None

    @property
    def next_world_event_t(self) -> int | None:
        """Model second of the next scheduled world event (an MRI exposure's end), if any.
        A new kind of world event adds its time here (the earliest wins), fires in
        :meth:`_fire_world_events` (and in the guards of :meth:`_advance_world` that skip both
        when no MRI end is scheduled), and calls :meth:`world_events_changed` when scheduled."""
        return None if self._mri_end is None else self._mri_end.at_t

    # -- MRI exposures (world events; every time is pump time) -------------------------------

    def mri_start(self) -> dict[str, Any]:
        """The pump enters the scanner's field now: the rotor stops (MOTOR_STALL, logged,
        critical alarm) until :meth:`mri_end` (or the end scheduled by :meth:`mri_for`)."""
        with self.virtual.lock:
            self.virtual.advance()
            pump = self.pump
            try:
                pump.mri_enter(pump.t)
            except FirmwareError as exc:
                raise MriControlError(f"mri start refused: {exc}") from exc
            return self.mri_state() or {}

    def mri_end(self, exit_: MriExit | None = None) -> dict[str, Any]:
        """The pump leaves the field now (a scheduled end is dropped: this one replaces it),
        with the recovery delay, trap and logging ``exit_`` asks for (ranges and the coin
        drawn now, seeded)."""
        exit_ = exit_ or MriExit()
        with self.virtual.lock:
            self.virtual.advance()
            pump = self.pump
            state = pump.mri
            if state is None or not state.in_field:
                raise MriControlError("mri end refused: the pump is not in an MRI field")
            drawn = exit_.draw(self._mri_rng)
            self._mri_end = None
            pump.mri_leave(
                pump.t,
                recovery_delay_s=drawn.recovery_delay_s,
                telemetry_trap=drawn.telemetry_trap,
                recovery_logged_at_second_interrogation=drawn.recovery_logged_at_second_interrogation,
            )
            result = self.mri_state() or {}
            result["exit"] = {
                k: v
                for k, v in drawn.as_dict().items()
                if k != "ends_at_clock_s"  # it ended now
            }
            return result

    def mri_for(self, duration_s: int, exit_: MriExit | None = None) -> dict[str, Any]:
        """An exposure of ``duration_s`` pump seconds starting now: the end is a world event
        applied on its exact second, whatever the clock's speed."""
        if type(duration_s) is not int or duration_s < 1:
            raise MriControlError(f"an exposure lasts whole seconds >= 1, got {duration_s!r}")
        exit_ = exit_ or MriExit()
        with self.virtual.lock:
            self.virtual.advance()
            pump = self.pump
            if pump.t + duration_s > pump.max_t:
                raise MriControlError(
                    f"mri refused: an exposure of {duration_s} s would end past the pump "
                    "clock's ceiling"
                )
            try:
                pump.mri_enter(pump.t)
            except FirmwareError as exc:
                raise MriControlError(f"mri refused: {exc}") from exc
            drawn = exit_.draw(self._mri_rng)
            self._mri_end = ScheduledMriEnd(
                at_t=pump.t + duration_s,
                recovery_delay_s=drawn.recovery_delay_s,
                telemetry_trap=drawn.telemetry_trap,
                recovery_logged_at_second_interrogation=drawn.recovery_logged_at_second_interrogation,
            )
            return self.mri_state() or {}

    def mri_state(self) -> dict[str, Any] | None:
        """The exposure in progress, or whose recovery is not yet logged, as pump-clock
        seconds (None: none); with its scheduled end, if any (call under the lock)."""
        pump = self.pump
        state = pump.mri
        end = self._mri_end
        if state is None and end is None:
            return None
        offset = pump.clock(pump.t) - pump.t
        result: dict[str, Any] = {}
        if state is not None:
            result.update(
                {
                    "since_clock_s": state.since_t + offset,
                    "in_field": state.in_field,
                    "resume_at_clock_s": (
                        None if state.resume_at_t is None else state.resume_at_t + offset
                    ),
                    "telemetry_mode": state.trapped,
                    "recovery_logged_at_second_interrogation": state.log_at_second_interrogation,
                    "interrogations_since_scan": state.interrogations,
                    "recovered_at_clock_s": (
                        None if state.recovered_t is None else state.recovered_t + offset
                    ),
                    "stalled": state.stalled(pump.t),
                }
            )
        result["scheduled_end"] = None if end is None else end.as_dict(offset)
        return result

    @property
    def pump(self) -> Pump:
        return self.virtual.pump

    def patient_hours(self, first_clock_s: int, last_clock_s: int) -> list[tuple[int, Fraction]]:
        """(hour start, mcg that reached the patient) for each whole pump-clock hour from the
        one holding ``first_clock_s`` to the last one ended by ``last_clock_s`` (the true
        catheter's output; the pump is brought up to now first)."""
        with self.virtual.lock:
            self.virtual.advance()
            return self._world.ledger.hours(first_clock_s, last_clock_s)

    def reservoir_now(self) -> tuple[int, int, int]:
        """(pump clock s, the pump's estimated reservoir nL, the true reservoir nL) now: what
        a plot samples, without building the whole :meth:`state`."""
        with self.virtual.lock:
            self.virtual.advance()
            pump = self.pump
            return (
                pump.clock(pump.t),
                pump.estimated_reservoir_nl,
                pump.reservoir_nl - self._world.missing_nl,
            )

    def patient_last_hour_ug(self) -> Fraction:
        """Drug that reached the patient in the last whole pump-clock hour, mcg."""
        with self.virtual.lock:
            self.virtual.advance()
            return self._world.ledger.last_hour_ug(self.pump.clock(self.pump.t))

    def release_state_file(self) -> None:
        """Give back the lock on the state file, if any (after the last save)."""
        if self._saver is not None:
            self._saver.state_file.release()

    def persist_to(self, state_file: StateFile, *, periodic_s: float = 5.0) -> None:
        """Keep ``state_file`` current: saved after every command that changed the pump and
        before its answer (so an acknowledged command is always on disk), after every
        control, and every ``periodic_s`` wall seconds (time passing and session events need
        no save before an answer). A command whose save fails is undone and refused with
        STORAGE_FAILED, with one line on stderr."""
        self._saver = Saver(state_file, min_interval_s=periodic_s, clock=self.virtual.wall)
        self._saved_image = b""
        self.virtual.telemetry.make_durable = self._save_before_answer

    def _save_before_answer(self) -> None:
        try:
            self.save_if_changed()
        except StateFileError as exc:
            print(
                f"vpump: pump {self.index} ({self.setup.serial}): {exc}; "
                "the change was undone (a command is refused with STORAGE_FAILED; an "
                "interrogation leaves the pump as stored)",
                file=sys.stderr,
                flush=True,
            )
            raise StorageError(
                "the pump could not store the change (non-volatile memory failed); "
                "nothing was changed"
            ) from exc

    def save_if_changed(self) -> None:
        """Save the pump's image if it differs from the last one saved (under the pump lock)."""
        if self._saver is None:
            return
        with self.virtual.lock:
            stored = self._stored(self.pump.to_bytes())
            # The clock's speed is saved too: a pause changes what a restart does.
            key = stored.pump_image + repr(stored.clock_speed).encode()
            if key == self._saved_image:
                return
            self._saver.save_now(stored)
            self._saved_image = key

    def maybe_save(self) -> None:
        """The periodic save (from the server's tick)."""
        if self._saver is not None and self._saver.due():
            self.save_if_changed()

    def _stored(self, image: bytes) -> StoredState:
        snapshot = self.virtual.clock.snapshot()
        running = str(snapshot.mode) in ("real", "scaled")
        return StoredState(
            pump_image=image,
            pump_t=self.pump.t,
            saved_wall_s=time.time(),
            clock_speed=snapshot.speed if running else 0.0,
            extra={
                "catheter_length_cm": self.catheter_length_cm,
                "serial": self.setup.serial,
                **({} if self._mri_end is None else self._mri_end.to_extra()),
            },
        )

    def capture_to(self, sink: ChunkSink) -> None:
        """Record every byte of every link opened from now on, as the pump saw it (after the
        link's faults), with wall and pump times. ``sink`` is a :class:`CaptureWriter` (a
        file) or a :class:`~emulator.capture.RingCapture` (in memory); several may be added."""
        self._sinks.append(sink)

    def endpoint_factory(self, transport: str | None = None) -> EndpointFactory:
        """Links to this pump pass through its link faults and the captures added so far or
        later (each link is labelled ``pumpINDEX#N``, or ``pumpINDEX/TRANSPORT#N`` when the
        transport is named, N counting links from 1)."""
        kind = f"/{transport}" if transport else ""

        def make() -> Endpoint:
            endpoint: Endpoint = self.virtual.endpoint()
            if self._sinks:
                from emulator.capture import CapturingEndpoint  # noqa: PLC0415 - when capturing

                label = f"pump{self.index}{kind}#{next(self._link_numbers)}"
                for sink in self._sinks:
                    endpoint = CapturingEndpoint(endpoint, sink, label)
            return endpoint

        return self.faults.wrap(make)

    def reset_world(self) -> None:
        """Rebuild the world (the true catheter, full of the drug in the pump, and the
        patient) around the current pump, e.g. after :attr:`catheter_length_cm` changed."""
        with self.virtual.lock:
            self._world = self._new_world(self.pump)

    def reset(self) -> None:
        """Back to the setup's starting state at the current pump time (links stay open)."""
        with self.virtual.lock:
            fresh = self.setup.build(t=self.virtual.clock.now())
            self.virtual.telemetry.pump = fresh
            self._world = self._new_world(fresh)
            self._mri_end = None
            self._mri_rng_made = None

    def state(self) -> dict[str, Any]:
        """The full true state, including what the pump does not tell the programmer."""
        # Lock order: a link's fault lock, then the pump's lock (an impaired link holds its
        # own lock while it hands bytes to the pump). So the link figures are read before
        # the pump's lock is taken, never under it.
        link = {
            "impairment": asdict(self.faults.settings),
            "counters": _jsonable(self.faults.counters()),
        }
        with self.virtual.lock:
            self.virtual.advance()
            pump = self.pump
            status = pump.status()
            world = self._world
            path = world.fluid.path
            assessment = world.patient.assess()
            last_hour = world.ledger.last_hour_ug(status.clock_s)
            implant = pump.implant
            status_fields = _jsonable(status)
            return {
                "index": self.index,
                "serial": self.setup.serial,
                "pump": {
                    **status_fields,
                    **{old: status_fields[new] for old, new in FORMER_STATE_KEYS.items()},
                    "true_reservoir_nl": pump.reservoir_nl - world.missing_nl,
                    "delivering_since_clock_s": pump.delivering_since_clock_s,
                    "mri": self.mri_state(),
                    "valve": {
                        "model": pump.profile.valve_model.name,
                        "closed_since_clock_s": pump.valve_closed_since_clock_s,
                    },
                    "bridging": pump.bridge is not None,
                    "implant": _jsonable(implant),
                    "drug_lot": pump.drug_lot,
                    "total_filled_nl": pump.total_filled_nl,
                    "total_delivered_nl": pump.total_delivered_nl,
                    "total_removed_nl": pump.total_removed_nl,
                    "alarms": [
                        {
                            "code": a.code.name,
                            "class": a.alarm_class.name,
                            "raised_at_clock_s": a.raised_at_clock_s,
                            "silenced": a.silenced,
                            "condition_present": pump.alarm_condition_present(a.code),
                        }
                        for a in pump.alarms()
                    ],
                },
                "fluid_path": {
                    "catheter_length_cm": self.catheter_length_cm,
                    "dead_volume_nl": path.dead_volume_nl,
                    "concentration_at_tip_ug_per_ml": path.concentration_at_tip,
                    "delivered_to_patient_ug": float(path.delivered_to_patient_ug),
                    "last_hour_to_patient_ug": float(last_hour),
                    "patient_rate_ug_per_day": float(last_hour * 24),
                    "pocket_nl": world.pocket_nl,
                    "pocket_fill_armed": world.pocket_armed,
                    "segments": [
                        {
                            "volume_nl": s.volume_nl,
                            "concentration_ug_per_ml": s.concentration_ug_per_ml,
                        }
                        for s in path.contents()
                    ],
                },
                "patient": {
                    "level_ng_per_ml": assessment.level_ng_per_ml,
                    "response_ng_per_ml": assessment.response_ng_per_ml,
                    "tone": assessment.tone,
                    "reference_ng_per_ml": assessment.reference_ng_per_ml,
                    "state": str(assessment.state),
                    "since_s": assessment.since_s,
                    "half_life_s": self.patient_params.half_life_s,
                    "changes": [asdict(change) for change in world.changes],
                },
                "link": link,
            }


FORMER_STATE_KEYS = {
    "bolus_end_clock_s": "bolus_ends_at_s",
    "reservoir_capacity_nl": "capacity_nl",
    "active_alarms": "alarms_active",
}
"""Keys of ``state()["pump"]`` renamed to the wire's name (the old key -> the current one);
the old keys are still given, with the same values, for scripts written before."""


def _jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: a dataclass as the dict of its fields (what
    ``asdict`` gives, in one pass), sequences as lists, enums by name, Fractions as floats."""
    kind = type(value)
    if kind is int or kind is str or kind is float or kind is bool or value is None:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None and is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, Fraction):
        return float(value)
    return value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""Field names of the dataclasses :func:`_jsonable` has met."""
