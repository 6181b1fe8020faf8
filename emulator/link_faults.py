"""Link faults: seeded drop, corruption, delay, baud pacing and disconnection around a pump.

An :class:`ImpairedEndpoint` sits between a transport and the pump's
:class:`~emulator.transports.base.Endpoint`. Bytes move in *chunks*: one
``receive(data)`` call is one chunk towards the pump, and each answer the
pump gives is one chunk back. Every chunk, in either direction, meets the
current :class:`LinkImpairment`:

* ``disconnected``: the chunk is lost (counted as *blocked*), and so is
  everything still in flight when the link is cut;
* ``drop``: the probability that the chunk is lost;
* ``corrupt``: the probability that the chunk arrives with 1 to 3 distinct
  bits flipped (the length never changes);
* ``baud``: the line is an 8N1 serial line, so a chunk of ``n`` bytes takes
  ``n * 10 / baud`` seconds to cross, and a chunk waits for the one ahead of
  it in the same direction (a dropped chunk still used the line);
* ``delay_ms``: latency added after the bytes have crossed.

A line never reorders: a chunk is released no earlier than the one sent
before it in the same direction, even if the settings change meanwhile.
The faults are drawn from two streams seeded from the ``random.Random``
given, one per direction, three draws per chunk whatever happens to it (drop,
corruption, and a seed for the flips). So the same seed and the same traffic
give the same faults, the drops do not move when the corruption rate changes
(nor the other way round), and the faults of the n-th chunk towards the pump
do not depend on what happened to the answers.

**Timed release.** With no delay and no baud limit the endpoint is
synchronous: ``receive`` hands the chunk to the pump at once and returns its
answer, so it works unchanged behind any transport. With latency or pacing,
a chunk reaches the pump (and the answer reaches the programmer) later; the
transport releases them by calling :meth:`ImpairedEndpoint.due` at the time
:meth:`ImpairedEndpoint.next_release_at` names (both read the endpoint's
clock, :meth:`ImpairedEndpoint.now`). A transport serving an impaired link
therefore does, on its own loop::

    answer = endpoint.receive(data)   # bytes from the programmer; send `answer` now
    ...
    when = endpoint.next_release_at() # None: nothing in flight
    # wake at `when` (endpoint.now() is on the same clock), then:
    send(endpoint.due(endpoint.now()))

``due`` also delivers the chunks whose time has come to the pump, so it must
be called even when :meth:`ImpairedEndpoint.pending` shows no answer waiting.
:mod:`emulator.transports.protocol_pumpsim` does exactly this for the
in-process ``serial_for_url`` port. :class:`LinkFaults` shares one setting
across every link of a pump and wraps an endpoint factory.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from emulator.errors import EmulatorUsageError
from emulator.transports.base import Endpoint, EndpointFactory
from protocol.frozen import frozen

__all__ = [
    "MAX_BAUD",
    "MAX_DELAY_MS",
    "MIN_BAUD",
    "Direction",
    "DirectionCounters",
    "EndpointClosedError",
    "Fault",
    "FaultKind",
    "ImpairedEndpoint",
    "ImpairmentValueError",
    "LinkCounters",
    "LinkFaults",
    "LinkImpairment",
    "flip_bits",
    "wire_time_s",
]

MIN_BAUD = 300
"""Slowest line speed accepted, in baud."""
MAX_BAUD = 1_000_000
"""Fastest line speed accepted, in baud."""
MAX_DELAY_MS = 60_000.0
"""Longest latency accepted each way, in ms (a minute: far past any programmer's timeout;
more would only silence the pump with no way back)."""

BITS_PER_BYTE_8N1 = 10
"""Start bit, 8 data bits, stop bit: what one byte costs on an 8N1 serial line."""

MAX_FLIPS_PER_CHUNK = 3
"""A corrupted chunk gets 1 to this many bit flips."""

FAULT_HISTORY = 10_000
"""Faults remembered per endpoint (oldest forgotten first), so a long-running link stays bounded."""

Clock = Callable[[], float]


class ImpairmentValueError(EmulatorUsageError, ValueError):
    """A link impairment setting is out of range or of the wrong type; nothing was changed."""


class EndpointClosedError(EmulatorUsageError, RuntimeError):
    """An impaired endpoint was used after :meth:`ImpairedEndpoint.close`."""


def _probability(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImpairmentValueError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ImpairmentValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


@frozen
class LinkImpairment:
    """What the link does to the bytes crossing it; the default is a clean link.

    Raises :class:`ImpairmentValueError` (a ``ValueError``) on construction
    when a value is out of range.
    """

    drop: float = 0.0
    """Probability, in [0, 1], that a chunk (in either direction) is lost."""
    corrupt: float = 0.0
    """Probability, in [0, 1], that a chunk gets 1 to 3 bit flips."""
    delay_ms: float = 0.0
    """Latency added each way, in milliseconds (0 to :data:`MAX_DELAY_MS`)."""
    baud: int | None = None
    """Line speed for byte pacing (8N1: 10 bits a byte), 300..1_000_000; None: no pacing."""
    disconnected: bool = False
    """Nothing passes either way while True; chunks in flight are lost when it is set."""

    def __post_init__(self) -> None:
        _probability("drop", self.drop)
        _probability("corrupt", self.corrupt)
        delay = self.delay_ms
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise ImpairmentValueError(f"delay_ms must be a number of ms, got {delay!r}")
        if not (math.isfinite(delay) and 0 <= delay <= MAX_DELAY_MS):
            raise ImpairmentValueError(
                f"delay_ms must be within 0..{MAX_DELAY_MS:g} ms, got {delay!r}"
            )
        baud = self.baud
        if baud is not None:
            if isinstance(baud, bool) or not isinstance(baud, int):
                raise ImpairmentValueError(f"baud must be an integer or None, got {baud!r}")
            if not MIN_BAUD <= baud <= MAX_BAUD:
                raise ImpairmentValueError(
                    f"baud must be within {MIN_BAUD}..{MAX_BAUD} (or None), got {baud}"
                )
        if not isinstance(self.disconnected, bool):
            raise ImpairmentValueError(f"disconnected must be a bool, got {self.disconnected!r}")

    @property
    def delay_s(self) -> float:
        """``delay_ms`` in seconds."""
        return self.delay_ms / 1000.0

    @property
    def timed(self) -> bool:
        """Whether bytes can be held back (latency or pacing), so a transport must call ``due``."""
        return self.delay_ms > 0 or self.baud is not None

    def replace(self, **changes: object) -> LinkImpairment:
        """A copy with ``changes`` applied (validated; unknown names are refused)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ImpairmentValueError(
                f"unknown impairment setting(s) {', '.join(unknown)}; known: {sorted(known)}"
            )
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _is_clear(settings: LinkImpairment) -> bool:
    """No fault set: every chunk passes at once, unchanged."""
    return (
        settings.drop == 0
        and settings.corrupt == 0
        and settings.delay_ms == 0
        and settings.baud is None
        and not settings.disconnected
    )


