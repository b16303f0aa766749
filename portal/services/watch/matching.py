"""Many plans in one pass: one Aho-Corasick automaton over every plan's words, a Boolean layer on top.

An item's fields are folded together and scanned once (the field of a hit is told by its offset); each word knows
its plans, and each plan's must-words are bits of one mask, so the Boolean layer is a few integer operations a hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ahocorasick_rs

from portal.services.watch.textclean import fold

FIELDS = ("title", "text", "author")
FIELD_BITS = {"title": 1, "text": 2, "author": 4}
ANY, MUST, EXCLUDE = 0, 1, 2
# Between the fields of the one scanned text: a non-character, removed from every stored field (textclean) and
# left alone by folding, so no word can match across two fields.
SEPARATOR = "\uffff"


@dataclass
class PlanRule:
    """A plan as the matcher needs it: folded words, the fields searched, and its scope."""

    plan_id: int
    any_words: list[str]
    must_words: list[str]
    exclude_words: list[str]
    fields: frozenset[str] = frozenset(FIELDS)
    source_ids: frozenset[int] = frozenset()
    platforms: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()


@dataclass
class Subject:
    """The item as the matcher sees it."""

    title: str
    text: str
    author: str
    source_id: int = 0
    platform: str = ""
    region: str = ""
    folded: dict[str, str] = field(default_factory=dict)


def _fold_fields(subject: Subject) -> tuple[str, int, int]:
    """The three fields folded and joined by SEPARATOR, with the offsets where text and author begin."""
    if subject.folded:
        parts = [subject.folded.get(name) or fold(getattr(subject, name)) for name in FIELDS]
    else:
        parts = fold(SEPARATOR.join((subject.title, subject.text, subject.author))).split(SEPARATOR)
        if len(parts) != 3:  # a field carried the separator itself: fold them one by one
            parts = [fold(subject.title), fold(subject.text), fold(subject.author)]
            parts = [p.replace(SEPARATOR, " ") for p in parts]
    text_at = len(parts[0]) + 1
    return SEPARATOR.join(parts), text_at, text_at + len(parts[1]) + 1


class Matcher:
    """Built once from the active plans; `match` gives {plan id: matched words} for an item."""

    def __init__(self, rules: list[PlanRule]):
        self.rules = {r.plan_id: r for r in rules if r.any_words or r.must_words}
        owners: dict[str, list[tuple[int, int, int]]] = {}  # folded word -> [(plan, kind, must bit)]
        self.field_mask: dict[int, int] = {}
        self.must_full: dict[int, int] = {}
        for rule in self.rules.values():
            self.field_mask[rule.plan_id] = sum(FIELD_BITS[f] for f in rule.fields if f in FIELD_BITS)
            for kind, words in ((ANY, rule.any_words), (MUST, rule.must_words), (EXCLUDE, rule.exclude_words)):
                folded = list(dict.fromkeys(w for w in map(fold, words) if w and SEPARATOR not in w))
                for position, word in enumerate(folded):
                    bit = 1 << position if kind == MUST else 0
                    owners.setdefault(word, []).append((rule.plan_id, kind, bit))
                if kind == MUST:
                    self.must_full[rule.plan_id] = (1 << len(folded)) - 1
        self.words = list(owners)
        self.owners = [tuple(owners[w]) for w in self.words]
        self.empty = not self.words
        self.automaton = None if self.empty else ahocorasick_rs.AhoCorasick(
            self.words, matchkind=ahocorasick_rs.MatchKind.Standard)

    def match(self, subject: Subject) -> dict[int, list[str]]:
        """The plans whose rule holds for the subject, each with the words that matched."""
        if self.empty:
            return {}
        text, text_at, author_at = _fold_fields(subject)
        hits = self.automaton.find_matches_as_indexes(text, overlapping=True)
        if not hits:
            return {}
        owners, field_mask, words = self.owners, self.field_mask, self.words
        found: dict[int, set[int]] = {}  # plan -> indexes of the any/must words seen
        must_seen: dict[int, int] = {}
        has_any: set[int] = set()
        excluded: set[int] = set()
        for index, start, _end in hits:
            where = 1 if start < text_at else (2 if start < author_at else 4)
            for plan_id, kind, bit in owners[index]:
                if not field_mask[plan_id] & where:
                    continue
                if kind == EXCLUDE:
                    excluded.add(plan_id)
                    continue
                found.setdefault(plan_id, set()).add(index)
                if kind == ANY:
                    has_any.add(plan_id)
                else:
                    must_seen[plan_id] = must_seen.get(plan_id, 0) | bit
        out: dict[int, list[str]] = {}
        for plan_id, seen in found.items():
            if plan_id in excluded:
                continue
            rule = self.rules[plan_id]
            if rule.must_words and must_seen.get(plan_id, 0) != self.must_full[plan_id]:
                continue
            if rule.any_words and plan_id not in has_any:
                continue
            if rule.source_ids and subject.source_id not in rule.source_ids:
                continue
            if rule.platforms and subject.platform not in rule.platforms:
                continue
            if rule.regions and subject.region not in rule.regions:
                continue
            out[plan_id] = sorted([words[i] for i in seen])
        return out
