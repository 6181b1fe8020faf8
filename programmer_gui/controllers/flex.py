"""The flex dosing editor: table edits checked live, the chart redrawn, then the review.

The texts typed in the table are the workflow's state (one list of rows per
profile): they survive weekday switches, polls and reconnections, and are
re-checked against every new snapshot.
"""

from __future__ import annotations

from programmer_gui.controllers.base import Workflow, WorkflowPage
from programmer_gui.core import InputError
from programmer_gui.core.flex import (
    STEP_GRANULARITY_MIN,
    FlexDraft,
    StepRow,
    build_review,
    daily_dose_ug,
    day_curve,
    format_minute,
    parse_dose_ug_per_day,
    parse_time_of_day,
    spec_day_rows,
)
from programmer_gui.core.review import change_percent, format_change
from programmer_gui.core.snapshot import PumpSnapshot
from programmer_gui.views.flex import FlexPage, profile_chart, set_profiles
from programmer_gui.views.widgets import Severity, connect_clicked
from protocol import units

Texts = list[tuple[str, str, str]]


def texts_of(rows: tuple[StepRow, ...] | list[StepRow]) -> Texts:
    """Table texts for rows (what the clinician would type)."""
    return [
        (
            format_minute(row.start_min),
            format_minute(row.end_min),
            units.format_trimmed(row.dose_ug_per_day, 2),
        )
        for row in sorted(rows, key=lambda r: r.start_min)
    ]


def parse_texts(texts: Texts) -> tuple[list[StepRow], list[str]]:
    """The rows that parse, and a message per row that does not."""
    rows: list[StepRow] = []
    errors: list[str] = []
    for number, (start, end, dose) in enumerate(texts, start=1):
        try:
            rows.append(
                StepRow(
                    start_min=parse_time_of_day(start),
                    end_min=parse_time_of_day(end, allow_midnight_end=True),
                    dose_ug_per_day=parse_dose_ug_per_day(dose),
                )
            )
        except InputError as exc:
            errors.append(f"row {number}: {exc.message}")
    return rows, errors


