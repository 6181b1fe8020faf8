"""Issue 13, item 6: a large pipelined batch gets every answer (back-pressure, no drops)."""

from __future__ import annotations

import socket
import threading
import time

from emulator.emulator import Emulator
from protocol import messages as m
from protocol.codec import Deframer
from protocol.enums import Op
from protocol.frames import encode_frame
from protocol.session import build_frame
from tests.support import T0

BATCH = 5000


def test_five_thousand_pipelined_device_infos_are_all_answered() -> None:
    request = m.DeviceInfoRequest()
    frames = b"".join(
        encode_frame(
            build_frame(response=False, seq=seq, op=request.op, payload=m.encode_payload(request))
        )
        for seq in range(1, BATCH + 1)
    )
    with Emulator.single(manual_clock=True, start_pump_s=T0) as emu:
        transport = emu.serve_tcp(0, "127.0.0.1", 0)
        with socket.create_connection(transport.address, timeout=10) as sock:
            # The writer blocks while the pump holds back (that is the back-pressure).
            writer = threading.Thread(target=sock.sendall, args=(frames,), daemon=True)
            writer.start()
            time.sleep(0.2)  # let the answers pile up unread, past the 64 KiB bound
            assert transport.pending_bytes < 64 * 1024 + 16 * 1024 * 20
            deframer = Deframer()
            answers: list[int] = []
            deadline = time.monotonic() + 30
            while len(answers) < BATCH and time.monotonic() < deadline:
                answers += [
                    f.seq for f in deframer.feed(sock.recv(65536)) if f.op == Op.DEVICE_INFO
                ]
            writer.join(10)
        assert answers == list(range(1, BATCH + 1))  # every one, in order
