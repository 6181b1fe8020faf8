"""Serve endpoints over RFC 2217 (Telnet COM port control), for pyserial's ``rfc2217://`` URLs.

Programmer software that insists on a COM port can reach a virtual pump
where no pty exists: pyserial's ``rfc2217://host:port`` client, or on
Windows a virtual COM port driver bridged to an RFC 2217 server (com0com
with hub4com, or a commercial "network serial port"), opens it like a
serial port. The Telnet and RFC 2217 side is pyserial's own server half,
:class:`serial.rfc2217.PortManager`, one per connection; this module gives
it a serial line to set (:class:`LineSettings`) and moves the data bytes.

The line settings a client negotiates (baud rate, data bits, parity, stop
bits) pace the answers: each connection's endpoint is the pump's impaired
link (:mod:`emulator.link_faults`), and its ``baud`` is set so that a byte
takes ``(1 start + data + parity + stop bits) / baud`` seconds, as on a real
line. Flow control, DTR, RTS and break are accepted and reported back
(a virtual line has no wires to drive); the modem lines read CTS, DSR and CD
on.

Like ``--tcp`` it listens on loopback unless told otherwise (see
``pump-emulator serve --rfc2217`` and ``--allow-remote``).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from serial import rfc2217

from emulator.link_faults import MAX_BAUD, MIN_BAUD
from emulator.transports.base import EndpointFactory
from emulator.transports.outbuf import DEFAULT_LIMIT_BYTES
from emulator.transports.tcp import TcpTransport, _Connection

__all__ = ["LineSettings", "Rfc2217Transport"]

_log = logging.getLogger(__name__)

_PARITIES = frozenset("NEOMS")
_BYTESIZES = frozenset({5, 6, 7, 8})
_STOPBITS = frozenset({1, 1.5, 2})


class LineSettings:
    """The serial line of one RFC 2217 connection, as :class:`~serial.rfc2217.PortManager`
    reads and sets it. A value the line cannot take raises ValueError (the manager then
    keeps the old one and tells the client). ``on_change`` is called after a change of
    the baud rate or the character format."""

    def __init__(self, on_change: Any = None) -> None:
        self._on_change = on_change
        self._baudrate = 115200
        self._bytesize = 8
        self._parity = "N"
        self._stopbits: float = 1
        self.xonxoff = False
        self.rtscts = False
        self.rts = True
        self.dtr = True
        self.break_condition = False
        # modem lines as the pump's end shows them: ready
        self.cts = True
        self.dsr = True
        self.ri = False
        self.cd = True

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    @property
    def baudrate(self) -> int:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, value: int) -> None:
        if not isinstance(value, int) or not MIN_BAUD <= value <= MAX_BAUD:
            raise ValueError(f"baud rate {value!r} outside {MIN_BAUD}..{MAX_BAUD}")
        self._baudrate = value
        self._changed()

    @property
    def bytesize(self) -> int:
        return self._bytesize

    @bytesize.setter
    def bytesize(self, value: int) -> None:
        if value not in _BYTESIZES:
            raise ValueError(f"data bits {value!r} not one of 5, 6, 7, 8")
        self._bytesize = value
        self._changed()

    @property
    def parity(self) -> str:
        return self._parity

    @parity.setter
    def parity(self, value: str) -> None:
        if value not in _PARITIES:
            raise ValueError(f"parity {value!r} not one of N, E, O, M, S")
        self._parity = value
        self._changed()

    @property
    def stopbits(self) -> float:
        return self._stopbits

    @stopbits.setter
    def stopbits(self, value: float) -> None:
        if value not in _STOPBITS:
            raise ValueError(f"stop bits {value!r} not one of 1, 1.5, 2")
        self._stopbits = value
        self._changed()

    @property
    def bits_per_char(self) -> float:
        """Bits one byte takes on the line: start, data, parity, stop."""
        return 1 + self._bytesize + (0 if self._parity == "N" else 1) + self._stopbits

    def reset_input_buffer(self) -> None:
        """PURGE from the client: nothing is buffered before the pump reads it."""

    def reset_output_buffer(self) -> None:
        """PURGE from the client: answers already queued are sent regardless."""


class _Writer:
    """The ``connection`` a PortManager writes its Telnet replies to: the answer buffer."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    def write(self, data: bytes) -> None:
        self._conn.out.push(bytes(data))


class Rfc2217Transport(TcpTransport):
    """A listening socket speaking Telnet with the RFC 2217 COM port option."""

    def __init__(
        self,
        factory: EndpointFactory,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        output_limit_bytes: int = DEFAULT_LIMIT_BYTES,
    ) -> None:
        super().__init__(factory, host=host, port=port, output_limit_bytes=output_limit_bytes)
        self._managers: dict[int, rfc2217.PortManager] = {}
        self._lines: dict[int, LineSettings] = {}

    @property
    def url(self) -> str:
        """The pyserial URL a programmer opens, e.g. ``rfc2217://127.0.0.1:40123``."""
        host, port = self.address
        return f"rfc2217://{host}:{port}"

    @property
    def label(self) -> str:
        host, port = self.address
        return f"rfc2217:{host}:{port}"

    def line_settings(self) -> list[LineSettings]:
        """The negotiated line of each open connection (for tests and the control channel)."""
        return list(self._lines.values())

    def _accepted(self, conn: _Connection) -> None:
        endpoint = conn.endpoint

        def pace(line: LineSettings) -> None:
            update = getattr(endpoint, "update", None)
            if update is None:
                return  # not an impaired link: nothing to pace with
            # link_faults paces 10 bits (8N1) a byte: scale the baud so that a byte takes
            # bits_per_char / baud seconds.
            effective = round(line.baudrate * 10 / line.bits_per_char)
            update(baud=min(MAX_BAUD, max(MIN_BAUD, effective)))

        line = LineSettings(on_change=pace)
        pace(line)
        self._lines[id(conn)] = line
        # pyserial types its PortManager for a Serial; it only reads and sets the attributes
        # LineSettings has, and calls write() on the connection.
        manager = rfc2217.PortManager(cast(Any, line), cast(Any, _Writer(conn)), logger=None)
        self._managers[id(conn)] = manager

    def _incoming(self, conn: _Connection, data: bytes) -> bytes:
        manager = self._managers.get(id(conn))
        if manager is None:
            return data
        return b"".join(manager.filter(data))

    def _outgoing(self, conn: _Connection, data: bytes) -> bytes:
        manager = self._managers.get(id(conn))
        if manager is None:
            return data
        return b"".join(manager.escape(data))

    def _drop(self, conn: _Connection) -> None:
        self._managers.pop(id(conn), None)
        self._lines.pop(id(conn), None)
        super()._drop(conn)
