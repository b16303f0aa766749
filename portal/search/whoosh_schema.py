"""The Whoosh index's schema and documents: fields, how a question's text is counted and weighted, field lengths.

Module-level classes on a stable import path: Whoosh pickles the schema (and so these fields) into the index.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC

from whoosh import fields, scoring
from whoosh.codec import whoosh3
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from portal.search import IndexDocument
from portal.search.analysis import chinese_analyzer, index_words

# How much a word in the title counts against the same word in the body or the reply, inside one BM25 term (as
# SQLite FTS5's column weights: bm25(fts, 3.0, 1.0, 1.0)). A separate title score added on top, as before, let any
# question with the word in its title outrank the one whose body is about it (issue 21: body-word recall).
TITLE_WEIGHT = 3


# Field lengths, one array per (segment reader, field). Whoosh reads a document's field length back from the column
# file with a seek and a read each time it is asked: once per posting when a segment is written (a third of a
# rebuild) and once per scored hit when searching. Segments never change once written, so the column is read
# once, whole. Same values as Whoosh's own method (None for an empty field); tests/search/test_search.py compares.
_LENGTH_OF_BYTE = [None] + [byte_to_length(b) for b in range(1, 256)]
_whoosh_doc_field_length = whoosh3.W3PerDocReader.doc_field_length


def _doc_field_length(self, docnum, fieldname, default=0):
    try:
        lengths = self._portal_lengths[fieldname]
    except AttributeError:
        self._portal_lengths = {}
        return _doc_field_length(self, docnum, fieldname, default)
    except KeyError:
        reader = self._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        if reader is None:
            return default
        lengths = self._portal_lengths[fieldname] = reader.load()
    if docnum >= len(lengths):
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        return None
    return _LENGTH_OF_BYTE[lengths[docnum]]


whoosh3.W3PerDocReader.doc_field_length = _doc_field_length

_UTF8_CACHE_MAX = 500_000
_utf8: dict[str, bytes] = {}
_PACKED = [pack_uint(n) for n in range(256)]


def _word_bytes(word: str) -> bytes:
    data = _utf8.get(word)
    if data is None:
        data = word.encode("utf-8")
        if len(_utf8) < _UTF8_CACHE_MAX:
            _utf8[word] = data
    return data


def _postings(counts: Counter, weights: Counter | None, boost: float) -> list[tuple]:
    """(word, frequency, weight, value) postings; the weight is what BM25 reads as the term frequency."""
    return [
        (_word_bytes(word), n, (n if weights is None else weights[word]) * boost,
         _PACKED[n] if n < 256 else pack_uint(n))
        for word, n in counts.items()
    ]


class ChineseText(fields.TEXT):
    """TEXT whose postings are counted straight from the segmenter's word list.

    The same (word, frequency, weight, value) postings as TEXT with the Chinese analyzer and the Frequency format,
    without a Token object per word: a full rebuild spends most of its time here.

    A (title, rest) pair is one field whose title words weigh TITLE_WEIGHT times in the score: the frequency and the
    field length count every word once, the weight counts a title word TITLE_WEIGHT times.
    """

    def index(self, value, **kwargs):
        boost = self.format.field_boost
        if isinstance(value, tuple):
            title_words = Counter(index_words(value[0]))
            counts = Counter(index_words(value[1]))
            weights = counts.copy()
            counts.update(title_words)
            for word, n in title_words.items():
                weights[word] += n * TITLE_WEIGHT
            return _postings(counts, weights, boost)
        if not isinstance(value, str):
            return super().index(value, **kwargs)
        return _postings(Counter(index_words(value)), None, boost)


class Ranking(scoring.BM25F):
    """BM25 with the Robertson-Sparck Jones idf (as Lucene and SQLite FTS5 use) instead of Whoosh's log(N/(df+1))+1.

    Whoosh's idf never falls below 1, so a word in half the questions (我们, 政府, 2018) still weighs a third of a
    rare one; here it weighs a tenth, and a question that has the query's rare word ranks first, as in FTS5.
    """

    def idf(self, searcher, fieldname, text):
        n = searcher.doc_count_all()
        df = searcher.doc_frequency(fieldname, text)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def make_schema() -> fields.Schema:
    """One catch-all field for matching and ranking, the title indexed again for suggestions, the rest stored."""
    analyzer = chinese_analyzer()
    return fields.Schema(
        qid=fields.ID(stored=True, unique=True),
        number=fields.STORED,
        # Matching, counting and ranking run on `text` alone (title weighted), so an AND of words can skip through
        # one posting list each and nothing else is looked up per match.
        text=ChineseText(analyzer=analyzer, phrase=False),
        title=ChineseText(analyzer=analyzer, stored=True, phrase=False),
        body=fields.STORED,
        reply=fields.STORED,
        department=fields.ID(stored=True, sortable=True),
        department_name=fields.STORED,
        category=fields.ID(stored=True),
        published=fields.DATETIME(stored=True, sortable=True),
    )


def fields_for(doc: IndexDocument) -> dict:
    """The field values Whoosh is given for one question."""
    return {
        "qid": str(doc.question_id),
        "number": doc.number,
        "text": (doc.title, f"{doc.body}\n{doc.reply}"),
        "title": doc.title,
        "body": doc.body,
        "reply": doc.reply,
        "department": doc.department or "-",
        "department_name": doc.department_name,
        "category": doc.category or "-",
        "published": doc.published_at.astimezone(UTC).replace(tzinfo=None),
    }
