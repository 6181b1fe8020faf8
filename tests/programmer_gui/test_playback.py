"""The alarm tones are really played: through QtMultimedia into a PulseAudio null sink.

The machines here have no sound card. The fixture starts a private PulseAudio daemon
(its own runtime directory, HOME and socket; no shared memory, no pid file, no
autospawn; it exits by itself after ``EXIT_IDLE_S`` without clients should the test
ever fail to stop it) with ``module-null-sink`` as its only sink. ``parec`` records the
sink's monitor while a child process plays a pattern with
:class:`~programmer_gui.tone_player.TonePlayer`; the recording is then measured: one
burst, its duration and its pitches, against :mod:`protocol.tones`. The daemon and
the recorder are stopped and the directory removed at teardown.

Needs Debian's ``pulseaudio`` and ``pulseaudio-utils`` (``scripts/system-deps.sh``
installs them; ``make install`` runs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from protocol.enums import AlarmClass
from protocol.tones import pattern_for
from tests.audio_measure import Burst, bursts, pitches, sounding

REPO = Path(__file__).resolve().parents[2]
RATE_HZ = 44_100
SINK = "vpump_null"
EXIT_IDLE_S = 30
START_TIMEOUT_S = 10.0
THRESHOLD = 0.05
MAX_STALL_S = 0.5
"""How much longer than the pattern its recorded span may be (the server paused, starved)."""


@dataclass
class Server:
    env: dict[str, str]
    """The environment of a client of this daemon (PULSE_SERVER and a private HOME)."""
    process: subprocess.Popen[bytes]
    log: Path


def _wait_for(predicate: object, timeout_s: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pulse() -> Iterator[Server]:
    for tool in ("pulseaudio", "parec", "pactl"):
        assert shutil.which(tool), f"{tool} is missing: run scripts/system-deps.sh (make install)"
    # A short path: a unix socket's path is limited to about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="vpump-pa-"))
    runtime, home = root / "run", root / "home"
    runtime.mkdir(mode=0o700)
    home.mkdir(mode=0o700)
    socket = runtime / "native"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "XDG_RUNTIME"))}
    daemon_env = {**base, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    log = root / "pulseaudio.log"
    command = [
        "pulseaudio",
        "-n",  # no default script: only the modules below
        "--daemonize=no",
        f"--exit-idle-time={EXIT_IDLE_S}",
        "--use-pid-file=no",
        "--disable-shm=yes",
        "--realtime=no",
        "--high-priority=no",
        "--log-target=stderr",
        f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
        f"--load=module-null-sink sink_name={SINK} rate={RATE_HZ} channels=1",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, env=daemon_env, stdout=log_file, stderr=subprocess.STDOUT
        )
    client_env = {
        **daemon_env,
        "PULSE_SERVER": f"unix:{socket}",
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
    }
    server = Server(env=client_env, process=process, log=log)
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            info = subprocess.run(
                ["pactl", "info"], env=client_env, capture_output=True, check=False
            )
            return info.returncode == 0 and SINK.encode() in info.stdout

        _wait_for(ready, START_TIMEOUT_S, "the private PulseAudio daemon")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a daemon that hangs
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _recorders(server: Server) -> int:
    out = subprocess.run(
        ["pactl", "list", "short", "source-outputs"],
        env=server.env,
        capture_output=True,
        check=True,
    ).stdout
    return len(out.splitlines())


def record_while_playing(server: Server, tmp_path: Path, *, model: int, name: str) -> bytes:
    """Record the null sink's monitor while the child plays the pattern; the raw PCM."""
    raw = tmp_path / "monitor.raw"
    with raw.open("wb") as sink_file:
        recorder = subprocess.Popen(
            [
                "parec",
                f"--device={SINK}.monitor",
                "--format=s16le",
                f"--rate={RATE_HZ}",
                "--channels=1",
                "--raw",
            ],
            env=server.env,
            stdout=sink_file,
        )
    try:
        _wait_for(lambda: _recorders(server) == 1, START_TIMEOUT_S, "parec to connect")
        child = subprocess.run(
            [sys.executable, "-m", "tests.programmer_gui.play_tone", str(model), name],
            env=server.env,
            cwd=REPO,
            capture_output=True,
            timeout=60,
            check=False,
        )
        report = json.loads(child.stdout.decode().strip().splitlines()[-1])
        assert child.returncode == 0, (report, child.stderr.decode()[-2000:])
        assert report["available"] and report["started"] and report["done"]
        assert report["status"] == "Sound: Null Output"
        time.sleep(0.3)  # what the monitor still buffers
    finally:
        recorder.terminate()
        recorder.wait(timeout=10)
    return raw.read_bytes()


