"""Many plans in one pass: one Aho-Corasick automaton over every plan's words, a Boolean layer on top."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from portal.services.watch.textclean import fold

FIELDS = ("title", "text", "author")


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


class Matcher:
    """Built once from the active plans; `match` gives {plan id: matched words} for an item."""

    def __init__(self, rules: list[PlanRule]):
        self.rules = {r.plan_id: r for r in rules if r.any_words or r.must_words}
        self.automaton = ahocorasick.Automaton()
        words: dict[str, list[tuple[int, str]]] = defaultdict(list)  # folded word -> [(plan, kind)]
        for rule in self.rules.values():
            for kind, lst in (("any", rule.any_words), ("must", rule.must_words), ("exclude", rule.exclude_words)):
                for word in lst:
                    folded = fold(word)
                    if folded:
                        words[folded].append((rule.plan_id, kind))
        for folded, owners in words.items():
            self.automaton.add_word(folded, (folded, tuple(owners)))
        self.empty = not words
        if not self.empty:
            self.automaton.make_automaton()
        self.folded_words = {r.plan_id: {k: {fold(w) for w in getattr(r, f"{k}_words")} for k in
                                         ("any", "must", "exclude")} for r in self.rules.values()}

    def match(self, subject: Subject) -> dict[int, list[str]]:
        """The plans whose rule holds for the subject, each with the words that matched."""
        if self.empty:
            return {}
        # found[plan][kind] = words seen in a field the plan searches
        found: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for name in FIELDS:
            text = subject.folded.get(name)
            if text is None:
                text = fold(getattr(subject, name))
            if not text:
                continue
            for _end, (word, owners) in self.automaton.iter(text):
                for plan_id, kind in owners:
                    if name in self.rules[plan_id].fields:
                        found[plan_id][kind].add(word)
        out: dict[int, list[str]] = {}
        for plan_id, kinds in found.items():
            rule = self.rules[plan_id]
            if kinds.get("exclude"):
                continue
            if rule.must_words and kinds.get("must", set()) != self.folded_words[plan_id]["must"]:
                continue
            if rule.any_words and not kinds.get("any"):
                continue
            if rule.source_ids and subject.source_id not in rule.source_ids:
                continue
            if rule.platforms and subject.platform not in rule.platforms:
                continue
            if rule.regions and subject.region not in rule.regions:
                continue
            out[plan_id] = sorted(kinds.get("must", set()) | kinds.get("any", set()))
        return out
