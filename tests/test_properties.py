"""Property tests: sanitising is idempotent and safe; citizen text round-trips escaped; codes never leak."""

from __future__ import annotations

import html
import logging
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.markup import plain_paragraphs, render_markdown, sanitise_html
from tests.test_markup import _Check

PIECES = st.sampled_from(
    list("<>&\"'=/:;()[]!*#_`-\n abc评论路灯ｊａｖ")
    + ["javascript:", "JaVaScRiPt:", "<script>", "</script>", "onerror=", "onload=", "<img src=x ", "<a href=",
       "<iframe ", "](", "[x](", "data:text/html,", "&#106;", "\t", "<svg ", "style=", "<!--", "-->"]
)
MARKUPISH = st.lists(PIECES, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKUPISH)
def test_sanitising_is_idempotent_and_leaves_only_allowed_markup(text):
    once = render_markdown(text)
    assert sanitise_html(once) == once
    check = _Check()
    check.feed(once)
    assert check.problems == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_citizen_text_round_trips_escaped(text):
    rendered = str(plain_paragraphs(text))
    assert "<script" not in rendered.lower()
    visible = html.unescape(re.sub(r"<br>", "\n", re.sub(r"</?p>", "\n", rendered)))
    expected = re.sub(r"\s+", "", re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text))
    assert re.sub(r"\s+", "", visible) == expected


TITLES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=5, max_size=30)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(title=TITLES, body=st.text(min_size=10, max_size=80).filter(lambda b: len(b.strip()) >= 10))
def test_tracking_code_never_appears_in_pages_feeds_or_logs(app, caplog, title, body):
    from tests.conftest import ask

    title = title.strip()
    if not 5 <= len(title) <= 50:
        return
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        response = ask(client, title=title, body=body)
        if response.status_code != 303:
            return
        done = client.get("/ask/done").get_data(as_text=True)
        code = re.search(r'class="code">([A-Z0-9-]+)<', done).group(1)
        number = re.search(r'class="number">(\d+)<', done).group(1)
        pages = [client.get(url).get_data(as_text=True) for url in (
            "/", "/questions", f"/questions/{number}", "/ask/done", f"/track?number={number}",
            "/feeds/answers.atom", "/feeds/bulletins.rss", "/api/v1/questions",
        )]
    raw = code.replace("-", "")
    for text in [*pages, caplog.text]:
        assert code not in text and raw not in text
