"""The same-day clock: when a question is due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portal.timeutil import BEIJING


@dataclass(frozen=True)
class DueRule:
    """Received before `cutoff_hour` on a working day: due that day at `same_day_hour`; else next working day."""

    cutoff_hour: int = 16
    same_day_hour: int = 18
    next_day_hour: int = 12
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # make-up working days on a weekend (调休上班)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def later_by_working_days(self, due: datetime, days: int) -> datetime:
        """`due` moved `days` working days later, at the same Beijing time of day (an extension, 延期)."""
        local = due.astimezone(BEIJING)
        day = local.date()
        for _ in range(days):
            day = self.next_working_day(day)
        return datetime.combine(day, local.timetz().replace(tzinfo=None), BEIJING).astimezone(UTC)

    def due_at(self, received: datetime) -> datetime:
        """The due time (aware UTC) of a question received at `received` (aware)."""
        local = received.astimezone(BEIJING)
        day = local.date()
        if self.is_working_day(day) and local.time() < time(self.cutoff_hour):
            due = datetime.combine(day, time(self.same_day_hour), BEIJING)
        else:
            due = datetime.combine(self.next_working_day(day), time(self.next_day_hour), BEIJING)
        return due.astimezone(UTC)


def rule_from_config(config: Mapping[str, Any]) -> DueRule:
    """The rule configured by PORTAL_DUE_* settings, with the holidays of the calendar file (cached)."""
    from portal.services.calendar import load_calendar

    calendar = load_calendar(config.get("CALENDAR_FILE") or None)
    return DueRule(
        cutoff_hour=int(config.get("DUE_CUTOFF_HOUR", 16)),
        same_day_hour=int(config.get("DUE_SAME_DAY_HOUR", 18)),
        next_day_hour=int(config.get("DUE_NEXT_DAY_HOUR", 12)),
        holidays=calendar.holidays,
        workdays=calendar.workdays,
    )
