"""Text that reaches Slack: escaping of untrusted feed text, and HTML turned into readable mrkdwn.

Slack's only control characters are `&`, `<` and `>`; every mention, broadcast and labelled link is an
angle-bracket construct, so escaping those three (ampersand first) makes feed text inert. Entity
spellings such as `&lt;!channel&gt;` or `&#60;!here&#62;` stay inert too, because their `&` is escaped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BLOCK_TAGS = {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol",
               "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "figure", "figcaption"}
_DROP_TAGS = {"script", "style", "head", "title", "noscript", "template", "iframe", "object", "svg"}
#: Zero-width and bidi-control characters: feeds use them to hide text; Slack would render them invisibly.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def escape(text: str) -> str:
    """Slack-escape untrusted text (`&` -> `&amp;`, `<` -> `&lt;`, `>` -> `&gt;`); nothing else changes."""
    return text.translate(_ESCAPES)


def clean(text: str) -> str:
    """Plain feed text made tidy: invisible characters removed, runs of blanks collapsed (not escaped)."""
    text = _INVISIBLE.sub("", text)
    text = re.sub(r"[ \t\r\f\v\u00a0\u3000]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters, cut at a word boundary when one is near, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ellipsis))]
    space = cut.rfind(" ")
    if space >= len(cut) - 20 and space > 0:
        cut = cut[:space]
    return cut.rstrip() + ellipsis


def truncate_escaped(text: str, limit: int) -> str:
    """Escape `text` and keep the result within `limit` characters without splitting an entity."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix whose escaped form (plus ellipsis) fits
        mid = (lo + hi + 1) // 2
        if len(escape(truncate(text, mid))) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return escape(truncate(text, lo))


def safe_url(url: str) -> str | None:
    """The URL if it is http(s) and usable inside `<...>`, else None."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in " \n|<>\"'"):
        return None
    return url


def link(url: str, label: str) -> str:
    """A Slack link whose label is escaped feed text, or just the label when the URL is unusable."""
    good = safe_url(url)
    if good is None:
        return escape(label)
    label = escape(label).replace("|", "¦")  # a `|` inside a label would end it early
    return f"<{escape(good)}|{label}>"


class _MrkdwnParser(HTMLParser):
    """Collects escaped text with light mrkdwn for emphasis, links, lists, quotes and code."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.drop = 0
        self.links: list[tuple[str | None, int]] = []  # (href, index in out where the label starts)
        self.lists: list[list[int]] = []  # [counter] per open list; -1 for bullets
        self.pre = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self.drop += 1
        elif self.drop:
            return
        elif tag == "br":
            self._newline()
        elif tag in ("b", "strong") or tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._block() if tag.startswith("h") else None
            self.out.append("*")
        elif tag in ("i", "em"):
            self.out.append("_")
        elif tag in ("s", "strike", "del"):
            self.out.append("~")
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self._block()
            self.out.append("```\n")
            self.pre += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.out)))
        elif tag in ("ul", "ol"):
            self._block()
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            self._newline()
            counter = self.lists[-1] if self.lists else [-1]
            indent = "    " * max(0, len(self.lists) - 1)
            if counter[0] >= 0:
                counter[0] += 1
                self.out.append(f"{indent}{counter[0]}. ")
            else:
                self.out.append(f"{indent}• ")
        elif tag == "blockquote":
            self._block()
            self.quote += 1
        elif tag in _BLOCK_TAGS:
            self._block()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self.drop = max(0, self.drop - 1)
        elif self.drop:
            return
        elif tag in ("b", "strong", "h1", "h2", "h3", "h4", "h5", "h6"):
            self._close("*")
            if tag.startswith("h"):
                self._block()
        elif tag in ("i", "em"):
            self._close("_")
        elif tag in ("s", "strike", "del"):
            self._close("~")
        elif tag == "code" and not self.pre:
            self._close("`")
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self.out.append("\n```")
            self._block()
        elif tag == "a" and self.links:
            self._close_link(*self.links.pop())
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._block()
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._block()
        elif tag in _BLOCK_TAGS:
            self._block()

    def handle_data(self, data: str) -> None:
        if self.drop:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        text = escape(_INVISIBLE.sub("", data))
        if self.quote:
            text = text.replace("\n", "\n> ")
            if not self.out or self.out[-1].endswith("\n"):
                text = "> " + text.lstrip()
        self.out.append(text)

    def _close(self, mark: str) -> None:
        # An empty pair (`**`) would render literally; drop the opener instead.
        if self.out and self.out[-1] == mark:
            self.out.pop()
        else:
            self.out.append(mark)

    def _close_link(self, href: str | None, start: int) -> None:
        url = safe_url(href or "")
        if url is None:
            return
        # The real address stays visible next to the label: a feed cannot disguise where a link goes.
        label = "".join(self.out[start:]).strip()
        if label == escape(url):
            self.out[start:] = [f"<{escape(url)}>"]
        else:
            self.out.append(f" (<{escape(url)}>)")

    def _newline(self) -> None:
        self.out.append("\n")

    def _block(self) -> None:
        if self.out and not "".join(self.out[-2:]).endswith("\n\n"):
            self.out.append("\n\n")


def html_to_mrkdwn(markup: str) -> str:
    """Readable, escaped mrkdwn from feed HTML: emphasis, lists, quotes, code, and links with visible URLs."""
    parser = _MrkdwnParser()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n[ \t]+(?=[^ •\d>])", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
