"""The plan matcher agrees with a plain reading of the rules, field by field, on random items and plans."""

from __future__ import annotations

import random

from portal.services.watch.matching import FIELDS, Matcher, PlanRule, Subject
from portal.services.watch.textclean import fold

CHARS = "停水路灯学校占道经营东环塌陷投诉医院欠薪拆迁污染噪音堵车臭味垃圾"


def reference(rule: PlanRule, subject: Subject) -> list[str] | None:
    """What the plan says, read literally: the words seen in the fields it searches, or None for no match."""
    texts = [fold(getattr(subject, f)) for f in FIELDS if f in rule.fields]

    def seen(word: str) -> bool:
        return any(fold(word) in t for t in texts)

    if not rule.any_words and not rule.must_words:
        return None
    if any(seen(w) for w in rule.exclude_words):
        return None
    if not all(seen(w) for w in rule.must_words):
        return None
    hit_any = [fold(w) for w in rule.any_words if seen(w)]
    if rule.any_words and not hit_any:
        return None
    if rule.source_ids and subject.source_id not in rule.source_ids:
        return None
    if rule.platforms and subject.platform not in rule.platforms:
        return None
    return sorted(set(hit_any) | {fold(w) for w in rule.must_words})


def test_the_matcher_agrees_with_the_literal_rules():
    rng = random.Random(20250512)

    def word() -> str:
        return "".join(rng.choice(CHARS) for _ in range(rng.choice((1, 2, 2, 3))))

    rules = []
    for plan_id in range(1, 61):
        fields = frozenset(rng.sample(FIELDS, rng.randint(1, 3)))
        rules.append(PlanRule(plan_id=plan_id, any_words=[word() for _ in range(rng.randint(0, 4))],
                              must_words=[word() for _ in range(rng.randint(0, 2))],
                              exclude_words=[word() for _ in range(rng.randint(0, 2))], fields=fields,
                              source_ids=frozenset({1}) if plan_id % 7 == 0 else frozenset(),
                              platforms=frozenset({"论坛"}) if plan_id % 11 == 0 else frozenset()))
    matcher = Matcher(rules)
    matched = 0
    for _ in range(400):
        subject = Subject(title="".join(rng.choice(CHARS) for _ in range(rng.randint(0, 12))),
                          text="".join(rng.choice(CHARS + "，。 的了") for _ in range(rng.randint(0, 60))),
                          author=rng.choice(["", "网友停水", "東環路居民"]), source_id=rng.choice([1, 2]),
                          platform=rng.choice(["论坛", "微博"]))
        got = matcher.match(subject)
        expected = {r.plan_id: words for r in rules if (words := reference(r, subject)) is not None}
        assert got == expected, subject
        matched += len(got)
    assert matched > 100  # the comparison saw many matches, not only empty answers


def test_traditional_and_full_width_text_matches_simplified_words():
    matcher = Matcher([PlanRule(plan_id=1, any_words=["东环路"], must_words=["塌陷"], exclude_words=[])])
    assert matcher.match(Subject(title="東環路又塌陷了", text="", author="")) == {1: ["东环路", "塌陷"]}
    assert matcher.match(Subject(title="ＡＢＣ東環路", text="", author="")) == {}  # the must-word is missing


def test_a_word_never_matches_across_two_fields():
    matcher = Matcher([PlanRule(plan_id=1, any_words=["停水"], must_words=[], exclude_words=[])])
    assert matcher.match(Subject(title="今天停", text="水了", author="")) == {}
    assert matcher.match(Subject(title="今天", text="停水了", author="")) == {1: ["停水"]}
