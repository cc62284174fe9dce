"""One call for what a story is about and how bad it is: elements, topics, severity, and why.

`analyze` is pure. Spans in `Analysis.matches` index into `title + "\\n" + text` (just `title` when
text is empty), which is what `reewatch explain` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.models import Severity
from core.severity import score
from core.tagger import Match, tag

__all__ = ["Analysis", "Match", "analyze", "joined"]


@dataclass(slots=True)
class Analysis:
    elements: list[str] = field(default_factory=list)  # symbols, in order of first mention
    topics: list[str] = field(default_factory=list)
    severity: Severity = Severity.INFO
    matches: list[Match] = field(default_factory=list)

    @property
    def relevant(self) -> bool:
        """Whether the story is about anything reewatch follows (an element or a topic)."""
        return bool(self.elements or self.topics)

    def to_dict(self) -> dict[str, Any]:
        """The `reewatch explain --json` shape (CONTRACT section 2), plus topics and each match's detail."""
        return {
            "elements": list(self.elements),
            "topics": list(self.topics),
            "severity": self.severity.value,
            "matches": [{"term": m.term, "kind": m.kind, "span": [m.span[0], m.span[1]], "detail": m.detail}
                        for m in self.matches],
        }


def joined(title: str, text: str = "") -> str:
    """The string spans index into."""
    return f"{title}\n{text}" if text else title


def analyze(title: str, text: str = "", *, tier: str = "other", language: str | None = None) -> Analysis:
    """Tag and score one story. `language` is accepted for callers' convenience: both rule sets (English
    and Chinese) always run, because feeds mislabel their language and headlines mix scripts."""
    del language
    full = joined(title, text)
    tags = tag(full)
    scored = score(title, text, tier=tier)
    matches = sorted(tags.matches + scored.matches, key=lambda m: (m.span, m.kind))
    return Analysis(elements=tags.elements, topics=tags.topics, severity=scored.severity, matches=matches)
