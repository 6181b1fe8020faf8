"""The programmer's link to a pump: one QObject on the GUI thread, the client on a worker.

:class:`PumpLink` owns a :class:`~protocol.client.PumpClient` that lives on one
worker ``QThread``. Every call on the client runs there, one job at a time in
the order submitted; results come back to the GUI thread as queued signals and
callbacks, so the GUI thread never blocks on the link (a pump that does not
answer costs the worker its timeouts, never the user interface a frame).

Usage::

    link = PumpLink()
    link.snapshot.connect(home.show_snapshot)
    link.connect_to("pumpsim://demo", key=key)
    link.submit(lambda client: client.set_alarm_volume(3_000_000), on_done=print)
    ...
    link.close()    # stops the worker thread

A job that fails because the link failed (:class:`~protocol.errors.LinkTimeout`,
:class:`~protocol.errors.LinkClosed`) emits :attr:`PumpLink.link_lost` and
calls the job's ``on_error``; the worker survives and :meth:`PumpLink.reconnect`
opens the link again with the same URL, key and role.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from programmer_gui.core import CoreError
from programmer_gui.core.alarms import in_clinical_words
from programmer_gui.core.snapshot import PumpSnapshot
from protocol import messages as m
from protocol.client import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, ProgrammingError, PumpClient
from protocol.enums import ErrorCode, Role
from protocol.errors import (
    AuthenticationError,
    BadMacError,
    LinkClosed,
    LinkTimeout,
    NakError,
    ProtocolError,
)
from protocol.keys import KeyFileError

T = TypeVar("T")


DEFAULT_POLL_INTERVAL_S = 2.0
"""How often the home screen's figures are refreshed while connected, in seconds."""

LINK_ERRORS: tuple[type[Exception], ...] = (LinkTimeout, LinkClosed)
"""Failures that mean the link itself is gone (the UI offers reconnection)."""

RECONNECT_BACKOFF_S = (2.0, 4.0, 8.0, 15.0, 30.0)
"""Waits before each automatic attempt to open a lost link again (then every 30 s)."""

_SESSION_LOST = (ErrorCode.SESSION_EXPIRED, ErrorCode.NO_SESSION)

_NAK_PHRASES: dict[ErrorCode, str] = {
    ErrorCode.OUT_OF_RANGE: "a value is outside the pump's limits",
    ErrorCode.INVALID_STATE: "the command does not apply in the pump's present state",
    ErrorCode.CHECKSUM_MISMATCH: "the pump staged other settings than those sent",
    ErrorCode.OVERFILL: "the refill would overfill the reservoir",
    ErrorCode.CONDITION_PERSISTS: "the alarm's condition is still present",
    ErrorCode.FORBIDDEN: "this session's role may not do that",
    ErrorCode.LOCKED_OUT: "too many failed attempts: the pump's link is locked for a while",
    ErrorCode.AUTH_FAILED: "the key was not accepted",
    ErrorCode.PUMP_HALTED: "the pump cannot deliver (end of service or a critical error)",
    ErrorCode.NOT_ENABLED: "the feature is not enabled",
    ErrorCode.PATIENT_DOSE_LOCKOUT: "the patient dose lockout interval has not passed",
    ErrorCode.PATIENT_DOSE_LIMIT: "the patient has used the most doses allowed in 24 h",
}

_NAK_SENTENCES: dict[ErrorCode, str] = {
    ErrorCode.SESSION_DISPLACED: (
        "Another programmer connected to this pump on the same link and took over the "
        "session: this request was NOT carried out, and the pump runs what it ran. Make sure "
        "only one programmer talks to the pump, then reconnect."
    ),
    ErrorCode.STORAGE_FAILED: (
        "The pump could not store the change safely, so it did NOT make it: it runs what it "
        "ran before. Interrogate the pump and try again; if it happens again, the pump may "
        "need service."
    ),
}
"""Refusals told in whole sentences: what happened, and what the pump runs now."""