@pytest.mark.slow  # a sound daemon, then the pattern played in real time (make test runs it)
@pytest.mark.parametrize(
    ("alarm_class", "expected_hz"),
    [(AlarmClass.CRITICAL, [880, 587] * 3), (AlarmClass.NON_CRITICAL, [660, 660])],
)
def test_a_pattern_played_through_qt_multimedia_is_recorded_from_the_sink(
    pulse: Server, tmp_path: Path, alarm_class: AlarmClass, expected_hz: list[int]
) -> None:
    pattern = pattern_for(20, alarm_class)
    pcm = record_while_playing(pulse, tmp_path, model=20, name=alarm_class.name)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    duration_s = pattern.duration_ms / 1000
    # One burst: the pattern, start to end (a sound server starved of CPU by a busy machine
    # may pause the stream for a moment: such a pause may lengthen the span, never the sound).
    [burst] = bursts(samples, RATE_HZ, threshold=THRESHOLD, min_gap_s=0.5)
    assert duration_s - 0.05 <= burst.duration_s <= duration_s + MAX_STALL_S
    # The sound itself, pauses removed: the pattern's length and its pitches in order.
    sound = sounding(samples, RATE_HZ, threshold=THRESHOLD)
    assert len(sound) / RATE_HZ == pytest.approx(duration_s, abs=0.05)
    # Each 0.5 s tone of the pattern's length (just asserted to within 50 ms: a few dropped
    # 5 ms windows must not lose the last tone's analysis window).
    heard = pitches(sound, RATE_HZ, Burst(0.0, duration_s), step_s=0.5)
    assert len(heard) == len(expected_hz)
    # Within 10 Hz (the pitches are 880, 660 and 587 Hz): a stall inside an analysis window
    # smears its spectrum by a few hertz.
    for measured, expected in zip(heard, expected_hz, strict=True):
        assert measured == pytest.approx(expected, abs=10.0)
    # The level is the pattern's (40 % of full scale), not a clipped or attenuated copy.
    assert np.abs(sound).max() == pytest.approx(0.4, abs=0.03)


def test_the_daemon_is_gone_after_the_test(tmp_path: Path) -> None:
    """The fixture leaves no daemon and no directory behind (checked on a fresh one)."""
    gen = pulse.__wrapped__()  # type: ignore[attr-defined]
    server = next(gen)
    socket = server.env["PULSE_SERVER"].removeprefix("unix:")
    assert Path(socket).exists()
    with pytest.raises(StopIteration):
        next(gen)
    assert server.process.poll() is not None
    assert not Path(socket).parent.parent.exists()


def test_with_no_sound_server_the_player_says_so(tmp_path: Path) -> None:
    """Real QtMultimedia, no server behind PULSE_SERVER: no device, said, nothing played."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PULSE_")},
        "PULSE_SERVER": f"unix:{tmp_path / 'nothing-here'}",
        "HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
    }
    child = subprocess.run(
        [sys.executable, "-m", "tests.programmer_gui.play_tone", "40", "CRITICAL"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert child.returncode == 1
    assert report == {
        "status": "No sound device: the tones are shown, not heard.",
        "available": False,
    }
