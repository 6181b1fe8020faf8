"""pyserial's handler module for ``impairedsim://NAME`` (pyserial imports
``<package>.protocol_<scheme>``); the port itself lives in :mod:`impaired_inproc`."""

from emulator.transports.impaired_inproc import ImpairedSerial as Serial
from emulator.transports.impaired_inproc import serial_class_for_url

__all__ = ["Serial", "serial_class_for_url"]
