"""``emulator.lazylog.logger`` logs as ``logging.getLogger`` would, importing ``logging``
only when first used (start-up, #16)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from emulator.lazylog import logger


def test_a_record_goes_to_the_named_logger_with_its_arguments_and_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logger("vpump.test.lazylog")
    with caplog.at_level(logging.ERROR, logger="vpump.test.lazylog"):
        log.error("%s: giving up after %d loop errors", "pty0", 3)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("callback raised")
        log.warning("below the level: dropped")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("vpump.test.lazylog", logging.ERROR, "pty0: giving up after 3 loop errors"),
        ("vpump.test.lazylog", logging.ERROR, "callback raised"),
    ]
    assert caplog.records[1].exc_info is not None and caplog.records[1].exc_info[0] is ValueError
    assert log.getEffectiveLevel() == logging.getLogger("vpump.test.lazylog").getEffectiveLevel()


def test_serve_imports_no_logging_until_something_is_logged() -> None:
    probe = (
        "import sys, emulator.cli, emulator.server as s; a = 'logging' in sys.modules; "
        "s._log.isEnabledFor(10); print(a, 'logging' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True"]
