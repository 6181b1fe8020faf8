"""pyserial's handler module for ``impairedsim://NAME``, the old name of ``pumpsim://NAME``
(kept so existing URLs still open): the same port, :mod:`protocol_pumpsim`."""

from emulator.transports.protocol_pumpsim import Serial

__all__ = ["Serial"]
