"""The implant record page: show the pump's record, edit it, review, write (SET_IMPLANT)."""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import InputError
from programmer_gui.core.implant import (
    CATALOGUE,
    ORIGIN_TEXT,
    CatheterModel,
    build_implant,
    build_review,
    catheter_text,
    format_day,
    implant_rows,
    model_of_record,
)
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.implant import ImplantPage
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import messages as m
from protocol import units
from protocol.enums import Origin


class ImplantController(Workflow):
    """Fills the record from each snapshot (until edited) and hands the new one to review."""

    page = WorkflowPage("implant", "Implant record", ImplantPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.touched = False
        self.models: list[CatheterModel] = list(CATALOGUE)
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        for model in CATALOGUE:
            page.model_combo.addItem(model.label, model.name)
        for origin in Origin:
            page.origin_combo.addItem(ORIGIN_TEXT[origin], int(origin))
        for edit in page.text_edits:
            edit.textEdited.connect(self._edited)
        page.model_combo.activated.connect(self._model_chosen)
        page.origin_combo.activated.connect(lambda _i: self._edited(""))
        connect_clicked(page.review_button, self.open_review)
        connect_clicked(page.reset_button, self.reset)
        self._update()

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        self.snapshot = snapshot
        rows = implant_rows(snapshot)
        form = self.page.current
        shown = dict(rows)
        for label in shown:
            if label not in form.values:
                form.add_row(label, label)
        for label in form.values:
            form.set_value(label, shown.get(label, "\u2014"))
        if snapshot.implant_record is None and snapshot.implant is not None:
            self.page.current_badge.set_status(
                Severity.WARNING,
                "The pump holds no implant record: a refill with a bridge and a priming bolus "
                "need it.",
            )
        else:
            self.page.current_badge.set_status(Severity.INFO, "")
        if not self.touched:
            self._load(snapshot.implant_record)
        self._update()

    def _load(self, implant: m.ImplantFields | None) -> None:
        page = self.page
        if implant is None:
            page.model_combo.setCurrentIndex(-1)
            for edit in page.text_edits:
                edit.clear()
            page.origin_combo.setCurrentIndex(0)
            return
        model = model_of_record(implant)
        if model not in self.models:
            self.models.append(model)
            page.model_combo.addItem(model.label, model.name)
        page.model_combo.setCurrentIndex(self.models.index(model))
        page.length_edit.setText(
            units.format_trimmed(units.exact(implant.catheter_length_mm) / 10, 1)
        )
        page.uncertainty_edit.setText(
            units.format_trimmed(units.exact(implant.catheter_length_uncertainty_mm) / 10, 1)
        )
        page.date_edit.setText(format_day(implant.implanted_at_s))
        page.patient_edit.setText(implant.patient_id)
        page.physician_edit.setText(implant.physician)
        page.origin_combo.setCurrentIndex(page.origin_combo.findData(int(implant.origin)))

    def _model_chosen(self, _index: int) -> None:
        """A model sets its volume per cm and offers its usual length and uncertainty."""
        model = self.model()
        if model is not None:
            self.page.length_edit.setText(units.format_trimmed(model.length_cm, 1))
            self.page.uncertainty_edit.setText(units.format_trimmed(model.uncertainty_cm, 1))
        self._edited("")

    def model(self) -> CatheterModel | None:
        """The catheter model chosen (None: none yet)."""
        index = self.page.model_combo.currentIndex()
        return self.models[index] if 0 <= index < len(self.models) else None

    def _edited(self, _text: str) -> None:
        self.touched = True
        self._update()

    def reset(self) -> None:
        self.touched = False
        if self.snapshot is not None:
            self._load(self.snapshot.implant_record)
        self._update()

    def pending(self) -> m.ImplantFields:
        """The record as typed; InputError when not valid."""
        page = self.page
        snapshot = self.snapshot
        if snapshot is None:
            raise InputError("Interrogate the pump first.")
        model = self.model()
        if model is None:
            raise InputError("Catheter model: choose one from the catalogue.")
        return build_implant(
            model=model,
            length_text=page.length_edit.text(),
            uncertainty_text=page.uncertainty_edit.text(),
            implanted_text=page.date_edit.text(),
            patient_id=page.patient_edit.text(),
            origin=Origin(int(page.origin_combo.currentData() or 0)),
            physician=page.physician_edit.text(),
            now_clock_s=snapshot.status.clock_s,
        )

    def _update(self) -> None:
        page = self.page
        page.review_button.setEnabled(False)
        if self.snapshot is None or self.snapshot.implant is None:
            page.message.set_status(Severity.INFO, "Interrogate the pump (clinician role) first.")
            page.volume_label.setText("")
            return
        try:
            implant = self.pending()
        except InputError as exc:
            page.message.set_status(
                Severity.INFO if not self.touched else Severity.CRITICAL, exc.message
            )
            page.volume_label.setText("")
            return
        page.volume_label.setText("Catheter: " + catheter_text(implant))
        if implant == self.snapshot.implant_record:
            page.message.set_status(Severity.INFO, "This is the record the pump holds.")
            return
        page.message.set_status(Severity.OK, "Review to write the record to the pump.")
        page.review_button.setEnabled(True)

    def open_review(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        try:
            implant = self.pending()
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return
        review = build_review(implant, snapshot)

        def programmed(after: PumpSnapshot) -> None:
            self.touched = False
            self.on_snapshot(after)
            self.page.message.set_status(
                Severity.OK, "The implant record is written and read back."
            )
            self.show_page()

        self.review_controller.present(review, on_programmed=programmed, on_cancel=self.show_page)


install = ImplantController.install
"""The implant record page."""
