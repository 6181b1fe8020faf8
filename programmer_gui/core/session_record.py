"""SessionRecord: what was read and changed in one programming session, by whom, when.

Controllers call :meth:`SessionRecord.record` for every therapy change,
refill, bolus, alarm silence or clear, clock set, stop and resume, and
:meth:`SessionRecord.observe` with every snapshot; the session report (a
PDF) is built from it. Times are given, never read: the pump's clock (when
known) and the programmer's wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from programmer_gui.core import InputError
from programmer_gui.core.snapshot import PumpSnapshot
from protocol.enums import AlarmCode, Role


@dataclass(frozen=True, kw_only=True)
class SessionAction:
    """One recorded action."""

    action: str
    """What was done ("Dose changed", "Refill", "Alarm silenced")."""
    detail: str
    """The particulars, units included."""
    operator_role: Role
    """Who did it (the session's role)."""
    pump_clock_s: int | None
    """The pump's clock when it was done (None: not known, e.g. the link was down)."""
    wall_s: float
    """The programmer's clock when it was done (Unix seconds)."""
    before: str = ""
    """The setting before the action, as shown (empty: not applicable)."""
    after: str = ""
    """The setting after the action, as shown (empty: not applicable)."""
    operator_name: str = ""

    def __post_init__(self) -> None:
        if not self.action.strip():
            raise InputError("a session action needs a name")


class SessionRecord:
    """Every action of one session in order, and the first and last snapshot seen.

    Not thread-safe: the GUI thread owns it.
    """

    def __init__(self, operator_role: Role, *, operator_name: str = "") -> None:
        self.operator_role = operator_role
        self.operator_name = operator_name
        self._actions: list[SessionAction] = []
        self._first: PumpSnapshot | None = None
        self._last: PumpSnapshot | None = None
        self._alarms_seen: set[AlarmCode] = set()

    def record(
        self,
        action: str,
        detail: str,
        *,
        pump_clock_s: int | None,
        wall_s: float,
        before: str = "",
        after: str = "",
    ) -> None:
        """Add an action (in the order done)."""
        self._actions.append(
            SessionAction(
                action=action,
                detail=detail,
                operator_role=self.operator_role,
                pump_clock_s=pump_clock_s,
                wall_s=wall_s,
                before=before,
                after=after,
                operator_name=self.operator_name,
            )
        )

    def observe(self, snapshot: PumpSnapshot) -> None:
        """Note a snapshot: the first one is kept, the last one replaced, alarms collected."""
        if self._first is None:
            self._first = snapshot
        self._last = snapshot
        self._alarms_seen |= snapshot.alarm_codes

    @property
    def first_snapshot(self) -> PumpSnapshot | None:
        """The first snapshot of the session (what was found at interrogation)."""
        return self._first

    @property
    def last_snapshot(self) -> PumpSnapshot | None:
        """The latest snapshot (what the pump reports now)."""
        return self._last

    @property
    def actions(self) -> tuple[SessionAction, ...]:
        """Every recorded action, oldest first."""
        return tuple(self._actions)

    @property
    def alarms_seen(self) -> frozenset[AlarmCode]:
        """Every alarm code present in any snapshot observed."""
        return frozenset(self._alarms_seen)

    @property
    def started_wall_s(self) -> float | None:
        """The programmer's clock at the first snapshot (None: nothing read yet)."""
        return None if self._first is None else self._first.read_at_wall_s
