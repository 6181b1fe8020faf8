"""vpump's public API: what a program that talks to (or simulates) a vpump pump imports.

::

    import vpump

    key = vpump.load_keys(vpump.DEMO_KEY_FILE)[vpump.Role.CLINICIAN]
    with vpump.PumpClient("/tmp/ttyPUMP0", key=key) as pump:
        print(pump.status().reservoir_nl / 1e6, "mL left")

Everything here is a re-export of the package that owns it (``protocol``,
``emulator``); names not listed in ``__all__`` are internal and may change.
The re-exports are lazy (PEP 562 module ``__getattr__``): ``import vpump``
imports nothing else, and a name costs its import only when first used, so
the command-line tools pay no start-up time for this module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None re-exports the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # the client
    "PumpClient": ("protocol.client", "PumpClient"),
    "ProgrammingError": ("protocol.client", "ProgrammingError"),
    # the emulator
    "Emulator": ("emulator.emulator", "Emulator"),
    "EmulatedPump": ("emulator.emulator", "EmulatedPump"),
    "PumpSetup": ("emulator.presets", "PumpSetup"),
    "PRESETS": ("emulator.presets", "PRESETS"),
    # keys
    "DEMO_KEY_FILE": ("protocol.keys", "DEMO_KEY_FILE"),
    "load_keys": ("protocol.keys", "load_keys"),
    "parse_keys": ("protocol.keys", "parse_keys"),
    "format_keys": ("protocol.keys", "format_keys"),
    "key_for": ("protocol.keys", "key_for"),
    "KeyFileError": ("protocol.keys", "KeyFileError"),
    # the generated wire tools, shipped in the package
    "DISSECTOR_FILE": ("protocol.resources", "DISSECTOR_FILE"),
    "KSY_FILE": ("protocol.resources", "KSY_FILE"),
    # roles and the other wire enums
    "Role": ("protocol.enums", "Role"),
    "Op": ("protocol.enums", "Op"),
    "Mode": ("protocol.enums", "Mode"),
    "BolusKind": ("protocol.enums", "BolusKind"),
    "AlarmCode": ("protocol.enums", "AlarmCode"),
    "AlarmClass": ("protocol.enums", "AlarmClass"),
    "StopReason": ("protocol.enums", "StopReason"),
    "ErrorCode": ("protocol.enums", "ErrorCode"),
    "EventCode": ("protocol.enums", "EventCode"),
    # messages
    "messages": ("protocol.messages", None),
    "PrescriptionSpec": ("protocol.messages", "PrescriptionSpec"),
    "FlexStep": ("protocol.messages", "FlexStep"),
    "StatusResponse": ("protocol.messages", "StatusResponse"),
    # errors: one root per package, split into "we did something wrong" and "the peer did"
    "ProtocolError": ("protocol.errors", "ProtocolError"),
    "LocalError": ("protocol.errors", "LocalError"),
    "PeerError": ("protocol.errors", "PeerError"),
    "InvalidMessage": ("protocol.errors", "InvalidMessage"),
    "NakError": ("protocol.errors", "NakError"),
    "AuthenticationError": ("protocol.errors", "AuthenticationError"),
    "LinkTimeout": ("protocol.errors", "LinkTimeout"),
    "LinkClosed": ("protocol.errors", "LinkClosed"),
    "EmulatorError": ("emulator.errors", "EmulatorError"),
    # units
    "units": ("protocol.units", None),
    # quantities written with their units, as the wire's integers (nL, ng, ng/day, s)
    "dose": ("emulator.quantities", "dose"),
    "volume": ("emulator.quantities", "volume"),
    "flow": ("emulator.quantities", "flow"),
    "duration": ("emulator.quantities", "duration"),
    "concentration": ("emulator.quantities", "concentration"),
}

__all__ = [
    "DEMO_KEY_FILE",
    "DISSECTOR_FILE",
    "KSY_FILE",
    "PRESETS",
    "AlarmClass",
    "AlarmCode",
    "AuthenticationError",
    "BolusKind",
    "EmulatedPump",
    "Emulator",
    "EmulatorError",
    "ErrorCode",
    "EventCode",
    "FlexStep",
    "InvalidMessage",
    "KeyFileError",
    "LinkClosed",
    "LinkTimeout",
    "LocalError",
    "Mode",
    "NakError",
    "Op",
    "PeerError",
    "PrescriptionSpec",
    "ProgrammingError",
    "ProtocolError",
    "PumpClient",
    "PumpSetup",
    "Role",
    "StatusResponse",
    "StopReason",
    "__version__",
    "concentration",
    "dose",
    "duration",
    "flow",
    "format_keys",
    "key_for",
    "load_keys",
    "messages",
    "parse_keys",
    "units",
    "volume",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports lazily
    from emulator.emulator import EmulatedPump, Emulator
    from emulator.errors import EmulatorError
    from emulator.presets import PRESETS, PumpSetup
    from emulator.quantities import concentration, dose, duration, flow, volume
    from protocol import messages, units
    from protocol.client import ProgrammingError, PumpClient
    from protocol.enums import (
        AlarmClass,
        AlarmCode,
        BolusKind,
        ErrorCode,
        EventCode,
        Mode,
        Op,
        Role,
        StopReason,
    )
    from protocol.errors import (
        AuthenticationError,
        InvalidMessage,
        LinkClosed,
        LinkTimeout,
        LocalError,
        NakError,
        PeerError,
        ProtocolError,
    )
    from protocol.keys import (
        DEMO_KEY_FILE,
        KeyFileError,
        format_keys,
        key_for,
        load_keys,
        parse_keys,
    )
    from protocol.messages import FlexStep, PrescriptionSpec, StatusResponse
    from protocol.resources import DISSECTOR_FILE, KSY_FILE


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'vpump' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
