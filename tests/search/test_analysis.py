"""The segmentation the search index relies on: one segmenter, dates and plate numbers however typed, the user
dictionary, and a query finding the text it was typed from."""

from __future__ import annotations

from collections import Counter
from importlib.metadata import version
from pathlib import Path

import pytest

from portal.search import analysis
from portal.search.analysis import index_words, load_dictionary_file, query_terms, search_terms, segment

CONTENT = Path(__file__).resolve().parents[2] / "content"


def words(text: str, mode: str = "search") -> list[str]:
    return [word for word, _, _ in segment(text, mode)]


def test_one_segmenter_named_with_its_version():
    assert analysis.SEGMENTER == "rjieba"
    assert analysis.SEGMENTER_VERSION == version("rjieba")
    assert analysis.ANALYZER == f"rjieba {version('rjieba')}; rules {analysis.RULES}"


@pytest.mark.parametrize("typed", ["2026-11-25", "2026/11/25", "2026.11.25", "2026年11月25日", "２０２６－１１－２５"])
def test_dates_give_year_month_day_however_typed(typed):
    assert [w for w in words(typed) if w.isdigit()] == ["2026", "11", "25"]
    assert query_terms(typed)[:1] == ["2026"] and {"11", "25"} <= set(query_terms(typed))


@pytest.mark.parametrize("typed", ["粤B-12345", "粤B·12345", "粤B 12345", "粤B12345", "粤Ｂ－１２３４５", "粤b-12345"])
def test_plate_numbers_give_the_same_words_however_typed(typed):
    assert words(typed) == ["粤", "b", "12345"]
    assert query_terms(typed) == ["粤", "b", "12345"]


def test_numbers_joined_by_punctuation_are_split_into_their_runs():
    assert words("开放时间06:00-20:00") == ["开放", "时间", "06", "00", "20", "00"]
    assert words("2014.11月") == ["2014", "11", "月"]
    assert words("G318国道") == ["g", "318", "国道"]
    # Offsets still point at the characters, for highlights.
    text = "车牌粤B-12345的车"
    assert [(w, text[s:e].lower()) for w, s, e in segment(text)][2:4] == [("b", "b"), ("12345", "12345")]


def test_user_dictionary_words_stay_whole():
    load_dictionary_file(CONTENT / "dict.txt")
    entries = [line.split()[0] for line in (CONTENT / "dict.txt").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    assert len(entries) >= 10
    for word in entries:
        assert word in query_terms(f"我在{word}办事"), word
        assert word in index_words(f"我在{word}办事"), word


@pytest.mark.parametrize("text", [
    "2026-11-25上午，粤B-12345号小车在青石镇解放路与货车相撞。",
    "请问随迁子女在2026/9/1前要交哪些材料？咨询电话0000-00000000",
    "G318国道K1520+300处塌方，06:00-20:00单向通行",
    "ＡＢＣ１２３ 全角字母和数字；医保报销比例是75%还是80.5%？",
])
def test_every_query_word_is_a_word_the_index_counts(text):
    """A citizen who types (part of) a text finds it: the query's words are among the words indexed for it."""
    indexed = Counter(index_words(text))
    assert set(query_terms(text)) <= set(indexed)
    assert set(search_terms(text)) <= set(indexed)
