"""Every command of pump-emulator and pumpctl has working --help text."""

from __future__ import annotations

import pytest

from emulator import cli as emulator_cli
from protocol import cli as pumpctl_cli

EMULATOR_COMMANDS: tuple[list[str], ...] = ([], ["serve"], ["ctl"], ["decode"], ["run"])


@pytest.mark.parametrize("words", EMULATOR_COMMANDS, ids=lambda w: " ".join(w) or "top")
def test_pump_emulator_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        emulator_cli.main([*words, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pump-emulator")
    if words == ["serve"]:
        assert "battery 70 %" in out  # a preset's "%" must not break argparse's formatting


def test_pumpctl_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        pumpctl_cli.main(["--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("usage: pumpctl")
