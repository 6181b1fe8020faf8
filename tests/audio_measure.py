"""Measuring recorded or written alarm tones with numpy: where sound is, and its pitch."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float64]

WINDOW_S = 0.005
"""The envelope is the peak of each 5 ms window."""


@dataclass(frozen=True)
class Burst:
    """A stretch of sound: from ``start_s`` to ``end_s`` (s from the recording's start)."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def read_wav(path: Path) -> tuple[Samples, int]:
    """A mono 16-bit WAV file's samples (full scale = 1.0) and its sample rate in Hz."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        rate = wav.getframerate()
        data = wav.readframes(wav.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0, rate


def bursts(samples: Samples, rate_hz: int, *, threshold: float, min_gap_s: float) -> list[Burst]:
    """The stretches whose 5 ms peaks exceed ``threshold``; silences shorter than
    ``min_gap_s`` (the fades between the tones of one pattern) do not split a burst."""
    window = max(1, round(rate_hz * WINDOW_S))
    usable = len(samples) // window * window
    peaks = np.abs(samples[:usable]).reshape(-1, window).max(axis=1)
    loud = np.flatnonzero(peaks > threshold)
    if loud.size == 0:
        return []
    # Refine the ends to the sample: the first and last sample above the threshold.
    out: list[Burst] = []
    start = prev = int(loud[0])
    for index in (int(i) for i in loud[1:]):
        if (index - prev - 1) * WINDOW_S >= min_gap_s:
            out.append(_refined(samples, window, start, prev, rate_hz=rate_hz, threshold=threshold))
            start = index
        prev = index
    out.append(_refined(samples, window, start, prev, rate_hz=rate_hz, threshold=threshold))
    return out


def _refined(
    samples: Samples, window: int, first: int, last: int, *, rate_hz: int, threshold: float
) -> Burst:
    span = samples[first * window : (last + 1) * window]
    above = np.flatnonzero(np.abs(span) > threshold)
    return Burst(
        start_s=(first * window + int(above[0])) / rate_hz,
        end_s=(first * window + int(above[-1]) + 1) / rate_hz,
    )


def dominant_hz(samples: Samples, rate_hz: int) -> float:
    """The strongest frequency, interpolated between FFT bins (Hann window)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    offset = 0.5 * (a - c) / (a - 2 * b + c)
    return float((k + offset) * rate_hz / len(samples))


def pitches(samples: Samples, rate_hz: int, burst: Burst, *, step_s: float) -> list[float]:
    """The dominant frequency of each ``step_s`` stretch of ``burst`` (its middle 80 %, away
    from the fades)."""
    out = []
    t = burst.start_s
    while t + step_s <= burst.end_s + 0.02:
        a = round((t + 0.1 * step_s) * rate_hz)
        b = round((t + 0.9 * step_s) * rate_hz)
        out.append(dominant_hz(samples[a:b], rate_hz))
        t += step_s
    return out


def sounding(samples: Samples, rate_hz: int, *, threshold: float) -> Samples:
    """The samples of every 5 ms window whose peak exceeds ``threshold``, joined: the sound
    with its pauses (and the silence around it) removed."""
    window = max(1, round(rate_hz * WINDOW_S))
    usable = len(samples) // window * window
    frames = samples[:usable].reshape(-1, window)
    loud = np.abs(frames).max(axis=1) > threshold
    out: Samples = frames[loud].reshape(-1)  # numpy types boolean indexing as Any
    return out
