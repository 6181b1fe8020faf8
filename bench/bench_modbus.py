"""STATUS over a pty, side by side with the raw echo floor and with pymodbus.

Three servers, each in its own process on its own pty pair, holding the pty
master as ``pump-emulator serve`` does: the raw echo (the floor), the emulator
serving the demo pump, and a pymodbus 3.16 RTU serial server answering a read
of 52 holding registers (a 109-byte answer, the size of the 108-byte STATUS
answer). The programmer side reads each through its own client: ``PumpClient``
(a clinician session: MAC, SEQ, forecast), pymodbus's ``ModbusSerialClient``
and its ``AsyncModbusSerialClient`` (each on a server of its own: they lock
their port), and pyserial for the echo. All four are
timed block by block in rotation (:func:`bench.ptyfloor.interleave`).

pyserial cannot open a pty master by path, so the Modbus server's process
registers a ``ptymaster://FD`` URL whose port adopts the master descriptor;
everything above the descriptor is pymodbus's own serial transport.
``python -m bench.bench_modbus`` runs that server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import tty
import types

import serial
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, ModbusSerialClient
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from bench.metric import Metric
from bench.ptyfloor import (
    Contender,
    ServerProcess,
    Timing,
    interleave,
    pinned,
    pty_echo_client,
    timed_rounds,
)
from protocol import messages as m
from protocol.client import PumpClient
from protocol.enums import Role
from protocol.keys import DEMO_KEY_FILE, load_keys

REGISTERS = 52
"""Holding registers read per request: an RTU answer of 5 + 2 x 52 = 109 bytes."""
BAUD = 115200
BLOCKS = 10
ROUNDS_PER_BLOCK = 100


class _MasterSerial(serial.Serial):
    """A pyserial POSIX port on a descriptor we already hold (``ptymaster://FD``)."""

    def open(self) -> None:
        self.fd = int(str(self.portstr).split("://", 1)[1])
        self.pipe_abort_read_r, self.pipe_abort_read_w = os.pipe()
        self.pipe_abort_write_r, self.pipe_abort_write_w = os.pipe()
        self.is_open = True

    def _reconfigure_port(self, force_update: bool = False) -> None:
        """The slave side was made raw when the pty was opened; nothing to set on a master."""


def _register_ptymaster() -> None:
    """Make ``serial.serial_for_url("ptymaster://FD")`` return a :class:`_MasterSerial`."""
    handler = types.ModuleType("bench.protocol_ptymaster")
    handler.Serial = _MasterSerial  # type: ignore[attr-defined]
    sys.modules[handler.__name__] = handler
    if "bench" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("bench")


def serve_modbus() -> None:
    """A pymodbus RTU server on a pty master, until SIGTERM; prints its ready line first."""
    pinned(1)
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    _register_ptymaster()
    device = SimDevice(
        id=1,
        simdata=[SimData(address=0, count=REGISTERS, values=0x1234, datatype=DataType.REGISTERS)],
    )

    async def main() -> None:
        server = ModbusSerialServer(
            device, framer=FramerType.RTU, port=f"ptymaster://{master}", baudrate=BAUD
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(server.shutdown()))  # type: ignore[no-untyped-call]
        # The pty exists already: what the client writes waits in the kernel until we listen.
        print(json.dumps({"event": "ready", "pty": os.ttyname(slave)}), flush=True)
        await server.serve_forever()

    asyncio.run(main())


def _modbus_sync(path: str) -> tuple[ModbusSerialClient, Contender]:
    client = ModbusSerialClient(path, framer=FramerType.RTU, baudrate=BAUD, timeout=2)
    if not client.connect():
        raise RuntimeError(f"pymodbus could not open {path}")

    def read() -> None:
        answer = client.read_holding_registers(0, count=REGISTERS, device_id=1)
        if answer.isError() or len(answer.registers) != REGISTERS:
            raise RuntimeError(f"Modbus read failed: {answer}")

    return client, timed_rounds(read)


def _modbus_async(
    path: str,
) -> tuple[AsyncModbusSerialClient, asyncio.AbstractEventLoop, Contender]:
    async def connect() -> AsyncModbusSerialClient:
        # pymodbus binds the client to the loop running when it is made.
        client = AsyncModbusSerialClient(path, framer=FramerType.RTU, baudrate=BAUD, timeout=2)
        if not await client.connect():
            raise RuntimeError(f"pymodbus (async) could not open {path}")
        return client

    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(connect())

    async def rounds(n: int) -> list[int]:
        samples = []
        for _ in range(n):
            started = time.perf_counter_ns()
            answer = await client.read_holding_registers(0, count=REGISTERS, device_id=1)
            samples.append(time.perf_counter_ns() - started)
            if answer.isError() or len(answer.registers) != REGISTERS:
                raise RuntimeError(f"Modbus read failed: {answer}")
        return samples

    def run(n: int) -> list[int]:
        return loop.run_until_complete(rounds(n))

    return client, loop, run


def measure() -> tuple[dict[str, Timing], int]:
    """Interleaved round trips of the four contenders; returns them and the STATUS size."""
    pinned(0)
    keys = load_keys(DEMO_KEY_FILE)
    with tempfile.TemporaryDirectory(prefix="vpump-modbus-") as tmp:
        emulator_args = ["-m", "emulator.cli", "serve", "--port", f"{tmp}/ttyPUMP0"]
        with (
            ServerProcess(["-m", "bench.ptyfloor"]) as echo_server,
            ServerProcess([*emulator_args, "--preset", "demo"]) as pump_server,
            # pymodbus's clients lock their port: one server (and pty) for each.
            ServerProcess(["-m", "bench.bench_modbus"]) as modbus_for_sync,
            ServerProcess(["-m", "bench.bench_modbus"]) as modbus_for_async,
            PumpClient(
                str(pump_server.ready["pty"]), key=keys[Role.CLINICIAN], timeout_s=2.0
            ) as pump,
        ):
            status = pump.status()
            answer_bytes = 9 + len(m.encode_payload(status)) + 16 + 2
            echo_port, echo = pty_echo_client(str(echo_server.ready["pty"]), answer_bytes)
            sync_client, sync = _modbus_sync(str(modbus_for_sync.ready["pty"]))
            async_client, loop, async_ = _modbus_async(str(modbus_for_async.ready["pty"]))
            try:
                timings = interleave(
                    {
                        "echo": echo,
                        "status": timed_rounds(pump.status),
                        "modbus sync": sync,
                        "modbus async": async_,
                    },
                    blocks=BLOCKS,
                    rounds_per_block=ROUNDS_PER_BLOCK,
                )
            finally:
                echo_port.close()
                sync_client.close()  # type: ignore[no-untyped-call]
                async_client.close()
                loop.run_until_complete(asyncio.sleep(0))
                loop.close()
    return timings, answer_bytes


def run() -> list[Metric]:
    """STATUS, pymodbus sync and async, each beside the echo floor; STATUS beside pymodbus."""
    t, answer_bytes = measure()
    echo = f"raw pty echo of {answer_bytes} B via pyserial, server in its own process"
    regs = f"{REGISTERS} holding registers"
    metrics: list[Metric] = []
    for stat in ("median", "p99"):

        def us(name: str, stat: str = stat) -> float:
            timing = t[name]
            return (timing.median_s if stat == "median" else timing.p99_s) * 1e6

        metrics += [
            Metric(
                name=f"STATUS over pty (serve process), {stat}",
                value=us("status"),
                unit="us",
                floor_name=f"{echo}, {stat}",
                floor_value=us("echo"),
                floor_unit="us",
                target="at most 5x the echo",
                detail=f"STATUS {t['status'].spread}; echo {t['echo'].spread}",
            ),
            Metric(
                name=f"pymodbus sync client, {stat}",
                value=us("modbus sync"),
                unit="us",
                floor_name=f"{echo}, {stat}",
                floor_value=us("echo"),
                floor_unit="us",
                target=f"none: the peer a developer would pick ({regs})",
                detail=t["modbus sync"].spread,
            ),
            Metric(
                name=f"pymodbus async client, {stat}",
                value=us("modbus async"),
                unit="us",
                floor_name=f"{echo}, {stat}",
                floor_value=us("echo"),
                floor_unit="us",
                target=f"none: the peer a developer would pick ({regs})",
                detail=t["modbus async"].spread,
            ),
            Metric(
                name=f"STATUS beside pymodbus sync, {stat}",
                value=us("status"),
                unit="us",
                floor_name=f"pymodbus sync client reading {regs} over a pty, {stat}",
                floor_value=us("modbus sync"),
                floor_unit="us",
                target="below 1x: a full session costs less than the Modbus peer",
            ),
            Metric(
                name=f"STATUS beside pymodbus async, {stat}",
                value=us("status"),
                unit="us",
                floor_name=f"pymodbus async client reading {regs} over a pty, {stat}",
                floor_value=us("modbus async"),
                floor_unit="us",
                target="below 1x: a full session costs less than the Modbus peer",
            ),
        ]
    return metrics


if __name__ == "__main__":
    serve_modbus()
