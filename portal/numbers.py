"""Parsing numbers typed by people: ASCII digits only (str.isdigit also accepts '²' and other digits)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only."""
    return bool(_DIGITS.fullmatch(text or ""))


def page_count(total: int, per_page: int) -> int:
    """How many pages `total` items fill at `per_page` a page; an empty list is still one page."""
    return max(1, -(-total // per_page))


def parse_positive_int(text: str, maximum: int) -> int | None:
    """The integer in 1..maximum that `text` spells in ASCII digits, or None."""
    text = (text or "").strip()
    if not is_ascii_digits(text) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if 0 < value <= maximum else None
