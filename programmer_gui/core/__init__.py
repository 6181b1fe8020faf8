"""The Qt-free core of the clinician programmer: every decision and calculation.

Nothing here imports Qt, opens a port, starts a thread or reads the wall
clock: the views and controllers pass in what they read (a
:class:`~programmer_gui.core.snapshot.PumpSnapshot`, the text a clinician
typed, the programmer's wall time) and get back typed values, texts with
their units, and refusals.

The one error hierarchy of the core is rooted in :class:`CoreError` and split
the usual way:

- :class:`InputError` (we did something wrong, here: the clinician's entry
  is not acceptable, or a workflow was driven out of order). Each carries a
  message a clinician can act on. It is also a ``ValueError``.
- :class:`PumpDataError` (the peer did): what the pump reported cannot be
  worked with (inconsistent reads, a field the calculation needs is zero).
- :class:`ActionError` (the peer did): a step of a program action failed on
  the pump; it says which steps had already been carried out, so the
  clinician knows exactly what the pump now runs.

The submodules import these names from here; this module imports none of them.
"""

from __future__ import annotations


class CoreError(Exception):
    """Root of every error raised on purpose by ``programmer_gui.core``."""

    @property
    def message(self) -> str:
        """The text to show a clinician."""
        return str(self)


class InputError(CoreError, ValueError):
    """Our side's fault: an entry or a request the workflow refuses (the message says why).

    ``reason`` names the kind of refusal for code that must tell them apart: "bolus",
    "no-implant-record" (a priming or a bridge needs the implant record's catheter),
    "implant", "patient-settings", "alarm-volume", "no-change" (the pending prescription
    is the one the pump runs), "concentration", "flex", "stop"; "entry" otherwise.
    """

    def __init__(self, message: str, *, reason: str = "entry") -> None:
        super().__init__(message)
        self.reason = reason


class PumpDataError(CoreError, ValueError):
    """The peer's fault: what the pump reported cannot be used for this calculation."""


class ActionError(CoreError):
    """A program action failed part way; ``completed`` names the steps the pump carried out.

    ``__cause__`` is the underlying failure (a protocol error: a NAK, a
    timeout, a lost link, a read-back mismatch).
    """

    def __init__(self, message: str, *, completed: tuple[str, ...], failed_step: str) -> None:
        super().__init__(message)
        self.completed = completed
        self.failed_step = failed_step


__all__ = ["ActionError", "CoreError", "InputError", "PumpDataError"]
