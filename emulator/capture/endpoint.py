"""Where the bytes are caught: an endpoint that records what crosses it, and a factory of them."""

from __future__ import annotations

import itertools
import logging
import threading

from emulator.capture.records import CaptureError, CaptureValueError, Direction, _label
from emulator.capture.writer import ChunkSink
from emulator.transports.base import Endpoint, EndpointFactory

_log = logging.getLogger(__name__)


class CapturingEndpoint:
    """An :class:`~emulator.transports.base.Endpoint` that records both directions.

    Bytes pass through unchanged. The link never depends on the capture: when
    recording fails (the writer closed before the link, the disk is full) the
    bytes still pass, the failure is logged once and counted in
    :attr:`capture_failures`.
    """

    def __init__(self, inner: Endpoint, writer: ChunkSink, link_label: str) -> None:
        self._inner = inner
        self._writer = writer
        self._label = _label(link_label)
        self.capture_failures = 0
        """Chunks that crossed but could not be recorded."""

    @property
    def link_label(self) -> str:
        return self._label

    def _record(self, direction: Direction, data: bytes) -> None:
        try:
            self._writer.record(direction, self._label, data)
        except CaptureError as exc:
            self.capture_failures += 1
            if self.capture_failures == 1:
                _log.error(
                    "%s: capture failed; the link carries on unrecorded: %s", self._label, exc
                )

    def receive(self, data: bytes) -> bytes:
        """Record ``data``, hand it to the inner endpoint, record and return its answer."""
        if data:
            self._record(Direction.TO_PUMP, bytes(data))
        answer = self._inner.receive(data)
        if answer:
            self._record(Direction.TO_PROGRAMMER, bytes(answer))
        return answer

    def now(self) -> float:
        """The inner endpoint's release clock, if it is a timed endpoint (else 0)."""
        inner_now = getattr(self._inner, "now", None)
        return 0.0 if inner_now is None else float(inner_now())

    def due(self, now: float) -> bytes:
        """Answers a timed inner endpoint releases by ``now``, recorded as they leave.

        So a capture wrapped around an :class:`~emulator.link_faults.ImpairedEndpoint`
        (a delayed or paced link) still records the late answers; for a plain inner
        endpoint this is always b"".
        """
        inner_due = getattr(self._inner, "due", None)
        if inner_due is None:
            return b""
        answer = bytes(inner_due(now))
        if answer:
            self._record(Direction.TO_PROGRAMMER, answer)
        return answer

    def close(self) -> None:
        """Close the inner endpoint (the writer stays open: other links may use it)."""
        self._inner.close()


def capturing_factory(factory: EndpointFactory, writer: ChunkSink, label: str) -> EndpointFactory:
    """An endpoint factory whose links are recorded by ``writer``.

    Each link is labelled ``LABEL#N``, N counting from 1 in the order links open.
    """
    _label(label)
    if not callable(factory):
        raise CaptureValueError(f"factory must be callable, got {factory!r}")
    numbers = itertools.count(1)
    lock = threading.Lock()

    def make() -> Endpoint:
        with lock:
            number = next(numbers)
        return CapturingEndpoint(factory(), writer, f"{label}#{number}")

    return make
