"""Escaping and HTML -> mrkdwn: feed text reaches Slack inert and readable."""

from __future__ import annotations

import re

import pytest

from core.text import escape, html_to_mrkdwn, link, truncate_escaped

INJECTIONS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1|x>", "<https://evil|click>",
              "<!subteam^S1>", "<!date^1^{date}|x>"]


@pytest.mark.parametrize("raw", INJECTIONS)
def test_escape_leaves_no_slack_construct(raw: str) -> None:
    out = escape(f"hi {raw} & bye")
    assert "<" not in out and ">" not in out
    assert out == f"hi {raw.replace('<', '&lt;').replace('>', '&gt;')} &amp; bye"


@pytest.mark.parametrize("spelled", ["&lt;!channel&gt;", "&#60;!here&#62;", "&#x3C;@U1&#x3E;"])
def test_entity_spellings_stay_text(spelled: str) -> None:
    assert escape(spelled) == spelled.replace("&", "&amp;")


@pytest.mark.parametrize("html", [f"<p>{i}</p>" for i in ["&lt;!channel&gt;", "&lt;@U123&gt;",
                                                          "&lt;https://evil|click&gt;"]]
                         + ['<a href="https://evil">&lt;!here&gt;</a>', "<b>&lt;!everyone&gt;</b>"])
def test_html_cannot_smuggle_mentions(html: str) -> None:
    tokens = re.findall(r"<([^<>]*)>", html_to_mrkdwn(html))
    assert all(t.startswith("http") and "|" not in t for t in tokens), tokens


def test_html_becomes_readable_mrkdwn() -> None:
    html = ("<h2>Notice</h2><p>China <strong>suspends</strong> <em>exports</em> of "
            '<a href="https://mofcom.gov.cn/x?a=1&amp;b=2">dysprosium</a>.</p>'
            "<ul><li>Dy</li><li>Tb</li></ul><script>alert(1)</script><blockquote>Quoted</blockquote>"
            '<a href="javascript:alert(1)">bad link</a>')
    assert html_to_mrkdwn(html) == (
        "*Notice*\n\nChina *suspends* _exports_ of dysprosium (<https://mofcom.gov.cn/x?a=1&amp;b=2>).\n\n"
        "• Dy\n• Tb\n\n> Quoted\n\nbad link")


def test_link_and_truncation() -> None:
    assert link("https://a.example/x", "A|B <c>") == "<https://a.example/x|A¦B &lt;c&gt;>"
    assert link("ftp://x", "<x>") == "&lt;x&gt;"
    out = truncate_escaped("<" * 100, 21)
    assert len(out) <= 21 and out.endswith("…") and "&lt" not in out.replace("&lt;", "")
