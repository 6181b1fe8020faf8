"""The alarm table: which alarms are active, since when, silenced or not, and their rules.

Rules, as data (:data:`ALARM_RULES`):

- An alarm is raised at the exact second its condition starts (the pump
  simulates event to event, so no crossing is ever late).
- *Silence* stops the tone and keeps the alarm active.
- Alarms whose condition ends by itself (low or empty reservoir after a
  refill, ERI or EOS after a battery change, a motor that turns again)
  **clear themselves** when the condition ends (logged as ALARM_CLEARED);
  while the condition persists a clinician's clear is refused with
  ConditionPersistsError. So for these alarms "active" always equals
  "condition present", and a second episode raises the alarm again.
- A low battery reset raises LOW_BATTERY_RESET (critical, not halting: the
  pump runs the keep-open minimum rate); it clears itself when a clinician
  programs a prescription.
- Memory errors are *latched*: an injected fault has no condition that ends
  by itself, so the alarm stays until a clinician clears it (the clear is
  the memory reset).
- Critical alarms that halt delivery (empty reservoir, EOS, motor stall,
  critical memory error) halt it for as long as they are active.
"""

from __future__ import annotations

from dataclasses import field

from firmware_model.errors import ConditionPersistsError, InvalidStateError
from firmware_model.profile import PumpProfile, ToneSpec
from protocol.enums import ALARM_CLASS, AlarmClass, AlarmCode
from protocol.frozen import frozen, mutable
from protocol.timebase import ceil_div


@frozen
class AlarmRule:
    """How one alarm behaves."""

    auto_clears: bool
    """Clears itself when its condition ends (False: latched until a clinician clears it)."""
    halts_delivery: bool
    """Delivery is halted while the alarm is active."""


ALARM_RULES: dict[AlarmCode, AlarmRule] = {
    AlarmCode.LOW_RESERVOIR: AlarmRule(auto_clears=True, halts_delivery=False),
    AlarmCode.ERI: AlarmRule(auto_clears=True, halts_delivery=False),
    AlarmCode.MEMORY_NON_CRITICAL: AlarmRule(auto_clears=False, halts_delivery=False),
    AlarmCode.EMPTY_RESERVOIR: AlarmRule(auto_clears=True, halts_delivery=True),
    AlarmCode.EOS: AlarmRule(auto_clears=True, halts_delivery=True),
    AlarmCode.MOTOR_STALL: AlarmRule(auto_clears=True, halts_delivery=True),
    AlarmCode.MEMORY_CRITICAL: AlarmRule(auto_clears=False, halts_delivery=True),
    # Condition: the reset's keep-open rate still runs; programming a prescription ends it.
    AlarmCode.LOW_BATTERY_RESET: AlarmRule(auto_clears=True, halts_delivery=False),
}


@frozen
class ActiveAlarm:
    """An alarm that is active: when it was raised (RTC) and whether it was silenced."""

    code: AlarmCode
    raised_at_clock_s: int
    silenced: bool = False


@frozen
class AlarmView:
    """What an interrogation reports about one active alarm."""

    code: AlarmCode
    alarm_class: AlarmClass
    raised_at_clock_s: int
    silenced: bool
    tone: ToneSpec
    """The tone pattern of the alarm's class."""
    next_tone_at_clock_s: int | None
    """RTC second the tone next sounds (raise time + k x repeat); None when silenced."""


def next_tone_at(*, raised_at_clock_s: int, repeat_s: int, clock_s: int) -> int:
    """First tone at or after ``clock_s`` of a pattern that started at ``raised_at_clock_s``."""
    if clock_s <= raised_at_clock_s:
        return raised_at_clock_s
    return raised_at_clock_s + ceil_div(clock_s - raised_at_clock_s, repeat_s) * repeat_s


@mutable
class AlarmTable:
    """The active alarms, keyed by code."""

    active: dict[AlarmCode, ActiveAlarm] = field(default_factory=dict)

    def is_active(self, code: AlarmCode) -> bool:
        """Whether ``code`` is active."""
        return code in self.active

    def raise_alarm(self, code: AlarmCode, clock_s: int) -> None:
        """Make ``code`` active as of ``clock_s`` (the caller checked it was not)."""
        self.active[code] = ActiveAlarm(code=code, raised_at_clock_s=clock_s)

    def check_silence(self, code: AlarmCode) -> None:
        """Raise InvalidStateError unless ``code`` is active and sounding."""
        alarm = self.active.get(code)
        if alarm is None:
            raise InvalidStateError(f"alarm {code.name} is not active")
        if alarm.silenced:
            raise InvalidStateError(f"alarm {code.name} is already silenced")

    def silence(self, code: AlarmCode) -> None:
        """Stop the tone of an active alarm; it stays active."""
        self.check_silence(code)
        alarm = self.active[code]
        self.active[code] = ActiveAlarm(
            code=code, raised_at_clock_s=alarm.raised_at_clock_s, silenced=True
        )

    def check_clear(self, code: AlarmCode) -> None:
        """Raise the refusal a clinician's clear gets, or return if it is allowed.

        Self-clearing alarms are active exactly while their condition is
        present, so clearing one by hand is always ConditionPersistsError.
        """
        if code not in self.active:
            raise InvalidStateError(f"alarm {code.name} is not active")
        if ALARM_RULES[code].auto_clears:
            raise ConditionPersistsError(code)

    def clear(self, code: AlarmCode) -> None:
        """Remove an alarm (a clinician's clear after check_clear, or an automatic clear)."""
        del self.active[code]

    def active_codes(self) -> tuple[AlarmCode, ...]:
        """Active alarms in code order."""
        return tuple(sorted(self.active))

    def silenced_codes(self) -> tuple[AlarmCode, ...]:
        """Active, silenced alarms in code order."""
        return tuple(code for code in sorted(self.active) if self.active[code].silenced)

    def halting_codes(self) -> tuple[AlarmCode, ...]:
        """Active alarms that halt delivery, in code order."""
        return tuple(code for code in sorted(self.active) if ALARM_RULES[code].halts_delivery)

    def views(self, profile: PumpProfile, clock_s: int) -> tuple[AlarmView, ...]:
        """Every active alarm as reported at ``clock_s``, in code order."""
        out = []
        for code in sorted(self.active):
            alarm = self.active[code]
            tone = profile.tone_for(ALARM_CLASS[code])
            out.append(
                AlarmView(
                    code=code,
                    alarm_class=ALARM_CLASS[code],
                    raised_at_clock_s=alarm.raised_at_clock_s,
                    silenced=alarm.silenced,
                    tone=tone,
                    next_tone_at_clock_s=None
                    if alarm.silenced
                    else next_tone_at(
                        raised_at_clock_s=alarm.raised_at_clock_s,
                        repeat_s=tone.repeat_s,
                        clock_s=clock_s,
                    ),
                )
            )
        return tuple(out)

    def sounding_tone(self, profile: PumpProfile) -> ToneSpec | None:
        """The pattern the pump sounds: that of the most severe unsilenced alarm, if any."""
        classes = [ALARM_CLASS[c] for c, a in self.active.items() if not a.silenced]
        if not classes:
            return None
        return profile.tone_for(max(classes))
