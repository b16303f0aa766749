"""Chinese text analysis for search: width folding, segmentation, number and code runs, a user dictionary, stop words.

One segmenter at run time: rjieba (jieba's dictionary and algorithm in Rust, ~16x jieba's speed, no dictionary load).
jieba itself splits some text differently (`2026-11-25`, `粤B-12345`, `06:00-20:00`), so it is not a fallback: an
index is only valid for the segmenter and rules that built it, which `ANALYZER` names and every backend records.
The Whoosh tokenizer is a module-level class on a stable import path because Whoosh pickles the analyzer into the
index.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from pathlib import Path

import rjieba as _seg
from whoosh.analysis import Token, Tokenizer

SEGMENTER = "rjieba"
SEGMENTER_VERSION = version("rjieba")
# Bump when anything below changes what words a text gives (stop words, folding, the number rule): every index
# built before is then rebuilt.
RULES = 2
ANALYZER = f"{SEGMENTER} {SEGMENTER_VERSION}; rules {RULES}"


def _tokenize(text: str, mode: str) -> list[tuple[str, int, int]]:
    return _seg.tokenize(text, mode=mode)


def _add_word(word: str) -> None:
    _seg.add_word(word, None, None)


# Function words and board boilerplate that match almost every message.
STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 也 都 就 而 且 但 又 很 还 把 被 让 给 对 向 从 到 于 以 之 其 这 那 这个 那个 这些 那些
    我 我们 你 你们 您 他 她 它 他们 自己 什么 怎么 怎样 如何 为什么 吗 呢 吧 啊 呀 哦 嗯 着 过 得 地 个 些 一 一个
    有 没有 没 不 能 会 要 可以 可 应该 是否 已经 正在 进行 请 请问 谢谢 感谢 您好 你好 网友 领导 问题 情况 相关
    the an and or of to in on for is are be
    """.split()
)

_WORD = re.compile(r"\w", re.UNICODE)
_user_words_lock = threading.Lock()
_user_words: set[str] = set()


_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH[0x3000] = 0x20


def fold(text: str) -> str:
    """Full-width to half-width and lower case, keeping the length so offsets stay valid for highlights."""
    folded = text.translate(_WIDTH)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    # Rare letters whose lower case is longer (e.g. U+0130): lower-case the others one by one.
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in folded)


def add_user_words(words: Iterable[str]) -> int:
    """Keep department names, place names and dictionary words whole; returns how many were new."""
    added = 0
    with _user_words_lock:
        for word in words:
            word = fold(word.strip())
            if len(word) >= 2 and word not in _user_words:
                _add_word(word)
                _user_words.add(word)
                added += 1
    return added


def load_dictionary_file(path: Path) -> int:
    """content/dict.txt: one word a line (jieba's format: word [freq] [tag]); # starts a comment."""
    if not path.is_file():
        return 0
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.append(line.split()[0])
    return add_user_words(words)


_CACHE_MAX = 500_000  # words remembered per cache (a rebuild asks millions of times)
_RUNS = re.compile(r"[a-z]+|[0-9]+")
_runs_cache: dict[str, tuple[tuple[str, int, int], ...] | None] = {}


def _runs(word: str) -> tuple[tuple[str, int, int], ...] | None:
    """Letter and digit runs of a Latin/number token that has both or has punctuation inside, else None.

    `2026-11-25` gives 2026, 11, 25; `粤B-12345`, `粤B·12345`, `粤B 12345` and `粤B12345` all give b, 12345; `G318`
    gives g, 318. The segmenter keeps some such tokens whole and splits others, and people type them either way:
    in runs, a date or a plate number matches however it was written.
    """
    runs = _runs_cache.get(word, False)
    if runs is False:
        runs = None
        if word.isascii() and not (word.isdigit() or word.isalpha()) and len(word) > 1:
            found = tuple((m.group(), m.start(), m.end()) for m in _RUNS.finditer(word))
            if found != ((word, 0, len(word)),):
                runs = found
        if len(_runs_cache) < _CACHE_MAX:
            _runs_cache[word] = runs
    return runs


def _words(text: str, mode: str) -> Iterator[tuple[str, int, int]]:
    """The segmenter's words of folded `text`, Latin/number tokens as their runs, stop words and punctuation out."""
    for word, start, end in _tokenize(fold(text), mode):
        runs = _runs(word)
        if runs is None:
            if _indexable(word):
                yield word, start, end
            continue
        for run, s, e in runs:
            if _indexable(run):
                yield run, start + s, start + e


_indexable_cache: dict[str, bool] = {}


def _indexable(word: str) -> bool:
    """Not a stop word, not punctuation or space; remembered per word (a rebuild asks millions of times)."""
    ok = _indexable_cache.get(word)
    if ok is None:
        ok = bool(_WORD.search(word)) and word not in STOP_WORDS and not word.isspace()
        if len(_indexable_cache) < _CACHE_MAX:
            _indexable_cache[word] = ok
    return ok


def segment(text: str, mode: str = "search") -> Iterator[tuple[str, int, int]]:
    """(word, start, end) for the indexable words of `text` (folded), without stop words and punctuation."""
    return _words(text, mode)


def index_words(text: str) -> list[str]:
    """The words `segment` yields in search mode, without offsets: what the index counts."""
    return [word for word, _, _ in _words(text, "search")]


def query_terms(text: str) -> list[str]:
    """The distinct words of a query in default mode (fewer, longer words: all must match)."""
    seen: dict[str, None] = {}
    for word, _, _ in segment(text[:200], mode="default"):
        seen.setdefault(word, None)
    return list(seen)


def search_terms(text: str) -> list[str]:
    """The distinct words of a query in search mode (sub-words too: used when the default AND finds nothing)."""
    seen: dict[str, None] = {}
    for word, _, _ in segment(text[:200], mode="search"):
        seen.setdefault(word, None)
    return list(seen)


def segmented(text: str) -> str:
    """Text as space-separated search-mode words (for engines that split on spaces, e.g. PostgreSQL `simple`)."""
    return " ".join(word for word, _, _ in segment(text))


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer over `segment`: positions are 0, 1, 2 … so phrase queries work; offsets for highlights."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True, start_pos=0,
                 start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        seg_mode = "default" if mode == "query" else "search"
        for pos, (word, start, end) in enumerate(segment(value, seg_mode)):
            token.text = word
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def chinese_analyzer() -> ChineseTokenizer:
    """The analyzer stored in the Whoosh schema."""
    return ChineseTokenizer()
