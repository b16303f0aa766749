"""Markdown is rendered and sanitised: nothing executable survives."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from portal.markup import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown

VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='https://evil.example'></iframe>",
    "[点我](javascript:alert(1))",
    "[点我](JaVaScRiPt:alert(1))",
    "[点我](java\tscript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href='javascript:alert(1)'>x</a>",
    "<svg onload=alert(1)>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<p onclick='alert(1)'>点</p>",
    "<object data='x.swf'></object>",
    "<form action='https://evil.example'><input name=a></form>",
    "<meta http-equiv='refresh' content='0;url=https://evil.example'>",
    "<style>body{display:none}</style>",
    "![x](https://evil.example/x.png\" onerror=\"alert(1))",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<base href='https://evil.example/'>",
    "<<script>script>alert(1)<</script>/script>",
]


class _Check(HTMLParser):
    def __init__(self):
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if name not in ALLOWED_ATTRIBUTES.get(tag, set()) and name != "rel":
                self.problems.append(f"attr {tag}.{name}")
            if name == "href" and value and value.split(":", 1)[0].lower() not in ("http", "https", "mailto") \
                    and ":" in value.split("/", 1)[0]:
                self.problems.append(f"scheme {value}")


@pytest.mark.parametrize("payload", VECTORS)
def test_hostile_markdown_is_neutralised(payload):
    html = render_markdown(payload)
    check = _Check()
    check.feed(html)
    assert check.problems == [], html


def test_ordinary_markdown_survives():
    html = render_markdown("# 标题\n\n1. 第一\n2. **第二**\n\n[链接](https://example.gov.cn/a)")
    assert "<h2>标题</h2>" in html and "<ol>" in html and "<strong>第二</strong>" in html
    assert 'href="https://example.gov.cn/a"' in html and "nofollow" in html


def test_sanitising_is_idempotent():
    for payload in VECTORS:
        once = render_markdown(payload)
        from portal.markup import sanitise_html

        assert sanitise_html(once) == once
