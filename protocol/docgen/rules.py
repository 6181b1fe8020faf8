"""The therapy rules section: what each command may be refused with (:data:`COMMAND_NAKS`,
checked against the pump by a test) and the transitions of the pump's state."""

from __future__ import annotations

from protocol.docgen.markdown import join_parts, table
from protocol.enums import (
    ErrorCode,
    Op,
)
from protocol.messages import (
    REGISTRY,
)

_SESSION_NAKS = (
    "MALFORMED, NO_SESSION, SESSION_EXPIRED, SESSION_DISPLACED, BAD_MAC, REPLAY, FORBIDDEN, "
    "LOCKED_OUT; a request that changes the pump also STORAGE_FAILED (the change could not be "
    "made durable, so it was not made)"
)

COMMAND_NAKS: dict[Op, tuple[ErrorCode, ...]] = {
    Op.STAGE_PRESCRIPTION: (ErrorCode.CONCENTRATION_MISMATCH, ErrorCode.OUT_OF_RANGE),
    Op.COMMIT_PRESCRIPTION: (
        ErrorCode.INVALID_STATE,
        ErrorCode.CHECKSUM_MISMATCH,
        ErrorCode.CONCENTRATION_MISMATCH,
        ErrorCode.OUT_OF_RANGE,
    ),
    Op.START_BOLUS: (ErrorCode.PUMP_HALTED, ErrorCode.INVALID_STATE, ErrorCode.OUT_OF_RANGE),
    Op.CANCEL_BOLUS: (ErrorCode.INVALID_STATE,),
    Op.STOP_PUMP: (ErrorCode.INVALID_STATE,),
    Op.RESUME_PUMP: (ErrorCode.INVALID_STATE,),
    Op.CANCEL_BRIDGE: (ErrorCode.INVALID_STATE,),
    Op.RESET_VALVE: (ErrorCode.INVALID_STATE,),
    Op.STAGE_REFILL: (
        ErrorCode.OUT_OF_RANGE,
        ErrorCode.CONCENTRATION_MISMATCH,
        ErrorCode.INVALID_STATE,
        ErrorCode.OVERFILL,
    ),
    Op.COMMIT_REFILL: (
        ErrorCode.INVALID_STATE,
        ErrorCode.CHECKSUM_MISMATCH,
        ErrorCode.OUT_OF_RANGE,
    ),
    Op.SET_ALARM_VOLUME: (ErrorCode.OUT_OF_RANGE,),
    Op.SILENCE_ALARM: (ErrorCode.INVALID_STATE,),
    Op.CLEAR_ALARM: (ErrorCode.INVALID_STATE, ErrorCode.CONDITION_PERSISTS),
    Op.SET_CLOCK: (ErrorCode.OUT_OF_RANGE,),
    Op.SET_PATIENT_SETTINGS: (ErrorCode.OUT_OF_RANGE,),
    Op.PATIENT_DOSE: (
        ErrorCode.NOT_ENABLED,
        ErrorCode.PUMP_HALTED,
        ErrorCode.INVALID_STATE,
        ErrorCode.PATIENT_DOSE_LOCKOUT,
        ErrorCode.PATIENT_DOSE_LIMIT,
        ErrorCode.OUT_OF_RANGE,
    ),
}
"""The refusals each command can get from the pump itself, beyond the session's (tested
against the pump in tests/protocol/test_documented_refusals.py)."""


def _nak_table() -> str:
    rows = []
    for op in REGISTRY:
        if op in (Op.NAK, Op.DEVICE_INFO, Op.SESSION_OPEN, Op.SESSION_AUTH):
            continue
        own = ", ".join(code.name for code in COMMAND_NAKS.get(op, ())) or "none"
        rows.append([op.name, own])
    return table(["request", "refusals from the pump (besides the session's)"], rows)


