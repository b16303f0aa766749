"""Convert the real citizen-message corpus into the portal's question-import JSON Lines.

The corpus (TipDM Cup 2020, problem C, see ``../shared/corpus/README.md``) is evaluation and
benchmark material that must never be copied into this repository: this script reads it at run
time and writes a JSON Lines file that ``flask --app portal import-questions FILE`` accepts.

Every output line is one JSON object with exactly the keys ``title``, ``body``, ``asked_at``,
``department``, ``category``, ``reply``, ``replied_at`` and ``external_id``:

* ``asked_at`` / ``replied_at``: ISO 8601 with the Beijing offset (``2019-04-25T09:32:09+08:00``),
  ``""`` when absent. The corpus writes local times as ``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``
  or a bare date ``2019/4/25`` (read as midnight). Rows whose time cannot be parsed are reported
  on stderr and skipped.
* ``department`` / ``category``: always ``""`` (the corpus has neither in the portal's sense).
* ``external_id``: ``teddy-fj4-<留言编号>`` (answered messages) or ``teddy-fj3-<留言编号>``
  (unanswered ones, only with ``--include-unanswered``).
* Text is normalised: Excel escapes (``_x000D_``), NUL and other control characters removed,
  runs of spaces / tabs / NBSP / U+3000 collapsed, paragraphs (line breaks, or U+3000 indentation
  in the middle of a line) separated by exactly one blank line (``"\\n\\n"``, Markdown paragraphs),
  no indentation. Titles are a single line.
* The portal is anonymous: ``留言用户`` is not exported, and the pseudonyms that official replies
  use to address the citizen (``网友“A00012345”：您好``) are replaced by ``网友``.

Usage::

    python bench/corpus_to_jsonl.py [--corpus DIR] [--output FILE] [--include-unanswered]

``--corpus`` defaults to ``$PORTAL_CORPUS_DIR`` or ``../shared/corpus`` next to the repository;
``--output`` defaults to ``instance/corpus.jsonl`` in the repository (``-`` writes to stdout).
A summary (rows read, written, skipped and why) is printed on stderr.
"""

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_ENV = "PORTAL_CORPUS_DIR"
REPLIES_FILE = "teddy2020C_fj4_replies_full.jsonl"
LIKES_FILE = "teddy2020C_fj3_likes_full.jsonl"
OUTPUT_KEYS = (
    "title",
    "body",
    "asked_at",
    "department",
    "category",
    "reply",
    "replied_at",
    "external_id",
)
# Beijing local time. A fixed offset is exact here: China has not observed DST since 1991.
BEIJING = timezone(timedelta(hours=8))

# --------------------------------------------------------------------------- times

_TIME_RE = re.compile(
    r"(?P<y>\d{4})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?:(?:[ \t]+|T)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d{1,6})?)?)?"
)


class TimeParseError(ValueError):
    """A corpus time value that is not one of the understood formats (or not a real time)."""


def _match_time(value: object) -> re.Match[str]:
    if not isinstance(value, str):
        raise TimeParseError(f"not a string: {value!r}")
    match = _TIME_RE.fullmatch(value.strip())
    if match is None:
        raise TimeParseError(f"unknown time format: {value!r}")
    return match


def parse_corpus_time(value: object) -> datetime:
    """Parse a corpus time (Beijing local time, no zone) into an aware datetime at +08:00.

    Accepts ``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``, a bare date ``2019/4/25`` (midnight),
    and, for robustness, ``.`` as date separator, ``T`` as date/time separator, missing seconds
    and fractional seconds (dropped). Raises :class:`TimeParseError` otherwise, including for
    impossible dates such as ``2019/2/30``.
    """
    match = _match_time(value)
    try:
        return datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            tzinfo=BEIJING,
        )
    except ValueError as exc:
        raise TimeParseError(f"impossible time {value!r}: {exc}") from None


def describe_time_format(value: object) -> str:
    """A short label of a time value's shape, for the summary (e.g. ``Y/M/D h:m:s``)."""
    try:
        match = _match_time(value)
    except TimeParseError:
        return "unparsable"
    sep = match["sep"]
    date = f"Y{sep}M{sep}D"
    if match["H"] is None:
        return f"{date} (date only)"
    return f"{date} h:m:s" if match["S"] is not None else f"{date} h:m"


def to_iso(value: object) -> str:
    """``parse_corpus_time`` as an ISO 8601 string, e.g. ``2019-04-25T09:32:09+08:00``."""
    return parse_corpus_time(value).isoformat()


