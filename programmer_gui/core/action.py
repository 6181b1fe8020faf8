"""What "Program pump" sends, and the one executor of a staged change.

Every review carries a :class:`ProgramAction`: ``run(client)`` on the link's worker
thread, ``verify(snapshot)`` on the next interrogation. Most actions are one request
(:func:`one_step`). A change the pump takes in two phases (a prescription, a refill
with its new prescription and bridge) runs through :class:`StagedChange`: stage, check
what the pump staged against what was reviewed, commit; a failure is an
:class:`~programmer_gui.core.ActionError` saying whether anything was applied. It is
safe to run again after a failure: a commit whose answer was lost is looked up on the
pump before the change is staged again, so nothing is ever applied twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from programmer_gui.core import ActionError
from protocol import messages as m
from protocol.errors import LinkClosed, LinkTimeout, ProtocolError

if TYPE_CHECKING:
    from programmer_gui.core.snapshot import PumpSnapshot
    from protocol.client import PumpClient

__all__ = [
    "UNCERTAIN",
    "ProgramAction",
    "StagedChange",
    "one_step",
    "program_action",
    "verify_prescription",
]

UNCERTAIN = (LinkTimeout, LinkClosed)
"""Failures after which the pump may or may not have carried the step out."""

S = TypeVar("S")
"""What staging answers (the checksum the pump computed, or its whole answer)."""
C = TypeVar("C")
"""What committing answers."""


@dataclass(frozen=True, kw_only=True)
class ProgramAction:
    """What "Program pump" sends, without Qt.

    ``run(client)`` runs on the link's worker thread and returns a
    confirmation text; it raises on any failure (a protocol error, or an
    :class:`~programmer_gui.core.ActionError` naming the steps already done).
    ``verify(snapshot)`` is true when a fresh interrogation shows the pump
    runs the new settings.
    """

    description: str
    """What will be sent, in words ("Program simple 400 mcg/day")."""
    run: Callable[[PumpClient], str]
    verify: Callable[[PumpSnapshot], bool]
    steps: tuple[str, ...] = ()
    """The steps ``run`` carries out, in order, in words."""


def one_step(
    description: str, run: Callable[[PumpClient], str], verify: Callable[[PumpSnapshot], bool]
) -> ProgramAction:
    """An action of one request: its description is its one step."""
    return ProgramAction(description=description, run=run, verify=verify, steps=(description,))


class StagedChange(Generic[S, C]):
    """One step the pump takes in two phases: stage, check the staged answer, commit.

    ``mismatch(staged)`` is None when the pump staged what was reviewed, else what it
    staged instead, in words (nothing is committed then). ``applied(client)`` tells,
    after a commit whose answer was lost, whether the pump carried it out (it is then
    not sent again). ``kept`` names what the pump keeps when nothing was applied ("its
    prescription").
    """

    def __init__(
        self,
        *,
        step: str,
        kept: str,
        stage: Callable[[PumpClient], S],
        mismatch: Callable[[S], str | None],
        commit: Callable[[PumpClient, S], C],
        applied: Callable[[PumpClient], bool],
        confirmation: Callable[[C | None], str],
    ) -> None:
        self.step = step
        self._kept = kept
        self._stage = stage
        self._mismatch = mismatch
        self._commit = commit
        self._applied = applied
        self._confirmation = confirmation
        self._done = False
        self._uncertain = False

    @property
    def steps(self) -> tuple[str, ...]:
        return (self.step,)

    @property
    def completed(self) -> tuple[str, ...]:
        return (self.step,) if self._done else ()

    def action(self, verify: Callable[[PumpSnapshot], bool]) -> ProgramAction:
        """This change as the review's action."""
        return ProgramAction(description=self.step, run=self.run, verify=verify, steps=self.steps)

    def run(self, client: PumpClient) -> str:
        """Stage, check, commit; an ActionError says whether anything was applied."""
        if self._done:
            return self._confirmation(None)
        if self._uncertain:
            try:
                applied = self._applied(client)
            except ProtocolError as exc:
                raise self._failure(exc, uncertain=True) from exc
            if applied:
                self._uncertain = False
                self._done = True
                return self._confirmation(None)
        try:
            staged = self._stage(client)
        except ProtocolError as exc:
            raise self._failure(exc, uncertain=False) from exc
        other = self._mismatch(staged)
        if other is not None:
            raise ActionError(
                f"{self.step}: not committed. The pump staged something other than what was "
                f"reviewed ({other}). Nothing was applied: the pump keeps {self._kept}.",
                completed=(),
                failed_step=self.step,
            )
        try:
            committed = self._commit(client, staged)
        except UNCERTAIN as exc:
            self._uncertain = True
            raise self._failure(exc, uncertain=True) from exc
        except ProtocolError as exc:
            raise self._failure(exc, uncertain=False) from exc
        self._uncertain = False
        self._done = True
        return self._confirmation(committed)

    def _failure(self, exc: Exception, *, uncertain: bool) -> ActionError:
        if uncertain:
            outcome = (
                f"The link failed during the change ({exc}); the pump either committed it "
                "whole or not at all. Reconnect and program again: a change the pump already "
                "carried out is not sent again."
            )
        else:
            outcome = (
                f"The pump refused it ({exc}). Nothing was applied: the pump keeps {self._kept}."
            )
        return ActionError(f"{self.step}: failed. {outcome}", completed=(), failed_step=self.step)


def verify_prescription(spec: m.PrescriptionSpec) -> Callable[[PumpSnapshot], bool]:
    """A verify function: the snapshot's active prescription is ``spec`` (and its checksum)."""
    checksum = m.prescription_checksum(spec)

    def verify(snapshot: PumpSnapshot) -> bool:
        return snapshot.prescription == spec and snapshot.status.prescription_checksum == checksum

    return verify


def program_action(spec: m.PrescriptionSpec, *, summary: str) -> ProgramAction:
    """Stage ``spec``, check the pump's checksum, commit, and read it back.

    The pump runs its old prescription until the commit succeeds.
    """
    expected = m.prescription_checksum(spec)

    def mismatch(staged: int) -> str | None:
        if staged == expected:
            return None
        return f"checksum 0x{staged:08x}; expected 0x{expected:08x}"

    def commit(client: PumpClient, staged: int) -> int:
        return client.commit(staged)

    def applied(client: PumpClient) -> bool:
        active = client.read_prescription()
        return active.prescription == spec and active.checksum == expected

    def confirmation(committed: int | None) -> str:
        if committed is None:
            how = "found on the pump after the link failed"
        else:
            how = f"prescription checksum 0x{committed:08X} staged and committed"
        return f"The pump now runs {summary} ({how})."

    change: StagedChange[int, int] = StagedChange(
        step=f"Program {summary}",
        kept="its previous prescription",
        stage=lambda client: client.stage(spec),
        mismatch=mismatch,
        commit=commit,
        applied=applied,
        confirmation=confirmation,
    )
    return change.action(verify_prescription(spec))