def wire_time_s(n_bytes: int, baud: int | None) -> float:
    """Seconds ``n_bytes`` take to cross an 8N1 line at ``baud`` (0 when unpaced)."""
    if baud is None:
        return 0.0
    return n_bytes * BITS_PER_BYTE_8N1 / baud


def flip_bits(data: bytes, bits: tuple[int, ...]) -> bytes:
    """``data`` with each listed bit flipped; bit ``i`` is bit ``i % 8`` (LSB 0) of byte
    ``i // 8``."""
    out = bytearray(data)
    for bit in bits:
        if not 0 <= bit < 8 * len(out):
            raise ImpairmentValueError(f"bit {bit} is outside a chunk of {len(out)} bytes")
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


class Direction(enum.Enum):
    """Which way a chunk travels."""

    TO_PUMP = "programmer->pump"
    TO_PROGRAMMER = "pump->programmer"


class FaultKind(enum.Enum):
    """What happened to a chunk that did not cross cleanly."""

    DROPPED = "dropped"
    CORRUPTED = "corrupted"
    BLOCKED = "blocked"
    """Lost because the link was disconnected (when sent, or while in flight)."""


@frozen
class Fault:
    """One chunk that met a fault."""

    direction: Direction
    chunk_index: int
    """Which chunk of its direction (0 for the first ever sent that way)."""
    kind: FaultKind
    size_bytes: int
    bits: tuple[int, ...] = ()
    """For CORRUPTED: the bits flipped (see :func:`flip_bits`)."""


