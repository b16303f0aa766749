"""The same-day clock: due times across the cut-off, weekends and holidays."""

from __future__ import annotations

from datetime import date, datetime

from portal.services.clock import DueRule
from portal.timeutil import BEIJING, format_duration


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def due(rule: DueRule, *args) -> datetime:
    return rule.due_at(bj(*args)).astimezone(BEIJING)


def test_before_cutoff_on_a_working_day_is_due_the_same_evening():
    assert due(DueRule(), 2026, 11, 25, 9, 0) == bj(2026, 11, 25, 18, 0)  # Wednesday
    assert due(DueRule(), 2026, 11, 25, 15, 59) == bj(2026, 11, 25, 18, 0)


def test_after_cutoff_is_due_next_working_day_noon():
    assert due(DueRule(), 2026, 11, 25, 16, 0) == bj(2026, 11, 26, 12, 0)
    assert due(DueRule(), 2026, 11, 27, 17, 30) == bj(2026, 11, 30, 12, 0)  # Friday evening -> Monday
    assert due(DueRule(), 2026, 11, 28, 10, 0) == bj(2026, 11, 30, 12, 0)  # Saturday morning -> Monday


def test_holidays_and_make_up_workdays():
    rule = DueRule(holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}), workdays=frozenset({date(2026, 10, 10)}))
    assert due(rule, 2026, 10, 1, 9, 0) == bj(2026, 10, 5, 12, 0)  # Thu holiday -> Fri holiday -> weekend -> Mon
    assert due(rule, 2026, 10, 10, 9, 0) == bj(2026, 10, 10, 18, 0)  # a Saturday worked as make-up day
    assert due(rule, 2026, 10, 9, 17, 0) == bj(2026, 10, 10, 12, 0)


def test_durations_in_chinese():
    from datetime import timedelta

    assert format_duration(timedelta(minutes=12)) == "12分钟"
    assert format_duration(timedelta(hours=5, minutes=20)) == "5小时20分钟"
    assert format_duration(timedelta(days=3, hours=4)) == "3天4小时"
