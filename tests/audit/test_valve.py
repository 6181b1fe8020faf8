"""domain.md's later valve pump (Prometra-like, flow-activated valve) from the outside: in an
MRI field about 10 uL pass, then the valve closes and all delivery stops until it is reset.
A server of its own (``serve --pump-kind valve-flow-activated``, docs/emulator.md)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from tests.audit.docclient import (
    B_THERAPEUTIC,
    CLINICIAN,
    INVALID_STATE,
    READ_EVENT_LOG,
    READ_VALVE,
    RESET_VALVE,
    START_BOLUS,
    STATUS,
    Pump,
    Reader,
    decode_event_log,
    decode_status,
    nak_code,
    serve,
)

VALVE_FLOW_ACTIVATED = 2  # ValveModel
EV_VALVE_CLOSED, EV_VALVE_RESET = 30, 31  # EventCode


@pytest.fixture(scope="module")
def pump() -> Iterator[Pump]:
    with serve("--preset", "default", "--pump-kind", "valve-flow-activated") as served:
        yield served


def test_flow_activated_valve_closes_after_about_10_ul(pump: Pump) -> None:
    session = pump.session(CLINICIAN)
    try:
        assert session.request(READ_VALVE) == bytes([VALVE_FLOW_ACTIVATED, 0]) + bytes(8)
        assert nak_code(session, RESET_VALVE) == INVALID_STATE  # an open valve
        before = decode_status(session.request(STATUS))
        t0 = before["clock_s"]
        assert pump.control("mri", "start")["ok"]
        r = Reader(session.request(READ_VALVE))
        assert (r.u8(), r.bool(), r.u64()) == (VALVE_FLOW_ACTIVATED, True, t0)
        st = decode_status(session.request(STATUS))
        # no delivery and no alarm (domain.md: withdrawal risk, the pump does not sound)
        assert st["delivering"] == 0 and st["alarms_active"] == 0
        bolus = struct.pack(">BIII", B_THERAPEUTIC, 50_000, 0, 3_600)
        assert nak_code(session, START_BOLUS, bolus) == INVALID_STATE
        total = decode_event_log(session.request(READ_EVENT_LOG, struct.pack(">IB", 0, 1)))[0]
        first = max(0, total - 32)
        log = decode_event_log(session.request(READ_EVENT_LOG, struct.pack(">IB", first, 32)))[2]
        closed = [e for e in log if e["code"] == EV_VALVE_CLOSED]
        assert closed[-1]["a"] == 10_000  # about 10 uL = 10,000 nL let through
        pump.advance(2 * 3_600)
        assert pump.control("mri", "end")["ok"]
        st = decode_status(session.request(STATUS))
        assert st["delivering"] == 0  # still closed after the scan: the reset is needed
        assert session.request(RESET_VALVE) == struct.pack(">I", 7_200)  # closed for 2 h
        st = decode_status(session.request(STATUS))
        assert st["delivering"] == 1 and st["basal_rate_nl_per_day"] == 200_000
        log = decode_event_log(session.request(READ_EVENT_LOG, struct.pack(">IB", first, 32)))[2]
        assert [e["a"] for e in log if e["code"] == EV_VALVE_RESET][-1] == 7_200
    finally:
        session.link.close()
