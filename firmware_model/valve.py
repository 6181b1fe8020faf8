"""What an MRI's field does to the two valve pump models (Prometra-like, domain.md).

A valve pump has no rotor for the field to stop. Instead:

* the original valve pump (:attr:`~protocol.enums.ValveModel.VALVE_DISCHARGE`): a strong
  field can open the inlet and outlet valves at once, and the pressurised reservoir
  discharges through the catheter into the patient in one instant (an overdose) unless
  it was emptied before the scan. The pump cannot tell: its reservoir estimate still
  counts only what it metered, so only the patient, and the next refill's reconciliation
  (less removed than expected), show it;
* the later valve pump (:attr:`~protocol.enums.ValveModel.VALVE_FLOW_ACTIVATED`): a
  flow-activated valve lets about 10 uL through (the profile's ``valve_flow_limit_nl``)
  and then closes, stopping all delivery until a clinician resets it (RESET_VALVE, or the
  emulator's ``valve-reset`` control); the pump logs VALVE_CLOSED and, at the reset,
  VALVE_RESET with the seconds it stayed closed (withdrawal risk instead).

Both are instantaneous and exact: the volume leaves the true reservoir (the books'
``filled == delivered + reservoir + removed`` still hold) at the second of entering the
field, whatever the clock's speed.
"""

from __future__ import annotations

from protocol.enums import ValveModel

__all__ = ["field_discharge_nl"]


def field_discharge_nl(valve: ValveModel, *, reservoir_nl: int, flow_limit_nl: int) -> int:
    """What leaves the reservoir, at once, when a valve pump enters a scanner's field:
    all of it (the original valve pump), at most ``flow_limit_nl`` (the flow-activated
    valve, which then closes), nothing (a motor-driven pump)."""
    if reservoir_nl < 0 or flow_limit_nl <= 0:
        raise ValueError(
            f"reservoir_nl >= 0 and flow_limit_nl > 0, got {reservoir_nl}, {flow_limit_nl}"
        )
    match valve:
        case ValveModel.VALVE_DISCHARGE:
            return reservoir_nl
        case ValveModel.VALVE_FLOW_ACTIVATED:
            return min(reservoir_nl, flow_limit_nl)
        case _:
            return 0
