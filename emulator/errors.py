"""The emulator's error hierarchy.

Every error the emulator raises derives from :class:`EmulatorError`, split in
two: :class:`EmulatorUsageError` when the caller asked for something wrong
(a bad speed, a server used after it stopped) and :class:`EmulatorPeerError`
when something outside us is at fault (the path of the port belongs to
someone else, the TCP port is taken). Builtins are inherited where they fit,
so ``except ValueError`` and ``except FileExistsError`` keep working.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Root of every error raised by the emulator package."""


class EmulatorUsageError(EmulatorError):
    """We did something wrong: a bad argument or a call in the wrong state."""


class EmulatorPeerError(EmulatorError):
    """Someone else did: the peer, or another program holding a resource we need."""


class ClockValueError(EmulatorUsageError, ValueError):
    """A clock speed or time step is out of range; the clock is unchanged."""


class LinkNameError(EmulatorUsageError, ValueError):
    """An in-process link name is malformed, already registered, or unknown."""


class ServerStateError(EmulatorUsageError, RuntimeError):
    """The server was asked to do something its state does not allow."""


class ServerStopTimeoutError(EmulatorUsageError, TimeoutError):
    """The server loop did not finish within the time given to ``stop``."""


class PortInUseError(EmulatorPeerError, FileExistsError):
    """The port's path or address is held by something we must not take over."""


class PtyLimitError(EmulatorPeerError, OSError):
    """The system has no pseudo-terminal left (``/proc/sys/kernel/pty/max`` reached, over
    every process on the machine)."""


class ControlError(EmulatorUsageError, ValueError):
    """A simulation control was given a bad value; nothing was changed."""


class MriControlError(ControlError):
    """An MRI control was refused: a value out of range, or the pump's state does not allow
    it (a second exposure while one is in progress, an end with no exposure); nothing was
    changed."""
