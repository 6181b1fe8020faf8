"""An MRI exposure as the pump's motor lives it (SynchroMed-like pumps, domain.md).

The scanner's field stops the rotor: for the whole exposure the motor is stalled (a
MOTOR_STALL, logged, with its critical alarm), and delivery is halted. On leaving the
field the motor may turn again at once or only after a recovery delay (reported
between 2 and 24 h). If electromagnetic interference switched the pump into telemetry
mode while an alarm sounded (the stall's own counts), infusion stays suspended after
the scan until the pump is interrogated by a clinician or a patient session. And the
stall recovery may be written to the log only at the second interrogation after it.

The pump never knows it was in a scanner: it only sees a motor that will not turn.
What the world decided (the delay, whether the trap fired) comes in as plain values;
the emulator draws them, seeded.
"""

from __future__ import annotations

from protocol.frozen import mutable


@mutable
class MriState:
    """One exposure, from entering the field until its stall recovery is logged."""

    since_t: int
    """Model second the motor stopped (entering the field)."""
    in_field: bool = True
    resume_at_t: int | None = None
    """Once out of the field: the second the motor can turn again (end + recovery delay)."""
    trapped: bool = False
    """Telemetry mode: infusion waits for an interrogation after the scan."""
    log_at_second_interrogation: bool = False
    """STALL_RECOVERY is written only once the pump has been interrogated twice since it
    left the field (and has recovered)."""
    interrogations: int = 0
    """Interrogations (sessions opened) since the pump left the field."""
    recovered_t: int | None = None
    """Model second the motor turned again (delivery resumed), while its log is pending."""
    valve: bool = False
    """A valve pump's exposure (:mod:`firmware_model.valve`): no rotor to stop, nothing to
    recover; what the field did to the valves happened on entering it."""

    def recovery_loggable(self) -> bool:
        """Whether the motor has turned again and its STALL_RECOVERY may be logged now."""
        return self.recovered_t is not None and (
            not self.log_at_second_interrogation or self.interrogations >= 2
        )

    def stalled(self, t: int) -> bool:
        """Whether the exposure keeps the motor from turning at model second ``t``."""
        if self.valve or self.recovered_t is not None:
            return False
        if self.in_field or self.trapped:
            return True
        return self.resume_at_t is not None and t < self.resume_at_t

    def next_event_t(self, t: int) -> int | None:
        """The next second the stall may end by itself (the end of the recovery delay)."""
        if (
            not self.valve
            and self.recovered_t is None
            and not self.in_field
            and self.resume_at_t is not None
        ):
            return self.resume_at_t if self.resume_at_t > t else None
        return None