class FlexController(Workflow):
    """Drives the flex page and hands a valid profile to the review page."""

    page = WorkflowPage("flex", "Flex dosing", FlexPage)

    def setup(self) -> None:
        self.snapshot: PumpSnapshot | None = None
        self.weekly = False
        self.days: list[Texts] = [[]]
        """The typed rows of each profile (one, or seven Monday first)."""
        self.touched = False
        self.draft: FlexDraft | None = None
        self.follow_snapshots(self.on_snapshot)

    def wire_page(self) -> None:
        page = self.page
        page.table.itemChanged.connect(lambda _item: self._on_table_edited())
        page.weekly_check.toggled.connect(self._on_weekly)
        page.weekday_combo.currentIndexChanged.connect(lambda _i: self._show_day())
        connect_clicked(page.copy_button, self.copy_to_all_days)
        connect_clicked(page.add_button, self.add_step)
        connect_clicked(page.remove_button, self.remove_step)
        connect_clicked(page.reset_button, self.reset)
        connect_clicked(page.review_button, self.open_review)
        self._show_day()

    @property
    def weekday(self) -> int:
        return self.page.weekday_combo.currentIndex()

    def _day_index(self) -> int:
        return self.weekday if self.weekly else 0

    # -- state ------------------------------------------------------------------------------

    def on_snapshot(self, snapshot: PumpSnapshot) -> None:
        """Keep what was typed; start from the pump's profile until the clinician edits."""
        first = self.snapshot is None
        self.snapshot = snapshot
        if first:
            self.page.weekday_combo.setCurrentIndex(snapshot.weekday)
        if not self.touched and snapshot.prescription is not None:
            self._load_from_pump(snapshot)
        self._show_day()

    def _load_from_pump(self, snapshot: PumpSnapshot) -> None:
        draft = FlexDraft.from_spec(
            snapshot.require_prescription(),
            concentration_ug_per_ml=snapshot.concentration_ug_per_ml,
            weekday=snapshot.weekday,
            minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
        )
        self.weekly = draft.weekly
        self.days = [texts_of(day) for day in draft.days]
        blocked = self.page.weekly_check.blockSignals(True)
        self.page.weekly_check.setChecked(self.weekly)
        self.page.weekly_check.blockSignals(blocked)

    def reset(self) -> None:
        """Drop the edits and start again from the pump's profile."""
        self.touched = False
        if self.snapshot is not None:
            self._load_from_pump(self.snapshot)
        self._show_day()

    def _on_weekly(self, weekly: bool) -> None:
        if weekly == self.weekly:
            return
        self.touched = True
        if weekly:
            self.days = [list(self.days[0]) for _ in range(7)]
        else:
            # Leaving per-weekday profiles keeps the profile shown.
            self.days = [self.days[self.weekday]]
        self.weekly = weekly
        self._show_day()

    def copy_to_all_days(self) -> None:
        if not self.weekly:
            return
        self.touched = True
        shown = list(self.days[self.weekday])
        self.days = [list(shown) for _ in range(7)]
        self._show_day()

    def add_step(self) -> None:
        """Split the selected step (the last if none) in two at its middle quarter hour, so
        the day stays covered; the clinician then sets the times and doses."""
        self.touched = True
        rows = self.days[self._day_index()]
        current = self.page.table.currentRow()
        at = current if 0 <= current < len(rows) else len(rows) - 1
        new_row: tuple[str, str, str] = ("", "", "")
        if at >= 0:
            start_text, end_text, dose = rows[at]
            try:
                start = parse_time_of_day(start_text)
                end = parse_time_of_day(end_text, allow_midnight_end=True)
            except InputError:
                start = end = 0
            middle = (start + end) // 2 // STEP_GRANULARITY_MIN * STEP_GRANULARITY_MIN
            if start < middle < end:
                rows[at] = (start_text, format_minute(middle), dose)
                new_row = (format_minute(middle), end_text, dose)
        rows.insert(at + 1, new_row)
        self._show_day()
        self.page.table.setCurrentCell(at + 1, 0)

    def remove_step(self) -> None:
        rows = self.days[self._day_index()]
        current = self.page.table.currentRow()
        if 0 <= current < len(rows):
            self.touched = True
            del rows[current]
            self._show_day()

    def _on_table_edited(self) -> None:
        self.touched = True
        self.days[self._day_index()] = self.page.cell_texts()
        self._update()

    # -- showing ----------------------------------------------------------------------------

    def _show_day(self) -> None:
        page = self.page
        page.weekday_combo.setEnabled(True)
        page.copy_button.setEnabled(self.weekly)
        page.weekday_label.setText("&Weekday:" if self.weekly else "C&hart day:")
        page.set_rows([(*texts, "", "") for texts in self.days[self._day_index()]])
        self._update()

    def _update(self) -> None:
        page = self.page
        snapshot = self.snapshot
        page.review_button.setEnabled(False)
        if snapshot is None or snapshot.prescription is None:
            page.message.set_status(Severity.INFO, "Interrogate the pump (clinician role) first.")
            page.dose_label.setText("—")
            return
        conc = snapshot.concentration_ug_per_ml
        all_rows: list[list[StepRow]] = []
        parse_errors: list[str] = []
        for index, texts in enumerate(self.days):
            rows, errors = parse_texts(texts)
            all_rows.append(rows)
            prefix = f"{page.weekday_combo.itemText(index)}: " if self.weekly else ""
            parse_errors += [prefix + e for e in errors]
        shown = all_rows[self._day_index()]
        for r, (start, end, dose) in enumerate(self.days[self._day_index()]):
            matches = [row for row in shown if format_minute(row.start_min) == start.strip()]
            if matches and end and dose:
                row = matches[0]
                rate = units.dose_to_rate_nl_per_day(row.dose_ug_per_day, conc)
                page.set_computed(
                    r, units.format_rate_nl_per_day(rate), units.format_dose_ug(row.dose_ug)
                )
            else:
                page.set_computed(r, "—", "—")
        current_rows = spec_day_rows(
            snapshot.require_prescription(),
            weekday=self.weekday,
            concentration_ug_per_ml=conc,
            minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
        )
        current_curve, pending_curve = day_curve(current_rows), day_curve(shown)
        self.draw_when_shown(
            lambda: set_profiles(page.chart, current=current_curve, pending=pending_curve),
        )
        self.draft = None
        if parse_errors:
            page.dose_label.setText("—")
            page.message.set_status(Severity.CRITICAL, "\n".join(parse_errors))
            return
        self.draft = FlexDraft(weekly=self.weekly, days=tuple(tuple(rows) for rows in all_rows))
        check = self.draft.check(
            device=snapshot.device,
            concentration_ug_per_ml=conc,
            bridge_concentration_ug_per_ml=(
                snapshot.status.bridge_concentration_ug_per_ml if snapshot.bridging else None
            ),
        )
        pending = daily_dose_ug(shown)
        current = snapshot.dose_ug_per_day
        percent = change_percent(current, pending)
        day = page.weekday_combo.currentText()
        page.dose_label.setText(
            f"{units.format_dose_ug_per_day(pending)} on {day}   "
            f"(now {units.format_dose_ug_per_day(current)}; "
            f"{format_change(percent, pending=pending)})"
        )
        if check.refusals:
            page.message.set_status(Severity.CRITICAL, "Refused:\n" + "\n".join(check.refusals))
            return
        if check.warnings:
            page.message.set_status(Severity.WARNING, "\n".join(w.text for w in check.warnings))
        else:
            page.message.set_status(Severity.OK, "The profile covers the day. Review to program.")
        page.review_button.setEnabled(True)

    # -- to the review ----------------------------------------------------------------------

    def open_review(self) -> None:
        """Present the review with the old and new profiles on one chart."""
        snapshot, draft = self.snapshot, self.draft
        if snapshot is None or draft is None:
            return
        try:
            review = build_review(draft, snapshot)
        except InputError as exc:
            self.page.message.set_status(Severity.CRITICAL, exc.message)
            return
        chart = profile_chart()
        current_rows = spec_day_rows(
            snapshot.require_prescription(),
            weekday=self.weekday,
            concentration_ug_per_ml=snapshot.concentration_ug_per_ml,
            minimum_mode_rate_nl_per_day=snapshot.device.minimum_mode_rate_nl_per_day,
        )
        set_profiles(
            chart,
            current=day_curve(current_rows),
            pending=day_curve(draft.day(self.weekday)),
            pending_name=f"New profile ({self.page.weekday_combo.currentText()})",
        )
        self.review_controller.present(
            review, on_programmed=self._on_programmed, on_cancel=self._on_cancel, chart=chart
        )

    def _on_programmed(self, snapshot: PumpSnapshot) -> None:
        self.touched = False
        self.on_snapshot(snapshot)
        self.page.message.set_status(
            Severity.OK,
            "Programmed and confirmed: the pump runs this profile now "
            f"({units.format_dose_ug_per_day(snapshot.dose_ug_per_day)} on "
            f"{self.page.weekday_combo.currentText()}).",
        )
        self.show_page()

    def _on_cancel(self) -> None:
        self.show_page()


install = FlexController.install
"""The flex dosing page."""
