"""Stop and resume: the withdrawal warning, the reason, the pump's state."""

from __future__ import annotations

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.stop import (
    build_resume_review,
    build_stop_review,
    delivery_state,
    is_stopped,
    plan_stop,
)
from protocol.enums import EventCode, StopReason
from tests.programmer_gui.pump_support import connected


def test_stop_and_resume_against_the_pump() -> None:
    with connected("demo") as world:
        snapshot = world.snapshot()
        assert delivery_state(snapshot).startswith("Delivering: Flex")
        with pytest.raises(InputError, match="not stopped"):
            build_resume_review(snapshot)
        with pytest.raises(InputError, match="Other"):
            plan_stop(reason=StopReason.OTHER, note="  ", snapshot=snapshot)
        plan = plan_stop(reason=StopReason.MRI, note="  MRI   at 14:00 ", snapshot=snapshot)
        assert plan.note == "MRI at 14:00"
        assert plan.record_detail() == "MRI scan: MRI at 14:00"
        review = build_stop_review(plan, snapshot)
        assert review.warning_codes == ("withdrawal",)
        assert "WITHDRAWAL" in review.warnings[0].text
        assert review.pending_daily_dose_ug == 0 and review.change_percent == -100
        review.action.run(world.client)
        stopped = world.snapshot()
        assert review.action.verify(stopped) and is_stopped(stopped)
        assert delivery_state(stopped).startswith("STOPPED")
        with pytest.raises(InputError, match="already stopped"):
            plan_stop(reason=StopReason.MRI, note="", snapshot=stopped)
        entry = list(world.client.event_log())[-1]
        assert entry.code is EventCode.STOPPED and entry.a == StopReason.MRI
        resume = build_resume_review(stopped)
        assert resume.warning_codes == ("resume-dose",)
        resume.action.run(world.client)
        running = world.snapshot()
        assert resume.action.verify(running) and not is_stopped(running)
        assert list(world.client.event_log())[-1].code is EventCode.RESUMED


def test_a_note_is_bounded() -> None:
    with connected("demo") as world, pytest.raises(InputError, match="under 200"):
        plan_stop(reason=StopReason.MRI, note="x" * 201, snapshot=world.snapshot())