# --------------------------------------------------------------------------- text

# Excel's XML escapes of control characters, e.g. "_x000D_" for a carriage return.
_EXCEL_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")
# Line separators other than "\n" (CR, VT, FF, NEL, LINE/PARAGRAPH SEPARATOR).
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\v\f\x85\u2028\u2029", "\n"))
# Control characters (Cc) other than "\n" and "\t", and invisible zero-width characters: deleted.
_DELETE = str.maketrans(
    dict.fromkeys(
        [chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"]
        + ["\u200b", "\u2060", "\ufeff"],
        None,
    )
)
# Horizontal white space other than U+3000 (kept until paragraphs are found).
_HSPACE = "\t \u00a0\u1680\u2000-\u200a\u202f\u205f"
_HSPACE_RE = re.compile(f"[{_HSPACE}]")
# A paragraph break: any white-space run holding a line break, or two or more U+3000 (the
# full-width indentation that starts a paragraph), or four or more spaces of any kind.
_PARAGRAPH_BREAK_RE = re.compile(
    f"[{_HSPACE}\u3000]*\n[{_HSPACE}\u3000\n]*"
    f"|[{_HSPACE}\u3000]*\u3000[{_HSPACE}]*\u3000[{_HSPACE}\u3000]*"
    f"|[{_HSPACE}\u3000]{{4,}}"
)
_SPACE_RUN_RE = re.compile(f"[{_HSPACE}\u3000\n]+")
# Full-width (CJK) punctuation: a space next to it is redundant and is dropped.
_CJK_PUNCT = (
    "\u3001-\u3003\u3008-\u3011\u3014-\u301f"  # 、。〃 〈〉《》「」『』【】 〔〕…
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # ！（），：；？ ［］ ｛｝～…
    "“”‘’…—·"
)
_SPACE_NEAR_PUNCT_RE = re.compile(f"(?<=[{_CJK_PUNCT}]) | (?=[{_CJK_PUNCT}])")


def _clean_characters(text: str) -> str:
    text = _EXCEL_ESCAPE_RE.sub(lambda m: chr(int(m[1], 16)), text)
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    return text.translate(_DELETE)


def _collapse_spaces(text: str) -> str:
    text = _SPACE_RUN_RE.sub(" ", text)
    return _SPACE_NEAR_PUNCT_RE.sub("", text).strip()


def normalize_text(text: str, *, paragraphs: bool = True) -> str:
    """Normalise corpus white space and strip control characters.

    With ``paragraphs`` (bodies and replies) paragraph breaks become exactly ``"\\n\\n"`` and every
    paragraph is a single line without indentation; without it (titles) the result is one line.
    Inside a line, runs of spaces, tabs, NBSP and U+3000 become one space, and a space next to
    full-width punctuation is dropped.
    """
    text = _clean_characters(text)
    if not paragraphs:
        return _collapse_spaces(text)
    parts = (_collapse_spaces(part) for part in _PARAGRAPH_BREAK_RE.split(text))
    return "\n\n".join(part for part in parts if part)


# --------------------------------------------------------------------------- pseudonyms

# The corpus pseudonymises users as A000xxxxx / UUxxxxxxx (some A9xxxxxx, Uxxxxxxx). Candidates
# are such tokens not glued to other letters or digits; they are redacted when they are a known
# user (of any row read) or have the unmistakable A000… / UU00… shape (replies sometimes quote
# a truncated pseudonym).
_PSEUDONYM_CANDIDATE = r"(?<![A-Za-z0-9])(?:A|UU?)\d{4,10}(?![0-9])"
_PSEUDONYM_SHAPE_RE = re.compile(r"(?:A000|UU00)\d+")
# The candidate with the forms replies use to address the citizen around it:
# 网友“A00012345”， “A00012345”网友， 网友A00012345 … all become 网友.
_ADDRESS_RE = re.compile(
    r"(?P<pre>网友[ \u00a0]*)?(?P<open>[“\"「『][ \u00a0]*)?"
    rf"(?P<id>{_PSEUDONYM_CANDIDATE})"
    r"(?P<close>[ \u00a0]*[”\"」』])?(?P<post>[ \u00a0]*网友)?"
)
_EMPTY_ADDRESS_RE = re.compile(r"网友[“\"][ \u00a0]*[”\"]")


def redact_pseudonyms(text: str, user: str = "", known_users: Iterable[str] = ()) -> tuple[str, int]:
    """Replace user pseudonyms (and the quotes / 网友 around them) in ``text`` by ``网友``.

    ``user`` is the row's own pseudonym (always redacted, wherever it occurs); ``known_users``
    are the pseudonyms of all rows read. Returns the text and the number of replacements.
    """
    known = known_users if isinstance(known_users, set | frozenset) else set(known_users)
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        token = match["id"]
        if token != user and token not in known and not _PSEUDONYM_SHAPE_RE.fullmatch(token):
            return match[0]
        count += 1
        paired = match["open"] is not None and match["close"] is not None
        opening = "" if paired or match["open"] is None else match["open"]
        closing = "" if paired or match["close"] is None else match["close"]
        return f"{opening}网友{closing}"

    text = _ADDRESS_RE.sub(replace, text)
    if user and user in text:  # glued to letters or digits: not caught by the pattern
        count += text.count(user)
        text = text.replace(user, "网友")
    text = _EMPTY_ADDRESS_RE.sub("网友", text)  # 网友“”： (pseudonym already blanked upstream)
    text = re.sub(r"(?:网友){2,}", "网友", text)
    return text, count


# --------------------------------------------------------------------------- conversion


class SkipRow(Exception):
    """A corpus row that cannot be exported; ``reason`` is counted in the summary."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


REPLIED_BEFORE_ASKED = "答复时间 earlier than 留言时间 (kept as given)"


class Summary:
    """Counters for the stderr summary."""

    def __init__(self) -> None:
        self.read: Counter[str] = Counter()
        self.written: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.time_formats: Counter[str] = Counter()
        self.notes[REPLIED_BEFORE_ASKED] = 0  # always reported

    def report(self, stream: TextIO) -> None:
        """Write the summary to ``stream``."""
        for name in self.read:
            print(
                f"{name}: read {self.read[name]}, written {self.written[name]}, "
                f"skipped {self.read[name] - self.written[name]}",
                file=stream,
            )
        total_read, total_written = sum(self.read.values()), sum(self.written.values())
        print(
            f"total: read {total_read}, written {total_written}, skipped {total_read - total_written}",
            file=stream,
        )
        for title, counter in (
            ("skipped, by reason", self.skipped),
            ("notes", self.notes),
            ("time formats", self.time_formats),
        ):
            print(f"{title}:", file=stream)
            for key, number in sorted(counter.items(), key=lambda item: (-item[1], item[0])):
                print(f"  {key}: {number}", file=stream)
            if not counter:
                print("  (none)", file=stream)


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _time(row: dict[str, Any], key: str, summary: Summary) -> str:
    value = row.get(key)
    try:
        iso = to_iso(value)
    except TimeParseError as exc:
        raise SkipRow(f"unparsable {key}", str(exc)) from None
    summary.time_formats[f"{key} {describe_time_format(value)}"] += 1
    return iso


def convert_row(
    row: dict[str, Any], prefix: str, answered: bool, known_users: set[str], summary: Summary
) -> dict[str, str]:
    """Turn one corpus row into an import record (raises :class:`SkipRow`)."""
    user = _text(row, "留言用户").strip()
    redactions = 0

    def clean(key: str, paragraphs: bool = True) -> str:
        nonlocal redactions
        text, count = redact_pseudonyms(_text(row, key), user, known_users)
        redactions += count
        return normalize_text(text, paragraphs=paragraphs)

    title = clean("留言主题", paragraphs=False)
    body = clean("留言详情")
    if not title:
        raise SkipRow("empty 留言主题")
    if not body:
        raise SkipRow("empty 留言详情")
    asked = _time(row, "留言时间", summary) if _text(row, "留言时间").strip() else ""
    if not asked:
        raise SkipRow("missing 留言时间")
    reply = clean("答复意见") if answered else ""
    replied = ""
    if reply:
        if _text(row, "答复时间").strip():
            replied = _time(row, "答复时间", summary)
            if datetime.fromisoformat(replied) < datetime.fromisoformat(asked):
                summary.notes[REPLIED_BEFORE_ASKED] += 1
        else:
            summary.notes["reply without 答复时间 (replied_at empty)"] += 1
    elif answered:
        summary.notes["empty 答复意见 (exported as unanswered)"] += 1
    if redactions:
        summary.notes["rows with pseudonyms in the text (replaced by 网友)"] += 1
        summary.notes["pseudonyms replaced by 网友"] += redactions
    record = {
        "title": title,
        "body": body,
        "asked_at": asked,
        "department": "",
        "category": "",
        "reply": reply,
        "replied_at": replied,
        "external_id": f"{prefix}{_text(row, '留言编号').strip()}",
    }
    assert tuple(record) == OUTPUT_KEYS
    return record


def read_jsonl(path: Path, summary: Summary, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """Read a corpus file; lines that are not JSON objects are counted, reported and dropped."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            summary.read[path.name] += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                summary.skipped["invalid JSON"] += 1
                warn(f"skipped {path.name} line {number}: invalid JSON ({exc})")
                continue
            if not isinstance(row, dict):
                summary.skipped["not a JSON object"] += 1
                warn(f"skipped {path.name} line {number}: not a JSON object")
                continue
            row["_line"] = number
            rows.append(row)
    return rows


def convert(
    corpus: Path, include_unanswered: bool, summary: Summary, warn: Callable[[str], None]
) -> Iterator[dict[str, str]]:
    """Yield the import records of the corpus in ``corpus`` (file order, answered ones first)."""
    sources = [(REPLIES_FILE, "teddy-fj4-", True)]
    if include_unanswered:
        sources.append((LIKES_FILE, "teddy-fj3-", False))
    loaded = [
        (read_jsonl(corpus / name, summary, warn), name, prefix, answered)
        for name, prefix, answered in sources
    ]
    known_users = {_text(row, "留言用户").strip() for rows, *_ in loaded for row in rows} - {""}
    seen: set[str] = set()
    for rows, name, prefix, answered in loaded:
        for row in rows:
            where = f"{name} line {row['_line']}"
            try:
                message_id = _text(row, "留言编号").strip()
                if not message_id:
                    raise SkipRow("missing 留言编号")
                where = f"{prefix}{message_id} ({where})"
                if prefix + message_id in seen:
                    raise SkipRow("duplicate 留言编号")
                record = convert_row(row, prefix, answered, known_users, summary)
            except SkipRow as skip:
                summary.skipped[skip.reason] += 1
                warn(f"skipped {where}: {skip.reason}" + (f" ({skip.detail})" if skip.detail else ""))
                continue
            seen.add(record["external_id"])
            summary.written[name] += 1
            yield record


# --------------------------------------------------------------------------- command line


def default_corpus_dir() -> Path:
    """``$PORTAL_CORPUS_DIR`` if set, else ``../shared/corpus`` relative to the repository root."""
    configured = os.environ.get(CORPUS_ENV, "").strip()
    return Path(configured).expanduser() if configured else (REPO_ROOT.parent / "shared" / "corpus").resolve()


def default_output() -> Path:
    """``instance/corpus.jsonl`` in the repository (``instance/`` is git-ignored)."""
    return REPO_ROOT / "instance" / "corpus.jsonl"


def _write(records: Iterable[dict[str, str]], stream: TextIO) -> None:
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        description="Convert the citizen-message corpus into JSON Lines for "
        "`flask --app portal import-questions FILE`.",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"corpus folder (default: ${CORPUS_ENV} or {default_corpus_dir()})",
    )
    parser.add_argument(
        "--output",
        default=None,
        help=f"output file, '-' for stdout (default: {default_output()})",
    )
    parser.add_argument(
        "--include-unanswered",
        action="store_true",
        help=f"also export the unanswered messages of {LIKES_FILE} (reply and replied_at empty)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; returns the process exit status."""
    args = build_parser().parse_args(argv)
    corpus: Path = args.corpus if args.corpus is not None else default_corpus_dir()
    needed = [REPLIES_FILE] + ([LIKES_FILE] if args.include_unanswered else [])
    missing = [name for name in needed if not (corpus / name).is_file()]
    if missing:
        print(
            f"error: {', '.join(missing)} not found in {corpus} (use --corpus DIR or ${CORPUS_ENV})",
            file=sys.stderr,
        )
        return 1

    def warn(message: str) -> None:
        print(message, file=sys.stderr)

    summary = Summary()
    records = convert(corpus, args.include_unanswered, summary, warn)
    output = args.output if args.output is not None else str(default_output())
    if output == "-":
        utf8 = (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
        if not utf8 and hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8")
        _write(records, sys.stdout)
        sys.stdout.flush()
        target = "stdout"
    else:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write next to the target and rename, so a failed run never leaves half a file behind.
        partial = path.with_name(f".{path.name}.partial")
        try:
            with partial.open("w", encoding="utf-8", newline="\n") as handle:
                _write(records, handle)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        target = str(path)
    print(f"corpus: {corpus}\noutput: {target}", file=sys.stderr)
    summary.report(sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
