"""Alarm tone patterns: what each alarm class sounds like on each pump model, without Qt.

The one definition the emulator (``pump-emulator tones``), the educator's window and the
programmer's alarm test share. domain.md gives the timing: critical = two tones, about
3 s, repeating about every 10 minutes; non-critical = a single tone, about 1 s, repeating
about hourly (configurable per model). The pitches are the emulator's choice (the domain
notes give none): a multi-tone pattern alternates its pitches in 0.5 s tones (critical:
880 Hz / 587 Hz, six tones in 3 s); a single tone is 660 Hz for its whole duration.

:func:`build_pattern` turns a model profile's timing (``tones``, ``duration_s``,
``repeat_s``: what ``firmware_model.profile.ToneSpec`` holds) into the sound;
:data:`MODEL_TONES` holds the default timing of each model (the firmware model's profiles
agree, a test checks it); :func:`synthesize_pcm16` and :func:`write_wav` render a pattern.
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final

from protocol import units
from protocol.enums import AlarmClass

TONE_STEP_MS: Final = 500
"""Length of each tone of a multi-tone pattern, in ms."""
MULTI_TONE_PITCHES_HZ: Final = (880, 587, 740, 494)
"""The pitches a multi-tone pattern alternates (the first ``tones`` of them), in Hz."""
SINGLE_TONE_HZ: Final = 660
"""The pitch of a single-tone pattern, in Hz."""
FADE_MS: Final = 10
"""Each tone fades in and out over this many ms so that it does not click."""
AMPLITUDE: Final = 0.4
"""Peak amplitude as a fraction of full scale."""
DEFAULT_SAMPLE_RATE_HZ: Final = 22_050
MAX_SAMPLE_RATE_HZ: Final = 192_000
MAX_PLAYS: Final = 10


class ToneError(ValueError):
    """A tone pattern or rendering request that cannot be honoured (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class ToneTiming:
    """A model's timing of one alarm class: ``tones`` pitches over ``duration_s``, every
    ``repeat_s`` (start to start)."""

    tones: int
    duration_s: int
    repeat_s: int

    def __post_init__(self) -> None:
        for name in ("tones", "duration_s", "repeat_s"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ToneError(f"{name} must be an int >= 1, got {value!r}")
        if self.tones > len(MULTI_TONE_PITCHES_HZ):
            raise ToneError(f"tones must be at most {len(MULTI_TONE_PITCHES_HZ)}, got {self.tones}")
        if self.tones > 1 and self.duration_s * 1000 < self.tones * TONE_STEP_MS:
            raise ToneError(
                f"{self.tones} tones of {TONE_STEP_MS} ms need at least "
                f"{self.tones * TONE_STEP_MS / 1000:g} s, got {self.duration_s} s"
            )
        if self.repeat_s < self.duration_s:
            raise ToneError(
                f"repeat_s ({self.repeat_s} s) must be >= duration_s ({self.duration_s} s)"
            )


@dataclass(frozen=True, kw_only=True)
class ToneSegment:
    """A stretch of a tone pattern: a frequency (0 = silence) for ``duration_ms``."""

    frequency_hz: int
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class TonePattern:
    """One alarm class's sound: its segments, then silence until it repeats."""

    alarm_class: AlarmClass
    segments: tuple[ToneSegment, ...]
    repeat_s: int

    @property
    def label(self) -> str:
        return "Critical" if self.alarm_class is AlarmClass.CRITICAL else "Non-critical"

    @property
    def duration_ms(self) -> int:
        return sum(segment.duration_ms for segment in self.segments)

    @property
    def pitches_hz(self) -> tuple[int, ...]:
        """The distinct pitches in order of first sounding."""
        return tuple(dict.fromkeys(s.frequency_hz for s in self.segments if s.frequency_hz))

    def describe(self) -> str:
        """``two alternating tones (880 Hz / 587 Hz) for 3.0 s, repeating every 10 min``."""
        seconds = units.format_fixed(Fraction(self.duration_ms, 1000), 1)
        pitches = self.pitches_hz
        kind = (
            f"{_COUNT_WORDS.get(len(pitches), str(len(pitches)))} alternating tones "
            f"({' / '.join(f'{f} Hz' for f in pitches)})"
            if len(pitches) > 1
            else f"a single tone ({pitches[0]} Hz)"
        )
        return f"{kind} for {seconds} s, repeating every {describe_interval(self.repeat_s)}"

    def segment_at(self, elapsed_ms: int) -> ToneSegment | None:
        """The segment sounding ``elapsed_ms`` into one play of the pattern (None outside)."""
        if elapsed_ms < 0:
            return None
        start = 0
        for segment in self.segments:
            if elapsed_ms < start + segment.duration_ms:
                return segment
            start += segment.duration_ms
        return None


_COUNT_WORDS: Final = {2: "two", 3: "three", 4: "four"}


def describe_interval(seconds: int) -> str:
    """``10 min``, ``1 h``, ``1 h 30 min``, ``45 s``."""
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")


def build_pattern(alarm_class: AlarmClass, timing: ToneTiming) -> TonePattern:
    """The sound of ``timing``: one pitch for the whole duration, or several alternating in
    :data:`TONE_STEP_MS` tones (the last one shortened so the pattern lasts exactly
    ``duration_s``)."""
    if not isinstance(alarm_class, AlarmClass):
        raise ToneError(f"alarm_class must be an AlarmClass, got {alarm_class!r}")
    total_ms = timing.duration_s * 1000
    if timing.tones == 1:
        segments: tuple[ToneSegment, ...] = (
            ToneSegment(frequency_hz=SINGLE_TONE_HZ, duration_ms=total_ms),
        )
    else:
        pitches = MULTI_TONE_PITCHES_HZ[: timing.tones]
        out: list[ToneSegment] = []
        start = 0
        while start < total_ms:
            length = min(TONE_STEP_MS, total_ms - start)
            out.append(
                ToneSegment(frequency_hz=pitches[len(out) % len(pitches)], duration_ms=length)
            )
            start += length
        segments = tuple(out)
    return TonePattern(alarm_class=alarm_class, segments=segments, repeat_s=timing.repeat_s)


DEFAULT_TIMING: Final[dict[AlarmClass, ToneTiming]] = {
    AlarmClass.CRITICAL: ToneTiming(tones=2, duration_s=3, repeat_s=600),
    AlarmClass.NON_CRITICAL: ToneTiming(tones=1, duration_s=1, repeat_s=3_600),
}
"""domain.md: critical two-tone ~3 s every ~10 min; non-critical one tone ~1 s about hourly."""

MODEL_TONES: Final[dict[int, dict[AlarmClass, ToneTiming]]] = {
    model: dict(DEFAULT_TIMING) for model in (20, 40)
}
"""Each model's timing, keyed by reservoir size in mL as DEVICE_INFO names the model (the
same keys as ``protocol.messages.DEVICE_MODELS``; a test checks it)."""


def pattern_for(model: int, alarm_class: AlarmClass) -> TonePattern:
    """The pattern of ``alarm_class`` on ``model`` (20 or 40)."""
    try:
        timing = MODEL_TONES[model][alarm_class]
    except KeyError:
        raise ToneError(
            f"no tone pattern for model {model!r} and {alarm_class!r}; "
            f"known models: {sorted(MODEL_TONES)}"
        ) from None
    return build_pattern(alarm_class, timing)


def check_sample_rate(pattern: TonePattern, sample_rate_hz: int) -> None:
    """Raise :class:`ToneError` unless ``sample_rate_hz`` can carry the pattern's pitches."""
    if type(sample_rate_hz) is not int or not 0 < sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise ToneError(
            f"the sample rate must be an int in 1..{MAX_SAMPLE_RATE_HZ} Hz, got {sample_rate_hz!r}"
        )
    highest = max((s.frequency_hz for s in pattern.segments), default=0)
    if sample_rate_hz <= 2 * highest:
        raise ToneError(
            f"a sample rate of {sample_rate_hz} Hz cannot carry {highest} Hz "
            f"(it must be above {2 * highest} Hz)"
        )


def _one_play(pattern: TonePattern, sample_rate_hz: int) -> bytes:
    check_sample_rate(pattern, sample_rate_hz)
    one = array("h")
    amplitude = AMPLITUDE * 32767
    fade = sample_rate_hz * FADE_MS // 1000
    for segment in pattern.segments:
        count = segment.duration_ms * sample_rate_hz // 1000
        step = 2 * math.pi * segment.frequency_hz / sample_rate_hz
        for i in range(count):
            envelope = min(1.0, i / fade, (count - 1 - i) / fade) if fade else 1.0
            one.append(round(amplitude * envelope * math.sin(step * i)))
    if one.itemsize != 2:  # pragma: no cover - 'h' is 2 bytes on every platform we run
        raise ToneError("array('h') is not 16-bit here")
    if sys.byteorder != "little":  # pragma: no cover - every platform we run is little-endian
        one.byteswap()
    return one.tobytes()


def _check_plays(plays: int) -> None:
    if type(plays) is not int or not 1 <= plays <= MAX_PLAYS:
        raise ToneError(f"plays must be an int from 1 to {MAX_PLAYS}, got {plays!r}")


def _gap_bytes(pattern: TonePattern, sample_rate_hz: int, sound: bytes) -> int:
    """Bytes of silence between the end of one play and the start of the next."""
    return 2 * pattern.repeat_s * sample_rate_hz - len(sound)


def synthesize_pcm16(
    pattern: TonePattern, *, sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ, plays: int = 1
) -> bytes:
    """``plays`` plays of the pattern as mono signed 16-bit little-endian PCM.

    Plays start ``repeat_s`` apart (silence in between), so a recording of two plays
    shows the repeat interval; the last play ends with its last tone. Each tone has
    :data:`FADE_MS` fades at both ends so it does not click.
    """
    _check_plays(plays)
    sound = _one_play(pattern, sample_rate_hz)
    return (sound + bytes(_gap_bytes(pattern, sample_rate_hz, sound))) * (plays - 1) + sound


_CHUNK_BYTES: Final = 1 << 20


def write_wav(
    path: Path,
    pattern: TonePattern,
    *,
    sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ,
    plays: int = 1,
) -> Path:
    """Write ``plays`` plays of ``pattern`` (as :func:`synthesize_pcm16` renders them) as a
    mono 16-bit PCM WAV file, streaming the silences; returns ``path``."""
    _check_plays(plays)
    sound = _one_play(pattern, sample_rate_hz)
    gap = _gap_bytes(pattern, sample_rate_hz, sound)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate_hz)
        out.writeframes(sound)
        for _ in range(plays - 1):
            left = gap
            while left:
                chunk = min(left, _CHUNK_BYTES)
                out.writeframes(bytes(chunk))
                left -= chunk
            out.writeframes(sound)
    return path
