"""What every in-process pyserial port shares: no output queue, modem lines that are
always ready, and settings that are accepted but change nothing."""

from __future__ import annotations

from serial import PortNotOpenError, SerialBase


class VirtualPort(SerialBase):
    """Base of the in-process ports (``pumpsim://``, ``impairedsim://``): a write enters the
    link before it returns, so nothing waits on our side."""

    def reset_output_buffer(self) -> None:
        """Nothing is ever pending on the way out."""
        if not self.is_open:
            raise PortNotOpenError()

    def flush(self) -> None:
        """Writes enter the link at once, so this only checks the port is open."""
        if not self.is_open:
            raise PortNotOpenError()

    # -- modem lines: accepted, no effect ------------------------------------------------------

    @property
    def cts(self) -> bool:
        """Clear To Send: always asserted."""
        return True

    @property
    def dsr(self) -> bool:
        """Data Set Ready: always asserted."""
        return True

    @property
    def ri(self) -> bool:
        """Ring Indicator: never."""
        return False

    @property
    def cd(self) -> bool:
        """Carrier Detect: always asserted."""
        return True

    # Called by SerialBase's property setters while open; settings have no effect here.
    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass
