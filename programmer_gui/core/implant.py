"""The implant record, without Qt: the catheter catalogue, the editor's checks, the review.

The implant record is the clinician's record of what was implanted (catheter
model and trimmed length with its uncertainty, implant date, patient
identifier, origin of the spasticity, physician), stored in the pump
(READ_IMPLANT / SET_IMPLANT) so every later session reads it. Bridge and
priming volumes come from it: the catheter length is never assumed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from programmer_gui.core import InputError
from programmer_gui.core.action import one_step
from programmer_gui.core.dates import format_pump_date
from programmer_gui.core.entry import CATHETER_LENGTH_CM, NumberEntry
from programmer_gui.core.review import Review, ReviewRow
from protocol import messages as m
from protocol import units
from protocol.client import PumpClient
from protocol.enums import Origin

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot

MAX_TEXT_CHARS: Final = 32
"""Free-text fields are kept short (the wire holds a few dozen bytes)."""


@dataclass(frozen=True, kw_only=True)
class CatheterModel:
    """A catheter model of the catalogue: its dead volume per cm and usual length."""

    name: str
    """As stored in the pump (at most 32 bytes)."""
    description: str
    volume_nl_per_cm: int
    length_cm: Fraction
    """The length before trimming (a starting value the clinician corrects)."""
    uncertainty_cm: Fraction
    """How well a trimmed length is usually known (+/-)."""

    @property
    def label(self) -> str:
        per_cm = units.format_trimmed(Fraction(self.volume_nl_per_cm, 1_000_000), 4)
        return f"{self.name}: {self.description} ({per_cm} mL/cm)"


CATALOGUE: Final[tuple[CatheterModel, ...]] = (
    CatheterModel(
        name="IT-8709SC",
        description="one-piece intrathecal catheter",
        volume_nl_per_cm=2_600,
        length_cm=Fraction(110),
        uncertainty_cm=Fraction(5),
    ),
    CatheterModel(
        name="IT-8731",
        description="two-piece catheter (spinal and pump segments)",
        volume_nl_per_cm=2_600,
        length_cm=Fraction(110),
        uncertainty_cm=Fraction(10),
    ),
    CatheterModel(
        name="IT-SB15",
        description="small-bore catheter",
        volume_nl_per_cm=1_500,
        length_cm=Fraction(100),
        uncertainty_cm=Fraction(5),
    ),
)
"""A small teaching catalogue: choosing a model sets its volume per cm, and offers its length
and uncertainty (which the clinician corrects to the trimmed length)."""

ORIGIN_TEXT: Final[dict[Origin, str]] = {
    Origin.UNKNOWN: "Not recorded",
    Origin.SPINAL: "Spinal (e.g. spinal cord injury, MS)",
    Origin.CEREBRAL: "Cerebral (e.g. cerebral palsy, stroke, brain injury)",
}

LENGTH_CM: Final = dataclasses.replace(
    CATHETER_LENGTH_CM, label="Catheter length (trimmed)", example="85"
)
UNCERTAINTY_CM: Final = NumberEntry(
    label="Length uncertainty (+/-)",
    unit="cm",
    max_decimals=1,
    minimum=Fraction(0),
    maximum=Fraction(100),
    example="2",
)


def model_by_name(name: str) -> CatheterModel | None:
    return next((model for model in CATALOGUE if model.name == name), None)


def model_of_record(implant: m.ImplantFields) -> CatheterModel:
    """The catalogue model a record names, or (a model outside the catalogue) one made from
    the record itself, so a record the pump holds can always be shown and kept."""
    known = model_by_name(implant.catheter_model)
    if known is not None and known.volume_nl_per_cm == implant.catheter_volume_nl_per_cm:
        return known
    return CatheterModel(
        name=implant.catheter_model,
        description="as recorded in the pump",
        volume_nl_per_cm=implant.catheter_volume_nl_per_cm,
        length_cm=Fraction(implant.catheter_length_mm, 10),
        uncertainty_cm=Fraction(implant.catheter_length_uncertainty_mm, 10),
    )


def parse_date(text: str) -> int | None:
    """``YYYY-MM-DD`` as pump-clock seconds (00:00 UTC, the pump's day); "" is None."""
    text = text.strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(
            f"Implant date: {text!r} is not a date; type it as YYYY-MM-DD (e.g. 2024-03-15).",
            reason="implant",
        ) from None
    return int(day.timestamp())


def format_day(clock_s: int | None) -> str:
    """Pump-clock seconds as ``YYYY-MM-DD`` (the pump's UTC day); None is ""."""
    if clock_s is None:
        return ""
    return datetime.fromtimestamp(clock_s, tz=UTC).strftime("%Y-%m-%d")


def _text(label: str, value: str, *, required: bool) -> str:
    value = " ".join(value.split())
    if required and not value:
        raise InputError(f"{label}: required.", reason="implant")
    if len(value.encode()) > MAX_TEXT_CHARS:
        raise InputError(f"{label}: at most {MAX_TEXT_CHARS} characters.", reason="implant")
    return value


def build_implant(
    *,
    model: CatheterModel,
    length_text: str,
    uncertainty_text: str,
    implanted_text: str,
    patient_id: str,
    origin: Origin,
    physician: str,
    now_clock_s: int,
) -> m.ImplantFields:
    """The record as it would be written; InputError ("implant", or EntryError) if not valid."""
    length_cm = LENGTH_CM.parse(length_text)
    uncertainty_cm = UNCERTAINTY_CM.parse(uncertainty_text) if uncertainty_text.strip() else 0
    length_mm = units.round_half_even(length_cm * 10)
    uncertainty_mm = units.round_half_even(Fraction(uncertainty_cm) * 10)
    if uncertainty_mm >= length_mm:
        raise InputError("Length uncertainty: must be less than the length.", reason="implant")
    implanted = parse_date(implanted_text)
    if implanted is not None and implanted > now_clock_s:
        raise InputError("Implant date: after today's date on the pump clock.", reason="implant")
    return m.ImplantFields(
        catheter_model=_text("Catheter model", model.name, required=True),
        catheter_volume_nl_per_cm=model.volume_nl_per_cm,
        catheter_length_mm=length_mm,
        catheter_length_uncertainty_mm=uncertainty_mm,
        implanted_at_s=implanted,
        patient_id=_text("Patient identifier", patient_id, required=True),
        origin=origin,
        physician=_text("Physician", physician, required=False),
    )


def catheter_text(implant: m.ImplantFields) -> str:
    """``85 ± 2 cm, 0.0026 mL/cm (0.221 mL)``."""
    length = units.format_trimmed(Fraction(implant.catheter_length_mm, 10), 1)
    unc = implant.catheter_length_uncertainty_mm
    plus = f" ± {units.format_trimmed(Fraction(unc, 10), 1)}" if unc else ""
    per_cm = units.format_trimmed(Fraction(implant.catheter_volume_nl_per_cm, 1_000_000), 4)
    volume = -(-implant.catheter_volume_nl_per_cm * implant.catheter_length_mm // 10)
    return f"{length}{plus} cm, {per_cm} mL/cm ({units.format_volume_nl(volume)})"


def implant_rows(snapshot: PumpSnapshot) -> list[tuple[str, str]]:
    """The implant record (and the drug in the pump) as label/value pairs with units."""
    read = snapshot.implant
    if read is None:
        return [("Implant record", "not readable in this session")]
    rows: list[tuple[str, str]] = []
    if not read.recorded:
        rows.append(("Implant record", "NONE: write it before a refill with a bridge"))
    else:
        implant = read.implant
        rows += [
            ("Patient", implant.patient_id or "not recorded"),
            ("Origin", ORIGIN_TEXT[implant.origin]),
            ("Catheter model", implant.catheter_model),
            ("Catheter", catheter_text(implant)),
            (
                "Implanted",
                format_day(implant.implanted_at_s) or "not recorded",
            ),
            ("Physician", implant.physician or "not recorded"),
        ]
    rows.append(("Drug lot", read.drug_lot or "not recorded"))
    rows.append(
        (
            "Last refill",
            "none recorded"
            if read.last_refill_at_s is None
            else format_pump_date(snapshot, read.last_refill_at_s),
        )
    )
    return rows


def build_review(implant: m.ImplantFields, snapshot: PumpSnapshot) -> Review:
    """The review of writing ``implant``: the record now and pending, side by side."""
    current = snapshot.implant_record

    def side(record: m.ImplantFields | None) -> dict[str, str]:
        if record is None:
            return {}
        return {
            "Patient identifier": record.patient_id,
            "Origin": ORIGIN_TEXT[record.origin],
            "Catheter model": record.catheter_model,
            "Catheter": catheter_text(record),
            "Implant date": format_day(record.implanted_at_s) or "not recorded",
            "Physician": record.physician or "not recorded",
        }

    before, after = side(current), side(implant)
    rows = tuple(
        ReviewRow(
            label=label,
            current=before.get(label, "\u2014"),
            pending=value,
            changed=before.get(label) != value,
        )
        for label, value in after.items()
    )
    description = "Write the implant record"

    def run(client: PumpClient) -> str:
        stored = client.set_implant(implant)
        if stored != implant:
            raise InputError(
                "the pump stored another implant record than the one sent", reason="implant"
            )
        return "The implant record is written: " + catheter_text(stored) + "."

    def verify(after_snapshot: PumpSnapshot) -> bool:
        return after_snapshot.implant_record == implant

    dose = snapshot.dose_ug_per_day
    return Review(
        title="Review: implant record",
        rows=rows,
        current_daily_dose_ug=dose,
        pending_daily_dose_ug=dose,
        change_percent=Fraction(0),
        warnings=(),
        action=one_step(description, run, verify),
        notes=(
            "Bridge and priming volumes come from this record: check the trimmed length and "
            "its uncertainty against the operative note.",
        ),
    )
