"""``serve`` keeps the cyclic collector off while it builds the fleet (nothing it builds is
garbage) and switches it back on at the ready line, or when the start fails."""

from __future__ import annotations

import gc
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import cli
from emulator.emulator import Emulator
from emulator.errors import EmulatorError


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_while_building_and_on_again_after_a_failed_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    build = cli.build_emulator

    def watched(*args: object, **kwargs: object) -> Emulator:
        seen.append(gc.isenabled())
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "build_emulator", watched)
    gc.enable()
    args = cli.build_parser("serve").parse_args(["serve", "--no-pty"])
    with pytest.raises(EmulatorError, match="nothing to serve"):
        cli.serve(args)
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_is_on_while_serving_and_what_was_built_is_frozen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[bool, int]] = []

    def serve_forever(self: object) -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count()))

    monkeypatch.setattr("emulator.server.Server.serve_forever", serve_forever)
    gc.enable()
    frozen_before = gc.get_freeze_count()
    args = cli.build_parser("serve").parse_args(["serve", "--port", str(tmp_path / "ttyP0")])
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert cli.serve(args) == cli.EXIT_OK
    finally:
        gc.unfreeze()  # give this test process its objects back
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    [(enabled, frozen)] = seen
    assert enabled
    assert frozen > frozen_before


def test_a_collector_switched_off_by_the_caller_stays_off(tmp_path: Path) -> None:
    gc.disable()
    args = cli.build_parser("serve").parse_args(["serve", "--no-pty"])
    with pytest.raises(EmulatorError):
        cli.serve(args)
    assert not gc.isenabled()
