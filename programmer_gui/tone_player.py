"""Playing an alarm tone pattern through the sound device with QtMultimedia.

:class:`TonePlayer` renders a :class:`~protocol.tones.TonePattern` as PCM in a format the
default output accepts (16-bit mono at 44,100 Hz when it can, else the device's preferred
rate, channels and sample format) and plays it with a ``QAudioSink``. With no sound
device (a machine without a sound card or sound server) or without Qt Multimedia it says
so in :attr:`TonePlayer.status_text` and plays nothing; everything else keeps working.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QByteArray, QElapsedTimer, QIODevice, QObject, QTimer, Signal

from protocol.tones import TonePattern, synthesize_pcm16

if TYPE_CHECKING:
    from PySide6.QtMultimedia import QAudioDevice, QAudioFormat

PREFERRED_RATE_HZ = 44_100
POLL_MS = 50
DRAIN_MS = 300
"""The sink is kept this long after it has handed over its last sample, so that the sound server
plays out all it holds (stopping earlier would cut the pattern's end)."""

NO_DEVICE_TEXT = "No sound device: the tones are shown, not heard."
NO_MULTIMEDIA_TEXT = "Qt Multimedia is not installed: the tones are shown, not heard."


def multimedia_available() -> bool:
    """Whether Qt's multimedia module is installed (PySide6-Addons)."""
    return importlib.util.find_spec("PySide6.QtMultimedia") is not None


def default_outputs() -> list[QAudioDevice]:
    """The sound outputs Qt finds now."""
    from PySide6.QtMultimedia import QMediaDevices  # noqa: PLC0415 - optional module

    return list(QMediaDevices.audioOutputs())


def _default_output() -> QAudioDevice:
    from PySide6.QtMultimedia import QMediaDevices  # noqa: PLC0415 - optional module

    return QMediaDevices.defaultAudioOutput()


def convert_pcm16(pcm: bytes, *, channels: int, sample_format: str) -> bytes:
    """Mono signed 16-bit PCM as ``channels`` interleaved channels of ``sample_format``
    (``Int16``, ``Int32``, ``Float`` or ``UInt8``)."""
    import numpy as np  # noqa: PLC0415 - loaded with the first tone, not at start-up

    mono = np.frombuffer(pcm, dtype="<i2")
    if sample_format == "Int16":
        out: Any = mono
    elif sample_format == "Int32":
        out = mono.astype("<i4") << 16
    elif sample_format == "Float":
        out = (mono.astype("<f4") / 32768.0).astype("<f4")
    elif sample_format == "UInt8":
        out = ((mono.astype(np.int32) >> 8) + 128).astype(np.uint8)
    else:
        raise ValueError(f"unsupported sample format {sample_format!r}")
    if channels > 1:
        out = np.repeat(out, channels)
    return bytes(out.tobytes())


class TonePlayer(QObject):
    """Plays one pattern at a time through the default sound output.

    ``outputs`` lists the devices (tests inject an empty list to be a machine without
    sound). ``played`` is emitted with each pattern started.
    """

    played = Signal(object)
    """The TonePattern that started playing."""

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        outputs: Callable[[], list[QAudioDevice]] | None = None,
    ) -> None:
        super().__init__(parent)
        self._sink: Any = None
        self._buffer: QBuffer | None = None
        self._device: QAudioDevice | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._check)
        self._clock = QElapsedTimer()
        self._length_ms = 0
        self._drained_ms = 0
        self._outputs = outputs
        self._status_text: str | None = None

    def _probe(self) -> None:
        """Find the sound output, the first time it is asked for: starting Qt Multimedia's
        backend costs tens of ms, so the programmer's first window does not wait for it."""
        if self._status_text is not None:
            return
        self._status_text = NO_MULTIMEDIA_TEXT
        if not multimedia_available():
            return
        devices = (self._outputs or default_outputs)()
        if not devices:
            self._status_text = NO_DEVICE_TEXT
            return
        default = _default_output() if self._outputs is None else devices[0]
        self._device = default if not default.isNull() else devices[0]
        self._status_text = f"Sound: {self._device.description()}"

    @property
    def status_text(self) -> str:
        """The sound output, or why there is none (found on first use)."""
        self._probe()
        assert self._status_text is not None
        return self._status_text

    @property
    def available(self) -> bool:
        self._probe()
        return self._device is not None

    def _format(self) -> tuple[QAudioFormat, int, int, str]:
        from PySide6.QtMultimedia import QAudioFormat  # noqa: PLC0415 - optional module

        assert self._device is not None
        wanted = QAudioFormat()
        wanted.setSampleRate(PREFERRED_RATE_HZ)
        wanted.setChannelCount(1)
        wanted.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        fmt = wanted if self._device.isFormatSupported(wanted) else self._device.preferredFormat()
        name = fmt.sampleFormat().name
        return fmt, fmt.sampleRate(), max(1, fmt.channelCount()), name

    def play(self, pattern: TonePattern) -> bool:
        """Start one play of ``pattern`` (stopping any play under way); False when there is
        no sound device."""
        self._probe()
        if self._device is None:
            return False
        from PySide6.QtMultimedia import QAudioSink  # noqa: PLC0415 - optional module

        self.stop()
        fmt, rate, channels, sample_format = self._format()
        pcm = convert_pcm16(
            synthesize_pcm16(pattern, sample_rate_hz=rate),
            channels=channels,
            sample_format=sample_format,
        )
        buffer = QBuffer(self)
        buffer.setData(QByteArray(pcm))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        sink = QAudioSink(self._device, fmt, self)
        self._buffer, self._sink = buffer, sink
        self._length_ms = pattern.duration_ms
        self._drained_ms = 0
        sink.start(buffer)
        self._clock.start()
        self._poll.start()
        self.played.emit(pattern)
        return True

    def _check(self) -> None:
        """Polled (the sink's stateChanged arrives from the sound server's thread with a type
        the binding cannot queue): once the buffer is played out (the sink no longer active)
        for :data:`DRAIN_MS`, and the pattern's length has passed, stop. Stopping earlier
        would drop what the sound server still holds."""
        from PySide6.QtMultimedia import QAudio  # noqa: PLC0415 - optional module

        sink, buffer = self._sink, self._buffer
        if sink is None or buffer is None:
            self._poll.stop()
            return
        if sink.state() == QAudio.State.ActiveState or not buffer.atEnd():
            self._drained_ms = 0
            return
        self._drained_ms += POLL_MS
        if self._drained_ms >= DRAIN_MS and self._clock.elapsed() >= self._length_ms:
            self.stop()

    @property
    def playing(self) -> bool:
        return self._sink is not None

    def stop(self) -> None:
        """Stop the play under way, if any."""
        sink, buffer = self._sink, self._buffer
        self._sink = self._buffer = None
        self._poll.stop()
        if sink is not None:
            sink.stop()
            sink.deleteLater()
        if buffer is not None:
            buffer.close()
            buffer.deleteLater()
