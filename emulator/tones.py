"""``pump-emulator tones --out DIR``: each alarm tone of each pump model as a WAV file.

For every model profile (``firmware_model.profile.PROFILES``) and alarm class the
command writes ``DIR/model<M>-critical.wav`` and ``DIR/model<M>-non-critical.wav``:
mono 16-bit PCM of the pattern :mod:`protocol.tones` builds from the profile's timing
(the same sound the programmer plays). One play by default; ``--plays N`` writes N plays
starting the repeat interval apart, silence in between (a non-critical pattern repeats
hourly: two plays at 22,050 Hz are about 160 MB, so choose a low ``--sample-rate``).
Prints one line per file with its pattern in words.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from firmware_model.profile import PROFILES, PumpProfile
from protocol.enums import AlarmClass
from protocol.tones import (
    DEFAULT_SAMPLE_RATE_HZ,
    MAX_PLAYS,
    ToneError,
    TonePattern,
    ToneTiming,
    build_pattern,
    check_sample_rate,
    write_wav,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_WRITE = 3

CLASS_FILE_NAMES = {AlarmClass.CRITICAL: "critical", AlarmClass.NON_CRITICAL: "non-critical"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="where to write")
    parser.add_argument(
        "--model",
        type=int,
        action="append",
        choices=sorted(PROFILES),
        help="only this model (mL; repeat for several; default every model)",
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=DEFAULT_SAMPLE_RATE_HZ,
        metavar="HZ",
        help=f"samples per second (default {DEFAULT_SAMPLE_RATE_HZ} Hz)",
    )
    parser.add_argument(
        "--plays",
        type=int,
        default=1,
        metavar="N",
        help=f"plays per file, 1 to {MAX_PLAYS}, starting the repeat interval apart (default 1)",
    )


def profile_patterns(profile: PumpProfile) -> dict[AlarmClass, TonePattern]:
    """The patterns of ``profile``, critical first."""
    out = {}
    for alarm_class in (AlarmClass.CRITICAL, AlarmClass.NON_CRITICAL):
        spec = profile.tone_for(alarm_class)
        timing = ToneTiming(tones=spec.tones, duration_s=spec.duration_s, repeat_s=spec.repeat_s)
        out[alarm_class] = build_pattern(alarm_class, timing)
    return out


def file_name(profile: PumpProfile, alarm_class: AlarmClass) -> str:
    """``model40-critical.wav``."""
    return f"model{profile.model}-{CLASS_FILE_NAMES[alarm_class]}.wav"


def write_tones(
    out: Path,
    *,
    models: list[int] | None = None,
    sample_rate_hz: int = DEFAULT_SAMPLE_RATE_HZ,
    plays: int = 1,
) -> list[tuple[Path, TonePattern]]:
    """Write the WAV files; every request is checked before the first file is written."""
    profiles = [PROFILES[m] for m in sorted(set(models or PROFILES))]
    jobs = []
    for profile in profiles:
        for alarm_class, pattern in profile_patterns(profile).items():
            check_sample_rate(pattern, sample_rate_hz)
            jobs.append((out / file_name(profile, alarm_class), pattern))
    if type(plays) is not int or not 1 <= plays <= MAX_PLAYS:
        raise ToneError(f"--plays must be from 1 to {MAX_PLAYS}, got {plays!r}")
    out.mkdir(parents=True, exist_ok=True)
    for path, pattern in jobs:
        write_wav(path, pattern, sample_rate_hz=sample_rate_hz, plays=plays)
    return jobs


def run(args: argparse.Namespace) -> int:
    try:
        written = write_tones(
            args.out, models=args.model, sample_rate_hz=args.sample_rate, plays=args.plays
        )
    except ToneError as exc:
        print(f"pump-emulator tones: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"pump-emulator tones: cannot write {args.out}: {exc}", file=sys.stderr)
        return EXIT_WRITE
    for path, pattern in written:
        print(f"{path}: {pattern.label.lower()}, {pattern.describe()}")
    return EXIT_OK
