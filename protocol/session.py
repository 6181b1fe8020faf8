"""Both ends of a session, sans-IO: frames in, bytes to send out.

Nothing here touches a port, a thread or the wall clock. The device side gets
``now_s`` (any monotonic clock in seconds, e.g. the emulator's link time) on
every call; the programmer side needs no time at all (its client owns the
timeouts).

Security (design.md):

* **Handshake**, mutual challenge-response with fresh nonces from both ends and
  one 32-byte key per role (K)::

      programmer -> SESSION_OPEN  {role, cn}                                  no MAC
      pump       -> SESSION_OPEN  {pn, HMAC(K, "vpump/pump" + role + cn + pn)} no MAC
      programmer -> SESSION_AUTH  {HMAC(K, "vpump/prog" + role + pn + cn)}     no MAC
      pump       -> SESSION_AUTH  {role, idle_timeout_s}                       MAC

  The programmer checks the pump's proof before it proves anything itself, so
  a fake pump is detected (AuthenticationError); the pump refuses a fake
  programmer (AUTH_FAILED). The session key is
  ``HMAC(K, "vpump/session" + role + cn + pn)``; HMAC is HMAC-SHA256 and
  ``role`` is one byte.
* **MAC**: from the SESSION_AUTH response on, every frame both ways carries
  the first 16 bytes of HMAC-SHA256(session key, VER .. end of PAYLOAD).
  The only unauthenticated answers to a MAC'd request are NAKs with
  NO_SESSION, SESSION_EXPIRED or LOCKED_OUT (the pump then has no session key).
* **SEQ**: a new request must carry a SEQ greater than the last one the pump
  answered in this session. SEQ never wraps: after 0xFFFF the programmer must
  open a new session (SequenceExhaustedError). An exact retransmission (same
  SEQ, identical bytes) of the last answered request gets the cached response
  and is not executed again, so a retried bolus is delivered once; any other
  SEQ that does not move forward is refused with REPLAY.
* **Roles**: :data:`ROLE_OPS` lists what each role may run; others get FORBIDDEN.
* **Idle timeout**: a request arriving ``idle_timeout_s`` (default 300 s) or
  more after the last accepted one finds the session expired (SESSION_EXPIRED).
* **Back-off** (per link, on the link's real time): bad proofs and bad MACs count
  as failures of the link they arrive on. The first ``max_failures - 1``
  (default 4) are answered with their own code; every further one makes the link
  back off, for ``backoff_first_s`` (15 s) doubling each time up to ``lockout_s``
  (300 s): while it backs off, everything but DEVICE_INFO on that link gets
  LOCKED_OUT with the seconds left, uncounted, and its own session ends. A link
  is forgiven after a success or ``2 x lockout_s`` without a failure. While the
  pump as a whole has seen ``pressure_failures`` (default 10) failures within
  ``lockout_s``, a link gets no free failures: its first one starts the back-off,
  and once 16 links that never proved a key have failed so within ``lockout_s``
  (a churn of new links, one per guess), each further one makes the next such
  link wait ``backoff_first_s`` before its SESSION_OPEN is answered (LOCKED_OUT
  meanwhile), so a new link per guess gains nothing.
  Failures on one link never end, refuse or delay a session or a handshake on
  another link: a clinician can always stop the pump or cancel a bolus.
* **Displaced sessions**: a SESSION_OPEN on a link that holds a session replaces
  it; frames MAC'd with the replaced session's key get SESSION_DISPLACED (MAC'd
  with that key, so the displaced programmer can trust it), never counted as a
  failure.

The device's link states and what moves them are data
(:data:`DEVICE_TRANSITIONS`, :data:`PROGRAMMER_TRANSITIONS`); an event that a
state does not allow raises an error naming both.

The pieces live in four modules, re-exported here (import from ``protocol.session``):
:mod:`protocol.session_crypto` (proofs, session key, MACs, the answers' bytes),
:mod:`protocol.session_rules` (roles, states, transitions, results, the pump-wide
:class:`DeviceSecurity`), :mod:`protocol.session_device` (:class:`DeviceSession`) and
:mod:`protocol.session_programmer` (:class:`ProgrammerSession`).
"""

from __future__ import annotations

from protocol.session_crypto import (
    KEY_SIZE,
    PROGRAMMER_PROOF_LABEL,
    PUMP_PROOF_LABEL,
    SESSION_KEY_LABEL,
    answer_bytes,
    build_frame,
    frame_mac,
    mac16,
    programmer_proof,
    pump_proof,
    session_key,
    verify_mac,
)
from protocol.session_device import (
    DeviceSession,
    malformed_reason,
)
from protocol.session_programmer import (
    ProgrammerSession,
)
from protocol.session_rules import (
    DEFAULT_BACKOFF_FIRST_S,
    DEFAULT_GATE_AFTER,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_LOCKOUT_S,
    DEFAULT_MAX_FAILURES,
    DEFAULT_PRESSURE_FAILURES,
    DEVICE_REFUSALS,
    DEVICE_TRANSITIONS,
    MAX_SEQ,
    PROGRAMMER_TRANSITIONS,
    ROLE_OPS,
    SESSIONLESS_NAK_CODES,
    Accepted,
    DeviceEvent,
    DeviceSecurity,
    DeviceState,
    ProgrammerEvent,
    ProgrammerState,
    Reply,
    SessionEvent,
    SessionEventKind,
)

__all__ = [
    "DEFAULT_BACKOFF_FIRST_S",
    "DEFAULT_GATE_AFTER",
    "DEFAULT_IDLE_TIMEOUT_S",
    "DEFAULT_LOCKOUT_S",
    "DEFAULT_MAX_FAILURES",
    "DEFAULT_PRESSURE_FAILURES",
    "DEVICE_REFUSALS",
    "DEVICE_TRANSITIONS",
    "KEY_SIZE",
    "MAX_SEQ",
    "PROGRAMMER_PROOF_LABEL",
    "PROGRAMMER_TRANSITIONS",
    "PUMP_PROOF_LABEL",
    "ROLE_OPS",
    "SESSIONLESS_NAK_CODES",
    "SESSION_KEY_LABEL",
    "Accepted",
    "DeviceEvent",
    "DeviceSecurity",
    "DeviceSession",
    "DeviceState",
    "ProgrammerEvent",
    "ProgrammerSession",
    "ProgrammerState",
    "Reply",
    "SessionEvent",
    "SessionEventKind",
    "answer_bytes",
    "build_frame",
    "frame_mac",
    "mac16",
    "malformed_reason",
    "programmer_proof",
    "pump_proof",
    "session_key",
    "verify_mac",
]