SIMULATION_SCHEMES = ("pumpsim://",)
"""URLs of in-process simulated pumps (demo mode): their clock is the simulation's."""


def is_simulation_url(url: str) -> bool:
    """Whether ``url`` names a simulated pump (demo mode), whose clock is the only "now"."""
    return url.startswith(SIMULATION_SCHEMES)


def is_link_failure(error: BaseException) -> bool:
    """Whether ``error`` (or the failure it wraps) means the link itself is gone."""
    return isinstance(error, LINK_ERRORS) or isinstance(error.__cause__, LINK_ERRORS)


def describe_error(error: BaseException) -> str:
    """A failure phrased for a clinician (what happened, and what it means for the pump)."""
    if isinstance(error, CoreError):
        return error.message
    if isinstance(error, LinkTimeout):
        return (
            "The pump did not answer in time. Check the programmer head is over the pump, "
            "then reconnect."
        )
    if isinstance(error, LinkClosed):
        return f"The link to the pump was lost ({error})."
    if isinstance(error, NakError) and error.code in _NAK_SENTENCES:
        return _NAK_SENTENCES[error.code]
    if isinstance(error, NakError):
        phrase = _NAK_PHRASES.get(error.code, error.code.name.replace("_", " ").lower())
        reason = f": {in_clinical_words(error.reason)}" if error.reason else ""
        return f"The pump refused: {phrase}{reason}."
    if isinstance(error, ProgrammingError):
        return f"The pump did not confirm the change: {error}."
    if isinstance(error, AuthenticationError):
        return "The pump did not prove it holds the key: wrong key file, or not our pump."
    if isinstance(error, BadMacError):
        return "A message from the pump failed its integrity check; reconnect."
    if isinstance(error, KeyFileError):
        return f"The key file cannot be used: {error}."
    if isinstance(error, ProtocolError):
        return f"Communication error: {error}."
    return f"Unexpected error ({type(error).__name__}): {error}"


