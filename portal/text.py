"""The door for every text a person, an import or a fetched page gives: Unicode clean-up, width folding, visible
length.

- `clean` is applied before anything is stored or compared: line ends become "\\n", code points that XML 1.0
  forbids (C0 controls other than tab and newline, lone surrogates, U+FFFE/U+FFFF and the other non-characters)
  and the C1 controls are removed, and the text is put in NFC.
- `xml_safe` is the writers' guard (feeds, XLSX, iCalendar): it removes only what XML forbids, so a row stored
  before the door existed can never break a feed or a spreadsheet.
- `visible_length` / `is_blank` count what a reader sees: white space, format characters (zero-width space,
  joiners, direction marks, the BOM), combining marks and the blank-looking fillers do not count.
- `fold_width` folds full-width and other compatibility forms (NFKC) for codes and numbers typed with a Chinese
  input method (`２０２６…`, `６ＴＪＤ－…`); it is never applied to prose.
"""

from __future__ import annotations

import re
import unicodedata

# Non-characters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_XML_FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff{_NONCHARACTERS}]")
# At the door, DEL and the C1 controls go too: XML tolerates them, but no one means them (they are mojibake).
_DOOR_FORBIDDEN = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")
# Letters that render as nothing (Hangul fillers) and the blank braille pattern, used to fake content.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"))
# Characters that are certainly visible (printable ASCII, CJK ideographs and punctuation, full-width forms):
# counted in C, so only the rest is looked at one by one.
_PLAIN = re.compile("[!-~\u3001-\u303e\u4e00-\u9fff\uff01-\uff5e]+")


def clean(value: str | None) -> str:
    """The text as it may be stored: "\\n" line ends, no XML-forbidden code points or C1 controls, NFC."""
    if not value:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _DOOR_FORBIDDEN.sub("", value)
    return unicodedata.normalize("NFC", value)


def clean_line(value: str | None) -> str:
    """`clean`, then surrounding white space stripped (one-line fields: titles, names, reasons)."""
    return clean(value).strip()


def xml_safe(value: str) -> str:
    """`value` without the code points XML 1.0 forbids (the guard of every XML, XLSX and iCalendar writer)."""
    return _XML_FORBIDDEN.sub("", value) if _XML_FORBIDDEN.search(value) else value


def is_visible(ch: str) -> bool:
    """Whether one character shows as something a reader can see."""
    if ch in _BLANK_LETTERS or ch.isspace():
        return False
    return unicodedata.category(ch) not in _INVISIBLE_CATEGORIES


def visible_length(value: str | None) -> int:
    """How many visible characters `value` has (what emptiness and length rules count)."""
    if not value:
        return 0
    rest = _PLAIN.sub("", value)
    return len(value) - len(rest) + sum(1 for ch in rest if is_visible(ch))


def is_blank(value: str | None) -> bool:
    """True when nothing in `value` is visible (empty, white space, zero-width characters only, ...)."""
    return not any(is_visible(ch) for ch in value or "")


def fold_width(value: str | None) -> str:
    """Full-width and compatibility forms folded (NFKC), surrounding white space stripped: for codes and numbers."""
    return unicodedata.normalize("NFKC", clean(value)).strip()


def digits(value: str | None, limit: int = 20) -> str:
    """The ASCII digits of a number as typed (full-width folded, spaces and separators dropped), at most `limit`."""
    return "".join(ch for ch in fold_width(value) if "0" <= ch <= "9")[:limit]
