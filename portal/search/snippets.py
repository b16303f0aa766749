"""Highlighted HTML from original text: escaped text with the query's words in <mark>, cut to short fragments.

The PostgreSQL backend highlights here rather than with `ts_headline`: its indexed text is search-mode jieba
output (overlapping sub-words such as "解放 解放路", no punctuation, no stop words), so a headline made from it and
"de-spaced" for display reads "解放解放路路灯". Segmenting the original text again (10 hits a page, ~0.1 ms each
with rjieba) marks exactly the words the index matched, at their offsets in the text the citizen wrote.
"""

from __future__ import annotations

from markupsafe import escape

from portal.search.analysis import segment

SNIPPET_CHARS = 160
SURROUND = 40
ELLIPSIS = "…"


def _spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Merged (start, end) character ranges of the words of `text` that are among `terms`."""
    found = sorted((start, end) for word, start, end in segment(text) if word in terms)
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _render(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str:
    out, at = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        out.append(str(escape(text[at:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(str(escape(text[at:end])))
    return "".join(out)


def mark_all(text: str, terms: frozenset[str]) -> str:
    """The whole text, escaped, with every matched word marked; "" when nothing matched."""
    spans = _spans(text, terms)
    return _render(text, 0, len(text), spans) if spans else ""


def fragments(text: str, terms: frozenset[str], top: int = 2, maxchars: int = SNIPPET_CHARS,
              surround: int = SURROUND) -> str:
    """Up to `top` fragments around the matched words (the ones with the most distinct words), joined by "…"."""
    spans = _spans(text, terms)
    if not spans:
        return ""
    frags = []
    i = 0
    while i < len(spans):
        start = max(0, spans[i][0] - surround)
        limit = start + maxchars
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] <= limit:
            j += 1
        end = min(len(text), limit, max(spans[j][1] + surround, spans[j][1]))
        group = spans[i : j + 1]
        distinct = len({text[s:e].lower() for s, e in group})
        frags.append((distinct, len(group), -start, start, end, group))
        i = j + 1
    best = sorted(sorted(frags, reverse=True)[:top], key=lambda f: f[3])
    return ELLIPSIS.join(_render(text, start, end, group) for *_, start, end, group in best)
