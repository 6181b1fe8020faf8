"""The educator's window, without Qt: what the window asks of the simulation, and the
decisions and calculations behind every figure it shows.

The educator's window (demo mode only) drives the emulated world: pump time and its
speed, injected faults, the true state the clinician's programmer cannot see (the
reservoir, the drug at the catheter tip, the patient's spinal-fluid level) and the
bytes on the wire. The GUI talks to all of it through :class:`EducatorBackend`, a
Protocol: ``programmer_gui.demo.educator_backend`` implements it over the emulator,
so nothing here (nor in the views and controllers) imports the emulator.

The package, one concern a module (everything is re-exported here):

* :mod:`.backend`: the :class:`EducatorBackend` Protocol, its errors, the wire feed, time
  and speed;
* :mod:`.facts`: what the backend reports (the pump's facts, faults, risk, tones, samples);
* :mod:`.lessons`: the fluid path, the bridge lesson and the scenarios;
* :mod:`.history`: the plot history;
* :mod:`.decoding`: the wire decoded for the inspector.

Helpers here:

* :class:`WireDecoder` turns the wire feed (chunks of bytes, each way) back into frames
  with :class:`protocol.codec.Deframer`, exactly as a receiver would, and describes
  each frame in one line plus its fields with units; bytes a receiver drops (link
  noise) become entries of their own with the reason.
* :func:`hex_layout` splits a frame's bytes into its fixed fields (SYNC ... CRC).
* :class:`SampleHistory` keeps the sampled true state and cuts the plot series from it.
* Clock and speed formatting, the auto plot window, the tone pattern in words and the
  fluid-path transit times and the three cases of the bridge lesson.
"""

from __future__ import annotations

from programmer_gui.core.educator.backend import (
    DAY_S,
    HOUR_S,
    MAX_SPEED_FACTOR,
    MAX_STEP_S,
    SPEED_FACTORS,
    EducatorBackend,
    EducatorError,
    EducatorPeerError,
    EducatorValueError,
    SpeedSetting,
    WireChunk,
    WireDirection,
    auto_window_s,
    describe_elapsed,
    format_pump_time,
)
from programmer_gui.core.educator.decoding import (
    ROUTINE_OPS,
    EntryKind,
    WireDecoder,
    WireEntry,
    describe_message,
    entry_details,
    hex_layout,
    hex_text,
    is_routine,
    message_fields,
    short_time,
    summarize_chunks,
)
from programmer_gui.core.educator.facts import (
    FaultState,
    PathSegment,
    PatientRisk,
    PumpFacts,
    TonePattern,
    TrueSample,
)
from programmer_gui.core.educator.history import (
    PlotSeries,
    SampleHistory,
)
from programmer_gui.core.educator.lessons import (
    BRIDGE,
    BRIDGE_BOLUS,
    BRIDGE_CASE_TITLES,
    LOW_RESERVOIR,
    MRI_WITH_CHECK,
    MRI_WITHOUT_CHECK,
    SCENARIOS,
    TITRATING_A_DOSE,
    BridgeCase,
    BridgeCaseKind,
    BridgeComparison,
    Scenario,
    bridge_lesson,
    low_reservoir_jump_s,
    transit_time_s,
)

__all__ = [
    "BRIDGE",
    "BRIDGE_BOLUS",
    "BRIDGE_CASE_TITLES",
    "DAY_S",
    "HOUR_S",
    "LOW_RESERVOIR",
    "MAX_SPEED_FACTOR",
    "MAX_STEP_S",
    "MRI_WITHOUT_CHECK",
    "MRI_WITH_CHECK",
    "ROUTINE_OPS",
    "SCENARIOS",
    "SPEED_FACTORS",
    "TITRATING_A_DOSE",
    "BridgeCase",
    "BridgeCaseKind",
    "BridgeComparison",
    "EducatorBackend",
    "EducatorError",
    "EducatorPeerError",
    "EducatorValueError",
    "EntryKind",
    "FaultState",
    "PathSegment",
    "PatientRisk",
    "PlotSeries",
    "PumpFacts",
    "SampleHistory",
    "Scenario",
    "SpeedSetting",
    "TonePattern",
    "TrueSample",
    "WireChunk",
    "WireDecoder",
    "WireDirection",
    "WireEntry",
    "auto_window_s",
    "bridge_lesson",
    "describe_elapsed",
    "describe_message",
    "entry_details",
    "format_pump_time",
    "hex_layout",
    "hex_text",
    "is_routine",
    "low_reservoir_jump_s",
    "message_fields",
    "short_time",
    "summarize_chunks",
    "transit_time_s",
]
