"""The implant record, without Qt: the catalogue, the editor's checks, the rows shown, the
review and its action against the in-process pump."""

from __future__ import annotations

from fractions import Fraction

import pytest

from programmer_gui.core import InputError
from programmer_gui.core.entry import EntryError
from programmer_gui.core.implant import (
    CATALOGUE,
    build_implant,
    build_review,
    catheter_text,
    format_day,
    implant_rows,
    model_by_name,
    model_of_record,
    parse_date,
)
from protocol.enums import Origin
from tests.programmer_gui.pump_support import connected
from tests.programmer_gui.test_core_snapshot import IMPLANT_110, make_snapshot
from tests.support import T0


def entry(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "model": CATALOGUE[0],
        "length_text": "85.5",
        "uncertainty_text": "2",
        "implanted_text": "2024-03-15",
        "patient_id": " P-0042 ",
        "origin": Origin.SPINAL,
        "physician": "Dr Who",
        "now_clock_s": T0,
    }
    values.update(changes)
    return values


def test_a_model_sets_the_volume_per_cm_and_the_entry_the_length() -> None:
    implant = build_implant(**entry())  # type: ignore[arg-type]
    assert implant.catheter_model == "IT-8709SC"
    assert implant.catheter_volume_nl_per_cm == 2_600
    assert (implant.catheter_length_mm, implant.catheter_length_uncertainty_mm) == (855, 20)
    assert implant.implanted_at_s == parse_date("2024-03-15")
    assert format_day(implant.implanted_at_s) == "2024-03-15"
    assert implant.patient_id == "P-0042" and implant.origin is Origin.SPINAL
    assert catheter_text(implant) == "85.5 ± 2 cm, 0.0026 mL/cm (0.2223 mL)"
    small = build_implant(**entry(model=model_by_name("IT-SB15")))  # type: ignore[arg-type]
    assert small.catheter_volume_nl_per_cm == 1_500


def test_refusals() -> None:
    with pytest.raises(EntryError):
        build_implant(**entry(length_text=""))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="less than the length"):
        build_implant(**entry(length_text="10", uncertainty_text="10"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        build_implant(**entry(implanted_text="15/03/2024"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="after today"):
        build_implant(**entry(implanted_text="2030-01-01"))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Patient identifier: required"):
        build_implant(**entry(patient_id="  "))  # type: ignore[arg-type]


def test_a_record_outside_the_catalogue_is_kept_as_recorded() -> None:
    odd = IMPLANT_110.__class__(
        **{**IMPLANT_110.__dict__, "catheter_model": "OLD-1", "catheter_volume_nl_per_cm": 2_000}
    )
    model = model_of_record(odd)
    assert (model.name, model.volume_nl_per_cm, model.length_cm) == ("OLD-1", 2_000, Fraction(110))


def test_rows_and_the_missing_record() -> None:
    rows = dict(implant_rows(make_snapshot()))
    assert rows["Catheter"] == "110 cm, 0.0026 mL/cm (0.286 mL)"
    assert rows["Origin"].startswith("Spinal")
    assert rows["Last refill"] == "none recorded"
    none = dict(implant_rows(make_snapshot(implant=None)))
    assert none["Implant record"].startswith("NONE")


def test_the_review_writes_the_record_and_reads_it_back() -> None:
    with connected("default") as world:
        snapshot = world.snapshot()
        implant = build_implant(**entry(now_clock_s=snapshot.status.clock_s))  # type: ignore[arg-type]
        review = build_review(implant, snapshot)
        rows = {r.label: (r.current, r.pending, r.changed) for r in review.rows}
        assert rows["Catheter"] == (
            "110 cm, 0.0026 mL/cm (0.286 mL)",
            "85.5 ± 2 cm, 0.0026 mL/cm (0.2223 mL)",
            True,
        )
        assert not review.action.verify(snapshot)
        text = review.action.run(world.client)
        after = world.snapshot()
    assert "implant record is written" in text
    assert after.implant_record == implant
    assert review.action.verify(after)
