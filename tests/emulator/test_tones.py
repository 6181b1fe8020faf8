"""``pump-emulator tones``: the WAV files measured (wave + numpy) against the model profiles
and domain.md (critical two-tone ~3 s every ~10 min, non-critical one tone ~1 s hourly)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from emulator.cli import main
from firmware_model.profile import PROFILES
from protocol.enums import AlarmClass
from tests.audio_measure import bursts, pitches, read_wav

THRESHOLD = 0.05
"""5 % of full scale: the tones peak at 40 %, silence is exactly 0."""
TONE_STEP_S = 0.5

DOMAIN = {
    # class: (distinct pitches, duration s, repeat s) as domain.md states them ("about")
    AlarmClass.CRITICAL: (2, 3.0, 600.0),
    AlarmClass.NON_CRITICAL: (1, 1.0, 3600.0),
}
NAMES = {AlarmClass.CRITICAL: "critical", AlarmClass.NON_CRITICAL: "non-critical"}


def test_one_play_per_file_has_the_profiles_pitches_and_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tones", "--out", str(tmp_path / "wav")]) == 0
    printed = capsys.readouterr().out
    files = sorted(p.name for p in (tmp_path / "wav").iterdir())
    assert files == sorted(f"model{m}-{n}.wav" for m in PROFILES for n in NAMES.values())
    for model, profile in PROFILES.items():
        for alarm_class, name in NAMES.items():
            spec = profile.tone_for(alarm_class)
            tones, duration_s, _repeat_s = DOMAIN[alarm_class]
            assert (spec.tones, spec.duration_s) == (tones, duration_s)
            path = tmp_path / "wav" / f"model{model}-{name}.wav"
            assert str(path) in printed
            samples, rate = read_wav(path)
            assert rate == 22_050
            [burst] = bursts(samples, rate, threshold=THRESHOLD, min_gap_s=0.1)
            # The fades (10 ms) take a few ms off each end at a 5 % threshold.
            assert burst.duration_s == pytest.approx(spec.duration_s, abs=0.02)
            assert burst.start_s < 0.01
            heard = pitches(samples, rate, burst, step_s=TONE_STEP_S)
            assert len(heard) == round(spec.duration_s / TONE_STEP_S)
            distinct = sorted({round(f) for f in heard})
            if spec.tones == 1:
                assert distinct == [660]
            else:
                # Two pitches that alternate every 0.5 s: 880, 587, 880, ...
                assert distinct == [587, 880]
                assert all(round(a) != round(b) for a, b in itertools.pairwise(heard))
            for f in heard:
                assert f == pytest.approx(round(f), abs=1.0)
            # Within a play no silence longer than the fades between tones (< 25 ms).
            within = samples[round(burst.start_s * rate) : round(burst.end_s * rate)]
            quiet = np.abs(within) <= THRESHOLD
            longest = _longest_run(quiet)
            assert longest / rate < 0.025


def test_two_plays_show_the_gap_and_the_repeat_interval(tmp_path: Path) -> None:
    out = tmp_path / "wav"
    # 2000 Hz carries 880 Hz and keeps the hour of silence at 14 MB.
    assert main(["tones", "--out", str(out), "--plays", "2", "--sample-rate", "2000"]) == 0
    for model, profile in PROFILES.items():
        for alarm_class, name in NAMES.items():
            spec = profile.tone_for(alarm_class)
            _tones, duration_s, repeat_s = DOMAIN[alarm_class]
            assert spec.repeat_s == repeat_s
            samples, rate = read_wav(out / f"model{model}-{name}.wav")
            first, second = bursts(samples, rate, threshold=THRESHOLD, min_gap_s=0.1)
            assert second.start_s - first.start_s == pytest.approx(spec.repeat_s, abs=0.01)
            assert second.start_s - first.end_s == pytest.approx(
                spec.repeat_s - duration_s, abs=0.02
            )
            assert first.duration_s == pytest.approx(second.duration_s, abs=0.002)
            # The file ends with the second play's last tone.
            assert len(samples) / rate == pytest.approx(spec.repeat_s + duration_s, abs=0.001)


def test_bad_requests_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wav"
    assert main(["tones", "--out", str(out), "--sample-rate", "1000"]) == 2
    assert "cannot carry 880 Hz" in capsys.readouterr().err
    assert main(["tones", "--out", str(out), "--plays", "0"]) == 2
    assert "--plays must be from 1 to 10" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["tones", "--out", str(out), "--model", "30"])
    assert not out.exists()


def test_one_model_only(tmp_path: Path) -> None:
    assert main(["tones", "--out", str(tmp_path), "--model", "20"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model20-critical.wav",
        "model20-non-critical.wav",
    ]


def _longest_run(mask: np.ndarray[tuple[int], np.dtype[np.bool_]]) -> int:
    best = run = 0
    for value in mask.tolist():
        run = run + 1 if value else 0
        best = max(best, run)
    return best
