"""HTML (or plain text) from a feed -> clean plain text: `html_to_text(html) -> str`.

Scripts, styles, images, tables, forms and embedded media are dropped with their content; entities
are decoded; whitespace is collapsed inside lines and block elements become line breaks. Feeds that
escape their HTML twice (`&lt;p&gt;...`, a common complaint about RSS descriptions) are unwrapped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: Elements dropped together with everything inside them.
_DROP = frozenset({
    "script", "style", "table", "noscript", "iframe", "svg", "object", "video", "audio", "canvas",
    "template", "head", "select", "button", "math", "form", "textarea",
})
#: Elements that end a line of text.
_BLOCK = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr",
    "section", "article", "header", "footer", "hr", "dd", "dt", "dl", "figure", "figcaption", "aside",
})
_VOID = frozenset({"img", "br", "hr", "input", "embed", "source", "track", "wbr", "meta", "link", "area", "col"})
_TAG_LIKE = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[^\S\n]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self.dropping += 1
        elif tag in _BLOCK and not self.dropping:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK and not self.dropping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCK and tag not in _VOID and not self.dropping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.parts.append(data)


def _extract(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def collapse(text: str) -> str:
    """Collapse runs of spaces (keeping single line breaks between non-empty lines)."""
    text = _INVISIBLE.sub("", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(html: str | None, *, max_chars: int | None = None) -> str:
    """Plain text of `html` (also safe on plain text); cut at a word boundary to `max_chars`."""
    if not html:
        return ""
    text = _extract(html)
    if _TAG_LIKE.search(text):  # the markup was escaped once more than it should have been
        text = _extract(text)
    text = collapse(text)
    if max_chars is not None and len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars].rstrip() + "…"
    return text
