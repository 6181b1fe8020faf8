"""A few SIGKILLs of ``pump-emulator serve --state`` during writes (the long run, hundreds of
kills, is ``python -m tests.hardening.crash``): every restart consistent, nothing acknowledged
lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening import crash


@pytest.mark.slow  # SIGKILLs a subprocess (make test runs it; make check does not)
def test_sigkills_during_writes_lose_nothing_acknowledged(tmp_path: Path) -> None:
    figures = crash.run_crash(kills=6, seed=5, workdir=tmp_path)
    assert figures.kills == 6
    assert figures.acknowledged > 6  # commands really flowed between the kills
    assert all(count > 0 for count in figures.per_cycle[1:]) or figures.acknowledged > 20
