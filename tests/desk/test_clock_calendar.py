"""The same-day clock with the calendar file: weekends, holidays and make-up workdays (调休上班)."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal.services.calendar import CalendarError, load_calendar, parse_calendar
from portal.services.clock import rule_from_config
from portal.timeutil import BEIJING


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def rule():
    return rule_from_config({})


def due(rule, *args) -> datetime:
    return rule.due_at(bj(*args)).astimezone(BEIJING)


def test_the_shipped_calendar_covers_2025_to_2027_and_makeup_days_fall_on_weekends():
    calendar = load_calendar()
    assert calendar.years == [2025, 2026, 2027]
    assert all(day.weekday() >= 5 for day in calendar.workdays)
    assert bj(2026, 10, 10).date() in calendar.workdays


def test_weekend_goes_to_monday(rule):
    assert due(rule, 2026, 11, 27, 15, 0) == bj(2026, 11, 27, 18, 0)  # Friday before the cut-off
    assert due(rule, 2026, 11, 27, 16, 0) == bj(2026, 11, 30, 12, 0)  # Friday at the cut-off -> Monday noon
    assert due(rule, 2026, 11, 29, 9, 0) == bj(2026, 11, 30, 12, 0)  # Sunday morning -> Monday noon


def test_national_day_2026_holiday_and_makeup_saturday(rule):
    assert due(rule, 2026, 9, 30, 17, 0) == bj(2026, 10, 8, 12, 0)  # eve of the week off -> 8 Oct
    assert due(rule, 2026, 10, 3, 10, 0) == bj(2026, 10, 8, 12, 0)  # during the holiday
    assert due(rule, 2026, 10, 10, 9, 0) == bj(2026, 10, 10, 18, 0)  # Saturday worked (调休上班): same day
    assert due(rule, 2026, 10, 9, 17, 0) == bj(2026, 10, 10, 12, 0)  # Friday evening -> the make-up Saturday


def test_spring_festival_2026_and_2025(rule):
    assert due(rule, 2026, 2, 13, 16, 30) == bj(2026, 2, 14, 12, 0)  # Fri evening -> Sat 14 Feb is a workday
    assert due(rule, 2026, 2, 14, 17, 0) == bj(2026, 2, 24, 12, 0)  # nine days off, back on Tuesday 24 Feb
    assert due(rule, 2025, 1, 26, 10, 0) == bj(2025, 1, 26, 18, 0)  # Sunday worked before the 2025 festival
    assert due(rule, 2025, 1, 27, 17, 0) == bj(2025, 2, 5, 12, 0)


def test_new_year_2026_sunday_is_worked(rule):
    assert due(rule, 2025, 12, 31, 17, 0) == bj(2026, 1, 4, 12, 0)


def test_the_rule_is_configurable_and_the_file_too(tmp_path):
    path = tmp_path / "cal.txt"
    path.write_text("2030-01-07 休 test\n2030-01-05 班 test\n", encoding="utf-8")
    rule = rule_from_config({"CALENDAR_FILE": str(path), "DUE_CUTOFF_HOUR": 12, "DUE_SAME_DAY_HOUR": 17,
                             "DUE_NEXT_DAY_HOUR": 10})
    assert due(rule, 2030, 1, 4, 11, 0) == bj(2030, 1, 4, 17, 0)  # Friday before noon
    assert due(rule, 2030, 1, 4, 13, 0) == bj(2030, 1, 5, 10, 0)  # Saturday is a make-up day
    assert due(rule, 2030, 1, 5, 13, 0) == bj(2030, 1, 8, 10, 0)  # Sunday, then the Monday holiday


def test_bad_calendar_lines_are_refused_with_the_line_number():
    with pytest.raises(CalendarError, match="line 2"):
        parse_calendar("2026-01-01 休\n2026-13-01 休\n")
    with pytest.raises(CalendarError):
        parse_calendar("2026-01-01 放假\n")