class LinkState(enum.Enum):
    """Where the link stands, as the GUI thread sees it."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    """The link failed while connected; :meth:`PumpLink.reconnect` offers itself."""


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """What one job on the worker produced, carried back to the GUI thread."""

    value: Any = None
    error: Exception | None = None
    device: m.DeviceInfoResponse | None = None
    snapshot: PumpSnapshot | None = None
    refresh_error: Exception | None = None
    """The job itself succeeded but reading the pump afterwards failed."""


_Task = Callable[["_Worker"], _Outcome]


class _Worker(QObject):
    """Lives on the link thread and owns the client; runs one task per ``run``."""

    done = Signal(int, object)
    """(job id, _Outcome)"""

    def __init__(self, wall: Callable[[], float]) -> None:
        super().__init__()
        self.client: PumpClient | None = None
        self.wall = wall
        self.simulated = False
        """The pump is a simulation (demo mode): its clock is the only "now"."""

    @Slot(int, object)
    def run(self, job_id: int, task: _Task) -> None:
        try:
            outcome = task(self)
        except Exception as exc:  # a defect in a job must not kill the worker
            outcome = _Outcome(error=exc)
        self.done.emit(job_id, outcome)

    def require_client(self) -> PumpClient:
        if self.client is None:
            raise LinkClosed("not connected to a pump")
        return self.client

    def call(self, job: Callable[[PumpClient], T]) -> T:
        """``job(client)``, opening a fresh session once if the pump expired ours (a refused
        request was not executed, so running it again is safe)."""
        client = self.require_client()
        try:
            return job(client)
        except NakError as exc:
            if exc.code not in _SESSION_LOST:
                raise
            client.open_session()
            return job(client)

    def read_snapshot(self) -> PumpSnapshot:
        simulated = self.simulated
        return self.call(lambda c: PumpSnapshot.read(c, wall_s=self.wall(), simulated=simulated))

    def drop_client(self) -> None:
        """Close the client (best effort: a dead link has nothing left to close)."""
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(ProtocolError):
                client.close()


@dataclass
class _Pending:
    on_done: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None
    visible: bool
    """Counts towards ``busy`` (a background poll does not)."""
    kind: str


class PumpLink(QObject):
    """The GUI's one connection to a pump; see the module docstring.

    Signals are emitted on the GUI thread. ``timeout_s`` and ``retries`` go to
    the :class:`PumpClient`; ``wall`` is the programmer's clock (Unix s) stamped
    on each snapshot.
    """

    connected = Signal(object)
    """m.DeviceInfoResponse, once the session is open."""
    disconnected = Signal(str)
    """A human reason ("" for a deliberate disconnect)."""
    link_lost = Signal(str)
    """The link failed (timeout/closed) while connected: the UI offers reconnection."""
    snapshot = Signal(object)
    """core.snapshot.PumpSnapshot after each interrogate or poll."""
    busy_changed = Signal(bool)
    """A job (not a background poll) is running or queued."""
    error = Signal(str)
    """A failure of a job without its own ``on_error``, phrased for a clinician."""
    state_changed = Signal(object)
    """LinkState."""
    reconnect_in = Signal(float)
    """A lost link is opened again by itself in this many seconds (growing back-off)."""

    _dispatch = Signal(int, object)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        poll_interval_s: float | None = DEFAULT_POLL_INTERVAL_S,
        wall: Callable[[], float] = time.time,
        reconnect_backoff_s: tuple[float, ...] = RECONNECT_BACKOFF_S,
    ) -> None:
        super().__init__(parent)
        self._wall = wall
        self.reconnect_backoff_s = reconnect_backoff_s
        self._attempt = 0
        self._restoring = False
        """The link was lost and is being opened again: a failed attempt leaves it LOST (the
        pages, their entries and the banners stay) and the next one is scheduled."""
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.timeout.connect(self._auto_reconnect)
        self._timeout_s = timeout_s
        self._retries = retries
        self._thread = QThread()
        self._thread.setObjectName("pump-link")
        self._worker = _Worker(wall)
        self._worker.moveToThread(self._thread)
        self._dispatch.connect(self._worker.run, Qt.ConnectionType.QueuedConnection)
        self._worker.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._thread.start()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._busy = False
        self._closed = False
        self._state = LinkState.DISCONNECTED
        self._latest: PumpSnapshot | None = None
        self._device: m.DeviceInfoResponse | None = None
        self._url: str | None = None
        self.simulated_override: bool | None = None
        """Whether the next connection is to a simulated pump (None: ``pumpsim://`` URLs
        are; a ``pump-emulator serve`` pty is not known to be one)."""
        self._key: bytes | None = None
        self._role = Role.CLINICIAN
        self._poll_timer = QTimer(self)
        self._poll_timer.timeout.connect(self._poll)
        self._poll_interval_s: float | None = None
        self.set_poll_interval(poll_interval_s)

    # -- what the GUI reads ------------------------------------------------------------------

    @property
    def latest(self) -> PumpSnapshot | None:
        """The last snapshot read (kept, but stale, after the link is lost)."""
        return self._latest

    @property
    def device(self) -> m.DeviceInfoResponse | None:
        """The connected pump's DEVICE_INFO (kept after the link is lost)."""
        return self._device

    @property
    def url(self) -> str | None:
        """The URL of the last :meth:`connect_to`."""
        return self._url

    @property
    def wall(self) -> Callable[[], float]:
        """The programmer's clock (Unix s) that stamps every snapshot."""
        return self._wall

    @property
    def role(self) -> Role:
        return self._role

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state is LinkState.CONNECTED

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def poll_interval_s(self) -> float | None:
        return self._poll_interval_s

    # -- connection --------------------------------------------------------------------------

    def connect_to(self, url: str, *, key: bytes, role: Role = Role.CLINICIAN) -> None:
        """Open ``url`` (a pty path, ``socket://``, ``pumpsim://``), run the handshake in
        ``role``, read DEVICE_INFO (-> ``connected``) and interrogate (-> ``snapshot``)."""
        self._restoring = False
        self._retry_timer.stop()
        self._open(url, key=key, role=role)

    def _open(self, url: str, *, key: bytes, role: Role) -> None:
        self._url, self._key, self._role = url, key, role
        timeout_s, retries = self._timeout_s, self._retries
        simulated = (
            is_simulation_url(url) if self.simulated_override is None else self.simulated_override
        )

        def task(worker: _Worker) -> _Outcome:
            worker.drop_client()
            worker.simulated = simulated
            client = PumpClient(url, key=key, role=role, timeout_s=timeout_s, retries=retries)
            client.connect()
            worker.client = client
            try:
                device = client.device_info()
                snap = worker.read_snapshot()
            except Exception:
                worker.drop_client()
                raise
            return _Outcome(device=device, snapshot=snap)

        self._set_state(LinkState.CONNECTING)
        self._enqueue(task, kind="connect", on_done=None, on_error=None, visible=True)

    def reconnect(self) -> None:
        """Connect again with the URL, key and role of the last :meth:`connect_to`."""
        if self._url is None or self._key is None:
            self.error.emit("There is no previous connection to restore.")
            return
        self._retry_timer.stop()
        if self._state in (LinkState.LOST, LinkState.CONNECTING) and (
            self._restoring or self._state is LinkState.LOST
        ):
            self._restoring = True
            self._open(self._url, key=self._key, role=self._role)
            return
        self.connect_to(self._url, key=self._key, role=self._role)

    def _auto_reconnect(self) -> None:
        if self._closed or self._state is not LinkState.LOST:
            return
        self.reconnect()

    def _schedule_reconnect(self) -> None:
        if not self.reconnect_backoff_s or self._closed:
            return
        delay_s = self.reconnect_backoff_s[min(self._attempt, len(self.reconnect_backoff_s) - 1)]
        self._attempt += 1
        self._retry_timer.start(round(delay_s * 1000))
        self.reconnect_in.emit(delay_s)

    def disconnect_from(self) -> None:
        """Close the session and the port; emits ``disconnected("")``."""
        self._restoring = False
        self._retry_timer.stop()

        def task(worker: _Worker) -> _Outcome:
            worker.drop_client()
            return _Outcome()

        self._enqueue(task, kind="disconnect", on_done=None, on_error=None, visible=True)

    # -- reading and running jobs ------------------------------------------------------------

    def interrogate(self) -> None:
        """Read everything again; the result arrives as ``snapshot``."""
        self._enqueue(
            lambda worker: _Outcome(snapshot=worker.read_snapshot()),
            kind="interrogate",
            on_done=None,
            on_error=None,
            visible=True,
        )

    def set_poll_interval(self, interval_s: float | None) -> None:
        """Poll every ``interval_s`` seconds while connected; None stops polling."""
        if interval_s is not None and interval_s <= 0:
            raise ValueError(f"interval_s must be > 0 s or None, got {interval_s}")
        self._poll_interval_s = interval_s
        if interval_s is None:
            self._poll_timer.stop()
        else:
            self._poll_timer.start(max(1, round(interval_s * 1000)))

    def submit(
        self,
        job: Callable[[PumpClient], T],
        *,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None] | None = None,
        refresh: bool = True,
        background: bool = False,
    ) -> None:
        """Run ``job(client)`` on the worker; ``on_done(result)`` or ``on_error(exc)`` then
        run on the GUI thread. With ``refresh`` the pump is read again after a successful
        job, and ``snapshot`` is emitted before ``on_done`` is called, so ``latest`` is
        what the pump now reports. Without ``on_error`` a failure is emitted as ``error``.
        A ``background`` job (housekeeping reads) does not make the link ``busy``."""

        def task(worker: _Worker) -> _Outcome:
            value = worker.call(job)
            if not refresh:
                return _Outcome(value=value)
            try:
                snap = worker.read_snapshot()
            except Exception as exc:
                return _Outcome(value=value, refresh_error=exc)
            return _Outcome(value=value, snapshot=snap)

        self._enqueue(task, kind="job", on_done=on_done, on_error=on_error, visible=not background)

    def close(self) -> None:
        """Stop polling and the worker thread, then close the client; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._poll_timer.stop()
        self._retry_timer.stop()
        self._thread.quit()
        self._thread.wait()
        # The worker thread has ended, so its client may be closed from here.
        self._worker.drop_client()
        self._pending.clear()
        self._set_busy(False)

    # -- internals ---------------------------------------------------------------------------

    def _enqueue(
        self,
        task: _Task,
        *,
        kind: str,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[Exception], None] | None,
        visible: bool,
    ) -> None:
        if self._closed:
            raise RuntimeError("the link is closed")
        job_id = next(self._ids)
        self._pending[job_id] = _Pending(
            on_done=on_done, on_error=on_error, visible=visible, kind=kind
        )
        self._update_busy()
        self._dispatch.emit(job_id, task)

    def _poll(self) -> None:
        # One poll at a time, and none behind other work: a slow link must not pile them up.
        if self._state is not LinkState.CONNECTED or self._pending:
            return
        self._enqueue(
            lambda worker: _Outcome(snapshot=worker.read_snapshot()),
            kind="poll",
            on_done=None,
            on_error=None,
            visible=False,
        )

    @Slot(int, object)
    def _on_done(self, job_id: int, outcome: _Outcome) -> None:
        pending = self._pending.pop(job_id, None)
        if self._closed or pending is None:
            return
        try:
            self._deliver(pending, outcome)
        finally:
            self._update_busy()

    def _deliver(self, pending: _Pending, outcome: _Outcome) -> None:
        if outcome.device is not None:
            self._device = outcome.device
        if outcome.error is not None:
            self._fail(pending, outcome.error)
            return
        if pending.kind == "connect":
            self._restoring = False
            self._attempt = 0
            self._set_state(LinkState.CONNECTED)
            self.connected.emit(outcome.device)
        elif pending.kind == "disconnect":
            self._set_state(LinkState.DISCONNECTED)
            self.disconnected.emit("")
        if outcome.snapshot is not None:
            self._latest = outcome.snapshot
            self.snapshot.emit(outcome.snapshot)
        if outcome.refresh_error is not None and is_link_failure(outcome.refresh_error):
            self._lose(outcome.refresh_error)
        if pending.on_done is not None:
            pending.on_done(outcome.value)

    def _fail(self, pending: _Pending, error: Exception) -> None:
        if pending.kind == "connect" and self._restoring:
            # Still down: stay LOST, keep the page and the banners, try again later.
            self._set_state(LinkState.LOST)
            self.link_lost.emit(describe_error(error))
            self._schedule_reconnect()
            return
        if pending.kind == "connect":
            text = describe_error(error)
            self._set_state(LinkState.DISCONNECTED)
            self.error.emit(f"Could not connect to {self._url}: {text}")
            self.disconnected.emit(text)
            return
        if is_link_failure(error) and self._state is LinkState.CONNECTED:
            self._lose(error if isinstance(error, LINK_ERRORS) else error.__cause__ or error)
        if pending.on_error is not None:
            pending.on_error(error)
        elif not is_link_failure(error):
            # A lost link is shown by its own banner (link_lost), not repeated as an error.
            self.error.emit(describe_error(error))

    def _lose(self, error: BaseException) -> None:
        if self._state is not LinkState.CONNECTED:
            return
        self._set_state(LinkState.LOST)

        def task(worker: _Worker) -> _Outcome:
            worker.drop_client()
            return _Outcome()

        # Free the dead port on the worker (its session close may wait a timeout).
        self._enqueue(task, kind="drop", on_done=None, on_error=None, visible=False)
        self._attempt = 0
        self.link_lost.emit(describe_error(error))
        self._schedule_reconnect()

    def _set_state(self, state: LinkState) -> None:
        if state is not self._state:
            self._state = state
            self.state_changed.emit(state)

    def _update_busy(self) -> None:
        self._set_busy(any(p.visible for p in self._pending.values()))

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