def therapy_section() -> str:
    transitions = [
        ["running (SIMPLE, FLEX, MINIMUM_RATE)", "STOP_PUMP", "STOPPED (stop_reason set)"],
        ["STOPPED by STOP_PUMP", "RESUME_PUMP", "the mode that was running"],
        [
            "STOPPED by STOP_PUMP",
            "COMMIT_PRESCRIPTION",
            "still STOPPED (the new one runs on RESUME_PUMP)",
        ],
        ["running", "COMMIT_PRESCRIPTION of STOPPED", "STOPPED (stop_reason NONE)"],
        ["STOPPED prescription", "COMMIT_PRESCRIPTION of another mode", "that mode"],
        ["STOPPED prescription", "RESUME_PUMP", "refused: INVALID_STATE"],
        ["any", "STOP_PUMP while STOPPED", "refused: INVALID_STATE"],
        [
            "any (a STOP_PUMP included)",
            "low battery reset (a fault)",
            "MINIMUM_RATE, LOW_BATTERY_RESET raised until a prescription is committed",
        ],
    ]
    return join_parts(
        [
            "## Therapy rules",
            "### Doses, drug and rates",
            "* A prescription is a **dose of the drug in the pump**: doses in ng/day "
            "(shown as mcg/day), and the concentration it is for. STAGE_PRESCRIPTION and "
            "COMMIT_PRESCRIPTION refuse a prescription naming another concentration than "
            "the drug in the reservoir with CONCENTRATION_MISMATCH; so a dose is never run "
            "at the wrong strength.",
            "* The pump runs a dose as the volume rate `round(dose_ng_per_day * 1000 / "
            "concentration_ug_per_ml)` nL/day (to the nearest nL/day, halves up); a bolus "
            "or patient dose of `dose_ng` is `round(dose_ng * 1000 / concentration)` nL. "
            "Every rate must lie within DEVICE_INFO's `min_rate_nl_per_day` .. "
            "`max_rate_nl_per_day` (OUT_OF_RANGE names the step and the rate). "
            "MINIMUM_RATE runs `minimum_mode_rate_nl_per_day` whatever the drug.",
            "* Flex steps follow the pump clock's UTC time of day; weekday 0 is Monday. "
            "Steps start on multiples of 15 min, at most 13 a day.",
            "* Basal volume is integrated exactly: at `r` nL/day the volume commanded "
            "from `t0` is `floor((basal_remainder + r * (t - t0)) / 86400)` nL, the "
            "remainder carrying over rate changes (STATUS reports it). A bolus of `V` nL "
            "over `D` s has delivered `floor(V * e / D)` nL after `e` s and replaces the "
            "basal rate while it runs.",
            "### Stopped, delivering, halted",
            "* STATUS `mode` is STOPPED while the clinician has stopped therapy: "
            "STOP_PUMP (then `stop_reason` says why) or a committed STOPPED prescription "
            "(`stop_reason` NONE). `delivering` is 1 only while drug moves: never while "
            "STOPPED, and 0 while a fault halts delivery, each fault in `halted_by` "
            "(EMPTY_RESERVOIR, EOS, MOTOR_STALL, MEMORY_CRITICAL). A fault ends by itself "
            "(a refill, a motor that turns again) or by CLEAR_ALARM (memory errors) and "
            "delivery resumes without any change of mode. Stopping or a halt cancels a "
            "running bolus.",
            table(["from", "event", "to"], transitions),
            "### Boluses",
            "* THERAPEUTIC: a dose of `V` nL over a duration from the first whole second "
            "that runs below the maximum rate, `floor(V * 86400 / max_rate_nl_per_day) + "
            "1` s, to `max_bolus_duration_s` (OUT_OF_RANGE on `duration_s` outside); "
            "PRIMING: a volume at the maximum rate, `ceil(V * 86400 / "
            "max_rate_nl_per_day)` s exactly, the only bolus that runs there (drug and "
            "catheter fluid mix at that rate). "
            "Refused while stopped, halted (PUMP_HALTED), with a bolus running, or when "
            "the reservoir cannot deliver the volume before its empty threshold. The "
            "basal schedule resumes when a bolus ends.",
            "* Patient doses (PATIENT_DOSE): at least `lockout_s` after the last grant "
            "and at most `max_per_24h` in any trailing 24 h. The lockout and the 24 h run "
            "on the pump's model time (setting its clock cannot shorten them); boluses "
            "too run on pump time.",
            "* SET_PATIENT_SETTINGS with `enabled` 1 checks a dose as a bolus at the "
            "concentration in force: its volume between `min_bolus_volume_nl` and "
            "`max_patient_dose_volume_nl`, its duration from the first whole second below "
            "the maximum rate (as a THERAPEUTIC bolus) to `max_bolus_duration_s`; "
            "`lockout_s` within LIMITS and at least "
            "`duration_s` (a dose ends before the next may start, so doses never "
            "overlap); `max_per_24h` from 1 to `max_patient_doses_per_24h`. Anything else "
            "is OUT_OF_RANGE. Settings with `enabled` 0 are stored as sent, unchecked.",
            "### Refill: one transaction",
            "* STAGE_REFILL carries everything: what was drawn out (the reservoir is "
            "emptied completely), what was added and its concentration and lot, the "
            "prescription to run on the new drug (it must name the new concentration: "
            "else CONCENTRATION_MISMATCH) and `bridge`. It checks all of it and changes "
            "nothing; its response gives the checksum, `zlib.crc32` of the request's "
            "payload. COMMIT_REFILL with that checksum applies all of it in one step: "
            "there is never a moment where the old rate runs on the new drug. To keep the "
            "dose, send the current prescription with the new concentration. A refill "
            "that changes the concentration while a bridge runs is refused "
            "(INVALID_STATE), and so is `bridge` 1 without a change or without an "
            "implant record. A staged refill or prescription dies with its session.",
            "* The refill empties the reservoir completely (the needle draws out all that is "
            "left): afterwards it holds exactly `added_nl`, and OVERFILL refuses `added_nl` "
            "over the capacity. `discrepancy_nl` = removed - expected; it is flagged over "
            "1 mL (20 mL model) or 2 mL (40 mL model): less than expected may mean "
            "over-delivery or a pocket fill, more a stall or under-delivery. The refill clears "
            "LOW_RESERVOIR and EMPTY_RESERVOIR by itself when the new volume is above "
            "their thresholds.",
            "### The bridge",
            "* After a refill that changes the concentration, the tubing and catheter "
            "still hold the old drug. With `bridge` 1 the pump runs the NEW prescription "
            "(its doses, boluses and patient doses in mcg) computed at the OLD "
            "concentration (STATUS `bridge_concentration_ug_per_ml`) until the volume "
            "commanded since the refill reaches the dead volume; from that second on, "
            "rates use the new concentration, just as the new drug reaches the catheter "
            "tip. A dose bolus running at that second delivers the rest of its dose as "
            "new drug over the time it had left. The patient receives the prescribed "
            "mcg throughout. It is never a push at the maximum rate.",
            "* Dead volume = `tubing_volume_nl` (DEVICE_INFO) + catheter length x "
            "`catheter_volume_nl_per_cm` of the implant record, using length - "
            "uncertainty when the concentration rises and length + uncertainty when it "
            "falls (both err towards underdose), rounded up to whole nL.",
            "* STATUS `bridge_remaining_nl` is the volume still to go and "
            "`bridge_ends_at_s` its forecast end, recomputed after any extra delivery "
            "(a bolus, a patient dose) and, like every forecast, assuming patient doses "
            "taken at their maximum (so with patient doses enabled it is the earliest "
            "end). The bridge ends on the first whole second the dead volume is reached. "
            "CANCEL_BRIDGE ends it at once. BRIDGE_STARTED, "
            "BRIDGE_ENDED and BRIDGE_CANCELLED are logged. For a simple dose the bridge "
            "lasts dead volume x old concentration / new dose: 0.33 mL of 500 mcg/mL at "
            "100 mcg/day is 142,560 s (1.65 days).",
            "### Implant record",
            "* SET_IMPLANT stores the clinician's record of the implant (catheter model, "
            "its volume per cm, length and uncertainty, implant date, patient identifier, "
            "origin of the spasticity, physician); READ_IMPLANT returns it with the drug "
            "in the pump (concentration, lot, last refill). Bridge volumes come from it. "
            "It is the clinician's record: an emulator may model a different true "
            "catheter. `catheter_length_uncertainty_mm` must be below "
            "`catheter_length_mm` (the lower bound is a length), else MALFORMED.",
            "### The clock",
            "* The pump's clock is an unsigned 32-bit count of Unix seconds: SET_CLOCK "
            "takes `clock_s` from 0 to 4,294,967,295 (2^32 - 1) and a change from the "
            "clock it replaces of -2,147,483,648 to 2,147,483,647 s (the CLOCK_SET entry's "
            "`delta_s` is an i32); anything else is OUT_OF_RANGE. The dates move with it; "
            "the therapy timers (bolus durations, the patient-dose lockout and 24 h count) "
            "run on the pump's model time and do not.",
            "### Forecasts",
            "* Every `*_at_s` in STATUS is pump clock. `low_reservoir_alarm_at_s` is the "
            "first second the reservoir estimate reaches `alarm_volume_nl`, `empty_at_s` "
            "the empty threshold, integrated over the real plan: the running bolus, the "
            "flex steps, the bridge and its switch, and patient doses assumed taken at "
            "their maximum (each as soon as the lockout and the 24 h maximum allow, from "
            "now, counting `recent_doses`). `eri_at_s` is the first second the battery "
            "charge falls below `ceil(eri_lead_s x mean drain)`, the mean drain being "
            "the quiescent drain plus the prescription's weekly mean volume (at the drug "
            "in the reservoir) x `battery_drain_uc_per_nl`, as if the reservoir were "
            "refilled in time (the forecast keeps that drain past `empty_at_s`); the "
            "charge drops by "
            "`battery_quiescent_drain_uc_per_s` every second and `battery_drain_uc_per_nl` "
            "per nL commanded, and by `battery_telemetry_drain_uc_per_s` x "
            "`telemetry_s_per_frame` for each frame the pump answers (charged before the "
            "answer, so a STATUS includes its own cost). A forecast beyond "
            "`forecast_horizon_s` is 0 (none); one already reached is the STATUS's "
            "`clock_s`. While delivery is stopped or halted nothing moves, so the "
            "low-reservoir, empty and bridge-end forecasts are 0 (none) until it resumes, "
            "and the ERI date counts the quiescent drain alone.",
            "* A programmer that runs this arithmetic on one STATUS (with READ_PRESCRIPTION "
            "for the checksum it reports, READ_PATIENT_SETTINGS and DEVICE_INFO) gets the "
            "same seconds; the reference implementation is `protocol.forecast."
            "dates_from_status`.",
            "### MRI and interrogations",
            "* In an MRI scanner's field the rotor of the default pump stops: STATUS shows "
            "MOTOR_STALL in `halted_by` and the alarm, `delivering` 0, and MOTOR_STALL is "
            "logged. Out of the field the motor may turn at once or after a recovery delay "
            "(pump time). If the pump went into telemetry mode, infusion waits for an "
            "interrogation: **every successful SESSION_AUTH (either role) is an "
            "interrogation** and ends that wait. STALL_RECOVERY (its `a` the stall's "
            "seconds) may be logged only at the second interrogation after the scan.",
            "* A valve pump (READ_VALVE, either role, names the model) has no rotor: the "
            "original valve model discharges its whole reservoir through the catheter at once"
            " on entering the field (it cannot tell: its reservoir estimate does not move), "
            "so it is emptied before an MRI; the flow-activated model lets about 10 uL "
            "through, closes (VALVE_CLOSED logged, `delivering` 0, no alarm) and delivers "
            "nothing until RESET_VALVE (VALVE_RESET logged with the seconds it was closed); "
            "while it is closed START_BOLUS and PATIENT_DOSE are refused with INVALID_STATE "
            "(a refused patient dose is logged PATIENT_DOSE_REFUSED), and RESET_VALVE on an "
            "open valve or a pump without one is refused with INVALID_STATE.",
            "* READ_DELIVERY (either role) says whether drug moves, since which pump-clock "
            "second, and the last refill: with STATUS, what an emergency department needs "
            "from one interrogation.",
            "### Alarms that clear themselves",
            "* LOW_RESERVOIR, EMPTY_RESERVOIR, ERI, EOS, MOTOR_STALL (a stall recovery) "
            "and LOW_BATTERY_RESET (a committed prescription) clear themselves when their "
            "condition ends (logged ALARM_CLEARED); CLEAR_ALARM on them while the "
            "condition persists is refused with CONDITION_PERSISTS. Memory errors are "
            "latched until CLEAR_ALARM.",
            "### Refusals per request",
            f"Every request in a session can also get the session's refusals ({_SESSION_NAKS})"
            " and INTERNAL (a defect). A refusal changes nothing.",
            _nak_table(),
        ]
    )
