"""The presets are the pumps docs/emulator.md describes."""

from __future__ import annotations

from emulator.presets import PRESETS
from tests.support import T0, inproc_pump


def test_the_default_preset_was_just_filled_and_says_so() -> None:
    # docs/emulator.md: "20 mL just filled". The fill at power-on is the last refill, so the
    # emergency summary and READ_DELIVERY name it instead of "none recorded".
    assert PRESETS["default"].filled_at_start
    with inproc_pump(PRESETS["default"]) as pump, pump.client() as client:
        delivery = client.read_delivery()
        assert delivery.last_refill_at_s == T0
        assert client.status().reservoir_nl == 20_000_000


def test_the_demo_preset_records_no_refill_it_did_not_have() -> None:
    # 30 mL left in a 40 mL pump: when it was filled is not known, so none is invented.
    assert not PRESETS["demo"].filled_at_start
    with inproc_pump(PRESETS["demo"]) as pump, pump.client() as client:
        assert client.read_delivery().last_refill_at_s is None