@frozen
class DirectionCounters:
    """What happened to the chunks sent one way. ``sent = dropped + blocked + delivered +
    in flight``; corrupted chunks are delivered too, and counted in both."""

    chunks_sent: int = 0
    bytes_sent: int = 0
    chunks_dropped: int = 0
    bytes_dropped: int = 0
    chunks_corrupted: int = 0
    bytes_corrupted: int = 0
    """Bytes in corrupted chunks (not just the ones with a flipped bit)."""
    bits_flipped: int = 0
    chunks_blocked: int = 0
    bytes_blocked: int = 0
    chunks_delivered: int = 0
    bytes_delivered: int = 0

    def __add__(self, other: DirectionCounters) -> DirectionCounters:
        return DirectionCounters(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in dataclasses.fields(self)
            }
        )


@frozen
class LinkCounters:
    """Counters for both directions."""

    to_pump: DirectionCounters = DirectionCounters()
    to_programmer: DirectionCounters = DirectionCounters()

    def __getitem__(self, direction: Direction) -> DirectionCounters:
        return self.to_pump if direction is Direction.TO_PUMP else self.to_programmer

    def __add__(self, other: LinkCounters) -> LinkCounters:
        return LinkCounters(
            to_pump=self.to_pump + other.to_pump,
            to_programmer=self.to_programmer + other.to_programmer,
        )


@frozen(kw_only=False)
class _Chunk:
    release_at: float
    data: bytes
    index: int


_TALLY = {f.name: i for i, f in enumerate(dataclasses.fields(DirectionCounters))}
"""Where each counter sits in a line's tally (a list: a dict of eleven counters per line
costs every pump half a KiB)."""
_CHUNKS_SENT = _TALLY["chunks_sent"]
_BYTES_SENT = _TALLY["bytes_sent"]
_CHUNKS_DELIVERED = _TALLY["chunks_delivered"]
_BYTES_DELIVERED = _TALLY["bytes_delivered"]
_BITS_FLIPPED = _TALLY["bits_flipped"]


class _Line:
    """One direction of the link: its chunks in flight, its tallies and its fault stream.

    The stream (a Mersenne Twister, 2.5 KiB) is made on first need from ``rng_seed``: most
    links never need theirs. ``undrawn`` counts the chunks that passed a clear link before
    it was made (each takes three draws); the stream is advanced past them when it is made,
    so the faults land where they would have."""

    __slots__ = (
        "direction",
        "free_at",
        "in_flight",
        "last_release",
        "rng",
        "rng_seed",
        "tally",
        "undrawn",
    )

    def __init__(self, direction: Direction, rng_seed: int) -> None:
        self.direction = direction
        self.rng_seed = rng_seed
        self.rng: random.Random | None = None
        self.undrawn = 0
        # A list, not a deque: a handful of chunks at most, and an empty deque holds a
        # 760-byte block per line of every pump.
        self.in_flight: list[_Chunk] = []
        self.free_at = -math.inf  # when the line has finished sending what it was given
        self.last_release = -math.inf  # so a line never reorders
        self.tally = [0] * len(_TALLY)

    def count(self, what: str, size_bytes: int) -> None:
        self.tally[_TALLY[f"chunks_{what}"]] += 1
        self.tally[_TALLY[f"bytes_{what}"]] += size_bytes

    def counters(self) -> DirectionCounters:
        return DirectionCounters(**dict(zip(_TALLY, self.tally, strict=True)))

    def stream(self) -> random.Random:
        """The fault stream, made on first need (see the class)."""
        rng = self.rng
        if rng is None:
            rng = self.rng = random.Random(self.rng_seed)
            for _ in range(self.undrawn):
                rng.random()
                rng.random()
                rng.getrandbits(32)
            self.undrawn = 0
        return rng


