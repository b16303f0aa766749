"""The holiday and make-up-workday calendar (content/calendar.txt) that the same-day clock counts on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "content" / "calendar.txt"
HOLIDAY_WORDS = {"休", "holiday"}
WORKDAY_WORDS = {"班", "workday"}
MAX_RANGE_DAYS = 31


class CalendarError(ValueError):
    """A line of the calendar file cannot be read; the message names the line."""


@dataclass(frozen=True)
class Calendar:
    """Holidays (no work) and make-up workdays (work on a weekend day)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @property
    def years(self) -> list[int]:
        return sorted({d.year for d in self.holidays | self.workdays})


def _dates(text: str) -> list[date]:
    if ".." in text:
        first, last = (date.fromisoformat(part) for part in text.split("..", 1))
        if not 0 <= (last - first).days <= MAX_RANGE_DAYS:
            raise ValueError("range")
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [date.fromisoformat(text)]


def parse_calendar(text: str) -> Calendar:
    """Read the calendar format: `DATE[..DATE] 休|班 [note]` per line, # comments."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2 or parts[1] not in HOLIDAY_WORDS | WORKDAY_WORDS:
            raise CalendarError(f"calendar line {lineno}: expected 'DATE 休|班 note', got {raw!r}")
        try:
            days = _dates(parts[0])
        except ValueError as exc:
            raise CalendarError(f"calendar line {lineno}: bad date or range {parts[0]!r}") from exc
        (holidays if parts[1] in HOLIDAY_WORDS else workdays).update(days)
    both = holidays & workdays
    if both:
        raise CalendarError(f"calendar: dates both holiday and workday: {sorted(both)}")
    return Calendar(frozenset(holidays), frozenset(workdays))


_cache: dict[str, tuple[float, Calendar]] = {}
_lock = threading.Lock()


def load_calendar(path: str | Path | None = None) -> Calendar:
    """The calendar in `path` (default content/calendar.txt), cached until the file changes; empty if missing."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        mtime = file.stat().st_mtime
    except OSError:
        return Calendar()
    key = str(file)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    calendar = parse_calendar(file.read_text(encoding="utf-8"))
    with _lock:
        _cache[key] = (mtime, calendar)
    return calendar
