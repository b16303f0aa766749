"""Tests of ``bench/corpus_to_jsonl.py`` (corpus → question-import JSON Lines).

The real corpus is read from ``$PORTAL_CORPUS_DIR`` or ``../shared/corpus`` at run time and never
copied here; every other test uses hand-written strings and rows only. Without the corpus the
real-corpus tests skip, except on CI (``CI=true``) where they fail.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "corpus_to_jsonl.py"
KEYS = ("title", "body", "asked_at", "department", "category", "reply", "replied_at", "external_id")
EXPECTED_REPLY_ROWS = 2816
EXPECTED_LIKES_ROWS = 4326


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corpus_to_jsonl", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


c2j = _load_script()


def _require_corpus() -> Path:
    corpus = c2j.default_corpus_dir()
    if (corpus / c2j.REPLIES_FILE).is_file():
        return corpus
    reason = (
        f"real corpus not found: {corpus / c2j.REPLIES_FILE} is missing "
        f"(set {c2j.CORPUS_ENV} to the folder holding it)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires the corpus")
    pytest.skip(reason)


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _check_time(value: str, *, optional: bool) -> datetime | None:
    if optional and value == "":
        return None
    assert value.endswith("+08:00"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(hours=8), value
    return parsed


def _check_text(value: str, *, single_line: bool) -> None:
    assert value == value.strip(), repr(value[:40])
    assert "\t" not in value and "\r" not in value and "\u3000" not in value and "\xa0" not in value
    assert "_x000D_" not in value
    assert not any(unicodedata.category(ch) == "Cc" and ch != "\n" for ch in value), repr(value[:40])
    if single_line:
        assert "\n" not in value
    else:
        for paragraph in value.split("\n\n") if value else []:
            assert paragraph and paragraph == paragraph.strip() and "\n" not in paragraph, repr(paragraph)


def _pseudonyms_in(text: str, users: set[str]) -> set[str]:
    """Every pseudonym of ``users`` occurring anywhere in ``text`` (plain substring match)."""
    longest = max(map(len, users))
    found: set[str] = set()
    for match in re.finditer(r"[AU]", text):
        window = text[match.start() : match.start() + longest]
        found.update(window[:size] for size in range(2, len(window) + 1) if window[:size] in users)
    return found


# --------------------------------------------------------------------------- real corpus


def test_real_corpus_converts_to_import_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _require_corpus()
    output = tmp_path / "corpus.jsonl"

    assert c2j.main(["--corpus", str(corpus), "--output", str(output)]) == 0

    err = capsys.readouterr().err
    assert f"read {EXPECTED_REPLY_ROWS}, written {EXPECTED_REPLY_ROWS}, skipped 0" in err
    lines = output.read_text(encoding="utf-8").splitlines()
    assert len(lines) == EXPECTED_REPLY_ROWS
    source = _read_jsonl(corpus / c2j.REPLIES_FILE)
    users = {row["留言用户"] for row in source}
    user_of = {f"teddy-fj4-{row['留言编号']}": row["留言用户"] for row in source}

    records = [json.loads(line) for line in lines]
    for line, record in zip(lines, records, strict=True):
        assert tuple(record) == KEYS
        assert all(isinstance(value, str) for value in record.values())
        assert record["department"] == "" and record["category"] == ""
        asked = _check_time(record["asked_at"], optional=False)
        _check_time(record["replied_at"], optional=True)
        assert asked is not None
        assert record["title"] and record["body"] and record["reply"] and record["replied_at"]
        _check_text(record["title"], single_line=True)
        _check_text(record["body"], single_line=False)
        _check_text(record["reply"], single_line=False)
        assert not record["body"][0].isspace()
        assert user_of[record["external_id"]] not in line
    assert [r["external_id"] for r in records] == [f"teddy-fj4-{row['留言编号']}" for row in source]
    assert _pseudonyms_in("\n".join(lines), users) == set()

    # The odd time shapes of the corpus, found at run time in the source, map to ISO times.
    by_id = {r["external_id"]: r for r in records}
    for row in source:
        record = by_id[f"teddy-fj4-{row['留言编号']}"]
        for key, field in (("留言时间", "asked_at"), ("答复时间", "replied_at")):
            if re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", row[key]):
                assert record[field].endswith("T00:00:00+08:00"), (row[key], record[field])
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", row[key]):
                assert record[field] == row[key].replace(" ", "T") + "+08:00"


def test_real_corpus_with_unanswered_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _require_corpus()
    if not (corpus / c2j.LIKES_FILE).is_file():
        pytest.fail(f"{corpus / c2j.LIKES_FILE} is missing from the corpus")
    output = tmp_path / "all.jsonl"

    assert c2j.main(["--corpus", str(corpus), "--output", str(output), "--include-unanswered"]) == 0

    capsys.readouterr()
    records = _read_jsonl(output)
    assert len(records) == EXPECTED_REPLY_ROWS + EXPECTED_LIKES_ROWS
    unanswered = [r for r in records if r["external_id"].startswith("teddy-fj3-")]
    assert len(unanswered) == EXPECTED_LIKES_ROWS
    for record in unanswered:
        assert tuple(record) == KEYS
        assert record["reply"] == "" and record["replied_at"] == ""
        _check_time(record["asked_at"], optional=False)
        _check_text(record["body"], single_line=False)
    assert len({r["external_id"] for r in records}) == len(records)


# --------------------------------------------------------------------------- time parser


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019/4/25 9:32:09", "2019-04-25T09:32:09+08:00"),
        ("2018/12/31 22:21:59", "2018-12-31T22:21:59+08:00"),
        ("2019-04-08 08:37:20", "2019-04-08T08:37:20+08:00"),
        ("2019/4/25", "2019-04-25T00:00:00+08:00"),
        ("  2020/1/2 3:04:05 ", "2020-01-02T03:04:05+08:00"),
        ("2020-01-02", "2020-01-02T00:00:00+08:00"),
        ("2020/1/2 3:04", "2020-01-02T03:04:00+08:00"),
        ("2020-01-02T03:04:05", "2020-01-02T03:04:05+08:00"),
    ],
)
def test_time_parser_accepts_corpus_formats(value: str, expected: str) -> None:
    assert c2j.to_iso(value) == expected
    assert datetime.fromisoformat(expected) == c2j.parse_corpus_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        None,
        43580.4,
        "yesterday",
        "2019/13/1 10:00:00",
        "2019/2/30",
        "2019/4/25 24:00:00",
        "2019/4-25 10:00:00",
        "25/4/2019",
        "2019/4/25 9:32:09 extra",
    ],
)
def test_time_parser_rejects_other_values(value: object) -> None:
    with pytest.raises(c2j.TimeParseError):
        c2j.parse_corpus_time(value)


def test_time_format_labels() -> None:
    assert c2j.describe_time_format("2019/4/25 9:32:09") == "Y/M/D h:m:s"
    assert c2j.describe_time_format("2019-04-08 08:37:20") == "Y-M-D h:m:s"
    assert c2j.describe_time_format("2019/4/25") == "Y/M/D (date only)"
    assert c2j.describe_time_format("soon") == "unparsable"


# --------------------------------------------------------------------------- text normaliser


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\n\t\t第一段。\n\t第二段", "第一段。\n\n第二段"),
        ("您好！\u3000\u3000第一段。\u3000\u3000\u3000\u3000第二段。", "您好！\n\n第一段。\n\n第二段。"),
        ("标题行_x000D_\n\u3000\u3000正文", "标题行\n\n正文"),
        ("a\r\nb\rc", "a\n\nb\n\nc"),
        ("一\n\n\n\n二\n \n\t\n三", "一\n\n二\n\n三"),
        ("A  B\t\tC\xa0D\u3000E", "A B C D E"),
        ("句号。 下一句， 还有\u3000：", "句号。下一句，还有："),
        ("签名。\xa0 \xa0 \xa0 2020年1月1日", "签名。\n\n2020年1月1日"),
        ("NUL\x00here\x07 and\x1b[0m\u200b zero", "NULhere and[0m zero"),
        ("  \t\u3000 ", ""),
    ],
)
def test_normalize_paragraphs(raw: str, expected: str) -> None:
    assert c2j.normalize_text(raw) == expected


def test_normalize_title_is_one_line() -> None:
    assert (
        c2j.normalize_text("\t关于\n某路段\u3000\u3000的问题 \u200b", paragraphs=False)
        == "关于 某路段 的问题"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("网友“A00012345”：\u3000\u3000您好！", "网友：\u3000\u3000您好！"),
        ('"A00012345"网友：您好', "网友：您好"),
        ("A00012345：您好", "网友：您好"),
        ("对A00012345网友发的留言", "对网友发的留言"),
        ("网友“”：您好", "网友：您好"),
        ("网友“UU0012”：你好", "网友：你好"),  # truncated pseudonym of the A000/UU00 shape
        ("车牌湘A12345和电话0731", "车牌湘A12345和电话0731"),  # not a pseudonym: untouched
    ],
)
def test_redact_pseudonyms(raw: str, expected: str) -> None:
    text, _ = c2j.redact_pseudonyms(raw, "A00012345", {"A00012345", "UU0054321"})
    assert text == expected


# --------------------------------------------------------------------------- command line


def _write_rows(path: Path, rows: list[dict[str, str]], extra_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_cli_on_a_hand_written_corpus(tmp_path: Path) -> None:
    def answered(number: str, asked: str, replied: str) -> dict[str, str]:
        return {
            "留言编号": number,
            "留言用户": f"A0000{number}",
            "留言主题": f"\t测试主题 {number}",
            "留言时间": asked,
            "留言详情": "\n\t\t第一段\n\t第二段",
            "答复意见": f"网友“A0000{number}”：\u3000\u3000您好！\u3000\u3000答复。",
            "答复时间": replied,
        }

    _write_rows(
        tmp_path / c2j.REPLIES_FILE,
        [
            answered("1", "2019/4/25 9:32:09", "2019/5/1 10:00:00"),
            answered("2", "2019/4/25 9:32:09", "not a time"),
            answered("3", "2019-04-08 08:37:20", "2019/4/1"),  # replied before asked: kept, counted
            answered("1", "2019/4/25 9:32:09", "2019/5/1 10:00:00"),  # duplicate id
        ],
        extra_lines=("{broken",),
    )
    _write_rows(
        tmp_path / c2j.LIKES_FILE,
        [
            {
                "留言编号": "9",
                "留言用户": "UU009",
                "留言主题": "未答复",
                "留言时间": "2019/6/1",
                "留言详情": "正文",
                "反对数": "0",
                "点赞数": "1",
            }
        ],
    )

    env = {**os.environ, c2j.CORPUS_ENV: str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", "-", "--include-unanswered"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["external_id"] for r in records] == ["teddy-fj4-1", "teddy-fj4-3", "teddy-fj3-9"]
    first, early, unanswered = records
    assert first == {
        "title": "测试主题 1",
        "body": "第一段\n\n第二段",
        "asked_at": "2019-04-25T09:32:09+08:00",
        "department": "",
        "category": "",
        "reply": "网友：\n\n您好！\n\n答复。",
        "replied_at": "2019-05-01T10:00:00+08:00",
        "external_id": "teddy-fj4-1",
    }
    assert early["asked_at"] == "2019-04-08T08:37:20+08:00"
    assert early["replied_at"] == "2019-04-01T00:00:00+08:00"
    assert unanswered["reply"] == "" and unanswered["replied_at"] == ""
    assert unanswered["asked_at"] == "2019-06-01T00:00:00+08:00"
    assert "A0000" not in result.stdout and "UU009" not in result.stdout
    err = result.stderr
    assert "skipped teddy-fj4-2" in err and "not a time" in err
    assert f"{c2j.REPLIES_FILE}: read 5, written 2, skipped 3" in err
    assert f"{c2j.LIKES_FILE}: read 1, written 1, skipped 0" in err
    assert "total: read 6, written 3, skipped 3" in err
    assert "unparsable 答复时间: 1" in err and "duplicate 留言编号: 1" in err and "invalid JSON: 1" in err
    assert "答复时间 earlier than 留言时间 (kept as given): 1" in err


def test_cli_reports_a_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert c2j.main(["--corpus", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out.jsonl")]) == 1
    assert c2j.REPLIES_FILE in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_default_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo = SCRIPT.parent.parent
    assert c2j.default_output() == repo / "instance" / "corpus.jsonl"
    monkeypatch.delenv(c2j.CORPUS_ENV, raising=False)
    assert c2j.default_corpus_dir() == (repo.parent / "shared" / "corpus").resolve()
    monkeypatch.setenv(c2j.CORPUS_ENV, str(tmp_path))
    assert c2j.default_corpus_dir() == tmp_path