class ImpairedEndpoint:
    """An :class:`~emulator.transports.base.Endpoint` that impairs the link to ``inner``.

    Thread-safe: ``receive``, ``due``, the settings and the counters may be
    used from any thread (one lock; ``inner`` is called with it held, so its
    calls are serialized too). Exceptions raised by ``inner`` propagate to
    the caller of ``receive``/``due``; the chunk that caused one is consumed.
    """

    def __init__(
        self,
        inner: Endpoint,
        settings: LinkImpairment,
        rng: random.Random,
        clock: Clock = time.monotonic,
    ) -> None:
        """``rng`` makes the faults (seed it to repeat a run); ``clock`` gives the release
        times, in seconds (its wall-time rate matters only to transports that wait on it)."""
        if not isinstance(settings, LinkImpairment):
            raise ImpairmentValueError(f"settings must be a LinkImpairment, got {settings!r}")
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {rng!r}")
        self._inner = inner
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        # One stream per direction: what happens to the answers never shifts the requests' faults.
        self._lines = {d: _Line(d, rng.getrandbits(64)) for d in Direction}
        # The same two lines, for the per-request path (an Enum key hashes in Python).
        self._to_pump = self._lines[Direction.TO_PUMP]
        self._to_programmer = self._lines[Direction.TO_PROGRAMMER]
        self._faults: deque[Fault] | None = None  # made with the first fault
        self._closed = False
        self._clear = _is_clear(settings)

    # -- settings ------------------------------------------------------------------------------

    @property
    def settings(self) -> LinkImpairment:
        """The impairment in force now."""
        with self._lock:
            return self._settings

    @settings.setter
    def settings(self, settings: LinkImpairment) -> None:
        self.set_settings(settings)

    def set_settings(self, settings: LinkImpairment) -> None:
        """Apply ``settings`` from now on. Cutting the link loses every chunk in flight;
        other changes apply to chunks sent from now on."""
        if not isinstance(settings, LinkImpairment):
            raise ImpairmentValueError(f"settings must be a LinkImpairment, got {settings!r}")
        with self._lock:
            self._apply_locked(settings)

    def update(self, **changes: object) -> LinkImpairment:
        """Change some settings (e.g. ``update(drop=0.1)``); returns the new settings.

        An invalid change raises :class:`ImpairmentValueError` and changes nothing.
        """
        with self._lock:
            settings = self._settings.replace(**changes)
            self._apply_locked(settings)
            return settings

    def disconnect(self) -> None:
        """Cut the link: nothing passes, and what is in flight is lost."""
        self.update(disconnected=True)

    def reconnect(self) -> None:
        """Restore the link (the pump's session may have timed out meanwhile)."""
        self.update(disconnected=False)

    def _apply_locked(self, settings: LinkImpairment) -> None:
        if settings.disconnected and not self._settings.disconnected:
            self._cut_locked()
        self._settings = settings
        self._clear = _is_clear(settings)

    def _cut_locked(self) -> None:
        """Lose everything in flight, both ways (counted as blocked)."""
        for line in self._lines.values():
            while line.in_flight:
                chunk = line.in_flight.pop(0)
                self._fault_locked(line, FaultKind.BLOCKED, chunk.data, chunk.index)
            line.free_at = -math.inf

    # -- the Endpoint protocol -----------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Send ``data`` towards the pump; return the answer bytes due now (possibly b"")."""
        with self._lock:
            if self._closed:
                self._require_open()
            now = self._clock()
            to_pump = self._to_pump
            if self._clear and data:
                to_programmer = self._to_programmer
                if (
                    not to_pump.in_flight
                    and not to_programmer.in_flight
                    and to_pump.free_at <= now
                    and to_programmer.free_at <= now
                ):
                    # The path of a clear link (no fault set, nothing in flight, neither
                    # line busy), written out here (once per request): exactly what
                    # _send_locked and _due_locked would do then (the same draws, counters
                    # and line times, the chunk delivered at once, the answer due at once),
                    # without queueing either chunk. Each line's part (the same for both)
                    # draws, counts and times the chunk as sent and delivered now.
                    data = bytes(data)
                    rng = to_pump.rng
                    if rng is None:
                        to_pump.undrawn += 1  # its three draws are taken if it is ever made
                    else:
                        rng.random()  # drop, corruption, flip seed: drawn for every chunk
                        rng.random()
                        rng.getrandbits(32)
                    size = len(data)
                    tally = to_pump.tally
                    tally[_CHUNKS_SENT] += 1
                    tally[_BYTES_SENT] += size
                    tally[_CHUNKS_DELIVERED] += 1
                    tally[_BYTES_DELIVERED] += size
                    to_pump.free_at = now
                    if now > to_pump.last_release:  # noqa: PLR1730 - max(), without the call
                        to_pump.last_release = now
                    answer = self._inner.receive(data)
                    if not answer:
                        return b""
                    answer = bytes(answer)
                    rng = to_programmer.rng
                    if rng is None:
                        to_programmer.undrawn += 1
                    else:
                        rng.random()
                        rng.random()
                        rng.getrandbits(32)
                    size = len(answer)
                    tally = to_programmer.tally
                    tally[_CHUNKS_SENT] += 1
                    tally[_BYTES_SENT] += size
                    tally[_CHUNKS_DELIVERED] += 1
                    tally[_BYTES_DELIVERED] += size
                    to_programmer.free_at = now
                    if now > to_programmer.last_release:  # noqa: PLR1730 - max(), without the call
                        to_programmer.last_release = now
                    return answer
            if data:
                self._send_locked(to_pump, bytes(data), now)
            return self._due_locked(now)

    def close(self) -> None:
        """Close the inner endpoint; what is in flight is lost (counted as blocked). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cut_locked()
            self._inner.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        with self._lock:
            return self._closed

    # -- timed release -------------------------------------------------------------------------

    def now(self) -> float:
        """The endpoint's clock, the one release times are on."""
        return self._clock()

    def due(self, now: float) -> bytes:
        """Deliver to the pump what has arrived by ``now``; return the answer bytes due by then.

        Call it at :meth:`next_release_at` (or any time: early calls return b"").
        """
        with self._lock:
            self._require_open()
            return self._due_locked(now)

    def next_release_at(self) -> float | None:
        """The earliest time something in flight (either way) is due, or None."""
        if not self._to_pump.in_flight and not self._to_programmer.in_flight:
            # Asked after every request, and the usual answer: read without the lock (each
            # list's emptiness is one atomic read). Only receive and due put chunks in
            # flight, and whoever calls them asks again afterwards.
            return None
        with self._lock:
            to_pump, to_programmer = self._to_pump.in_flight, self._to_programmer.in_flight
            if not to_pump:  # asked after every request: the usual answer, nothing in flight
                return to_programmer[0].release_at if to_programmer else None
            if not to_programmer:
                return to_pump[0].release_at
            return min(to_pump[0].release_at, to_programmer[0].release_at)

    def release_check(self) -> tuple[bool, float | None]:
        """What a transport asks after every ``receive`` and ``due``
        (:func:`~emulator.transports.base.release_check` hands this method out): whether
        something is in flight, and the seconds until its release (0 when overdue), in one
        call instead of three."""
        if not self._to_pump.in_flight and not self._to_programmer.in_flight:
            return False, None  # the usual answer (see next_release_at)
        at = self.next_release_at()
        if at is None:
            return False, None
        return True, max(0.0, float(at) - float(self._clock()))

    def pending(self, direction: Direction = Direction.TO_PROGRAMMER) -> list[tuple[float, bytes]]:
        """Chunks in flight one way, as (release time, bytes), oldest first."""
        with self._lock:
            return [(chunk.release_at, chunk.data) for chunk in self._lines[direction].in_flight]

    # -- what happened -------------------------------------------------------------------------

    def counters(self) -> LinkCounters:
        """A snapshot of the counters of both directions."""
        with self._lock:
            return LinkCounters(
                to_pump=self._lines[Direction.TO_PUMP].counters(),
                to_programmer=self._lines[Direction.TO_PROGRAMMER].counters(),
            )

    def faults(self) -> tuple[Fault, ...]:
        """The last :data:`FAULT_HISTORY` faults, oldest first."""
        with self._lock:
            return () if self._faults is None else tuple(self._faults)

    # -- internals -----------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._closed:
            raise EndpointClosedError("the impaired endpoint is closed")

    def _fault_locked(
        self, line: _Line, kind: FaultKind, data: bytes, index: int, bits: tuple[int, ...] = ()
    ) -> None:
        line.count(kind.value, len(data))
        if kind is FaultKind.CORRUPTED:
            line.tally[_BITS_FLIPPED] += len(bits)
        if self._faults is None:
            self._faults = deque(maxlen=FAULT_HISTORY)
        self._faults.append(
            Fault(
                direction=line.direction,
                chunk_index=index,
                kind=kind,
                size_bytes=len(data),
                bits=bits,
            )
        )

    def _send_locked(self, line: _Line, data: bytes, now: float) -> None:
        """Put one chunk on ``line`` at time ``now``: fault it, pace it, schedule it."""
        settings = self._settings
        index = line.tally[_CHUNKS_SENT]
        line.count("sent", len(data))
        if settings.disconnected:
            self._fault_locked(line, FaultKind.BLOCKED, data, index)
            return
        # The same three draws for every chunk, so the drop pattern does not depend on the
        # corruption setting or on the sizes of the chunks, nor the corruption on the drops.
        rng = line.stream()
        dropped = rng.random() < settings.drop
        corrupted = rng.random() < settings.corrupt
        flip_seed = rng.getrandbits(32)
        start = max(now, line.free_at)
        end = start + wire_time_s(len(data), settings.baud)
        line.free_at = end  # a lost chunk still used the line
        if dropped:
            self._fault_locked(line, FaultKind.DROPPED, data, index)
            return
        if corrupted:
            flips_rng = random.Random(flip_seed)
            flips = flips_rng.randint(1, MAX_FLIPS_PER_CHUNK)
            bits = tuple(sorted(flips_rng.sample(range(8 * len(data)), min(flips, 8 * len(data)))))
            data = flip_bits(data, bits)
            self._fault_locked(line, FaultKind.CORRUPTED, data, index, bits)
        release = max(end + settings.delay_s, line.last_release)
        line.last_release = release
        line.in_flight.append(_Chunk(release, data, index))

    def _due_locked(self, now: float) -> bytes:
        to_pump = self._to_pump
        to_programmer = self._to_programmer
        while to_pump.in_flight and to_pump.in_flight[0].release_at <= now:
            chunk = to_pump.in_flight.pop(0)
            to_pump.count("delivered", len(chunk.data))
            answer = self._inner.receive(chunk.data)
            if answer:
                # The pump answered when the bytes arrived, not when we got round to it.
                self._send_locked(to_programmer, bytes(answer), chunk.release_at)
        out = bytearray()
        while to_programmer.in_flight and to_programmer.in_flight[0].release_at <= now:
            chunk = to_programmer.in_flight.pop(0)
            to_programmer.count("delivered", len(chunk.data))
            out += chunk.data
        return bytes(out)


class LinkFaults:
    """One impairment shared by every link of a pump, and the factory wrapper that applies it.

    Each endpoint made through :meth:`wrap` gets its own ``random.Random``,
    seeded from ``seed`` and its order of creation, so a run with the same
    seed and the same links repeats its faults. Changing the settings here
    changes them on every live link and on links made later.
    """

    def __init__(
        self,
        settings: LinkImpairment | None = None,
        *,
        seed: int = 0,
        clock: Clock = time.monotonic,
    ) -> None:
        settings = LinkImpairment() if settings is None else settings
        if not isinstance(settings, LinkImpairment):
            raise ImpairmentValueError(f"settings must be a LinkImpairment, got {settings!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ImpairmentValueError(f"seed must be an integer, got {seed!r}")
        self._settings = settings
        self._seed = seed
        self._links_made = 0  # the per-link seeds are drawn in order from Random(seed)
        self._clock = clock
        self._lock = threading.Lock()
        self._endpoints: list[ImpairedEndpoint] = []
        self._retired = LinkCounters()  # what links closed since had counted

    @property
    def settings(self) -> LinkImpairment:
        """The impairment in force now."""
        with self._lock:
            return self._settings

    def set_settings(self, settings: LinkImpairment) -> None:
        """Apply ``settings`` to every live link and to links made later."""
        if not isinstance(settings, LinkImpairment):
            raise ImpairmentValueError(f"settings must be a LinkImpairment, got {settings!r}")
        with self._lock:
            self._set_locked(settings)

    def update(self, **changes: object) -> LinkImpairment:
        """Change some settings everywhere; invalid changes raise and change nothing."""
        with self._lock:
            settings = self._settings.replace(**changes)
            self._set_locked(settings)
            return settings

    def _set_locked(self, settings: LinkImpairment) -> None:
        self._settings = settings
        for endpoint in self._live_locked():
            endpoint.set_settings(settings)

    def disconnect(self) -> None:
        """Cut every link (what is in flight is lost)."""
        self.update(disconnected=True)

    def reconnect(self) -> None:
        """Restore every link."""
        self.update(disconnected=False)

    def wrap(self, factory: EndpointFactory) -> EndpointFactory:
        """An endpoint factory making impaired links to what ``factory`` makes."""
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {factory!r}")

        def make() -> Endpoint:
            return self.impair(factory())

        return make

    def impair(self, inner: Endpoint) -> ImpairedEndpoint:
        """Wrap one endpoint with the current settings and the next per-link rng."""
        with self._lock:
            endpoint = ImpairedEndpoint(
                inner, self._settings, random.Random(self._link_seed_locked()), self._clock
            )
            self._endpoints = [*self._live_locked(), endpoint]
            return endpoint

    def _link_seed_locked(self) -> int:
        """The next link's seed: the next 64 bits of ``Random(seed)``, drawn afresh (links
        are made rarely, and a kept generator would hold 2.5 KiB per pump)."""
        seeds = random.Random(self._seed)
        for _ in range(self._links_made):
            seeds.getrandbits(64)
        self._links_made += 1
        return seeds.getrandbits(64)

    @property
    def endpoints(self) -> tuple[ImpairedEndpoint, ...]:
        """The links made here that are not closed yet, oldest first."""
        with self._lock:
            return tuple(self._live_locked())

    def counters(self) -> LinkCounters:
        """The counters of every link made here (closed ones included), summed."""
        with self._lock:
            live = self._live_locked()  # first: it folds closed links into _retired
            total = self._retired
            for endpoint in live:
                total += endpoint.counters()
            return total

    def next_release_at(self) -> float | None:
        """The earliest release time over the live links, or None (for a server's tick)."""
        times = [t for e in self.endpoints if (t := e.next_release_at()) is not None]
        return min(times, default=None)

    def _live_locked(self) -> list[ImpairedEndpoint]:
        live = []
        for endpoint in self._endpoints:
            if endpoint.closed:
                # A closed endpoint's counters are final: keep them, forget the endpoint.
                self._retired += endpoint.counters()
            else:
                live.append(endpoint)
        self._endpoints = live
        return live
