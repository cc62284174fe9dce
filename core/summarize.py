"""Summaries: one or two sentences (at most ~300 characters) that carry an element and an action.

`summarize(settings, title, text, language) -> Summary(text, original)`. The default is extractive
(pure). When REEWATCH_SUMMARIZER_URL is set, an OpenAI-compatible chat-completions endpoint writes
`text` instead, and any error, timeout or unusable answer falls back to the extractive summary. For
a Chinese source, `original` keeps the key sentence in Chinese beside the English text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from core import elements
from core.settings import Settings
from core.text import clean, truncate

log = logging.getLogger(__name__)

MAX_CHARS = 300
_CJK = re.compile(r"[\u3400-\u9fff]")
# English: split after . ! ? when the next sentence starts; never inside "U.S." or "Corp. Ltd".
_EN_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9\u3400-\u9fff])")
_ABBREV = re.compile(r"(?:\b(?:[A-Z]\.){1,3}|\b(?:Mr|Mrs|Ms|Dr|St|Co|Corp|Inc|Ltd|Jan|Feb|Mar|Apr|Jun|Jul|Aug|"
                     r"Sep|Sept|Oct|Nov|Dec|No|vs|approx|est)\.)$")
_ZH_SPLIT = re.compile(r"(?<=[。！？；])")
_ACTIONS_EN = ("export", "import", "ban", "suspend", "halt", "restrict", "control", "licen", "quota", "tariff",
               "sanction", "shut", "outage", "strike", "flood", "cut", "curb", "lift", "ease", "resume", "approve",
               "price", "surge", "soar", "jump", "plunge", "fall", "rise", "shortage", "supply", "production",
               "output", "mine", "refin", "smelt", "separat", "magnet", "investigat", "probe", "announce")
_ACTIONS_ZH = ("出口", "进口", "管制", "暂停", "禁止", "限制", "配额", "许可", "停产", "减产", "恢复", "价格", "上涨",
               "下跌", "供应", "短缺", "关税", "制裁", "调查", "公告", "生产", "开采", "冶炼", "分离")

Summarizer = Callable[[str, str, str], "Summary"]


@dataclass(frozen=True, slots=True)
class Summary:
    """`text` is what the post shows; `original` the key sentence in the source language (Chinese sources)."""

    text: str
    original: str = ""


def summarize(settings: Settings, title: str, text: str, language: str) -> Summary:
    """The configured summarizer: the LLM one when REEWATCH_SUMMARIZER_URL is set, else extractive."""
    fallback = extractive(title, text, language)
    if not settings.summarizer_url or not clean(text):
        return fallback
    written = llm_summary(settings, title, text, language)
    if written is None:
        return fallback
    return Summary(written, fallback.original)


# --- extractive --------------------------------------------------------------------------------
def extractive(title: str, text: str, language: str) -> Summary:
    """The one or two best sentences of `text` (the title when there is no text), within 300 characters."""
    body = clean(text)
    sentences = split_sentences(body) or split_sentences(clean(title))
    zh_source = language.lower().startswith("zh") or _is_chinese(body)
    english = [s for s in sentences if not _is_chinese(s)]
    chinese = [s for s in sentences if _is_chinese(s)]
    original = _pick(chinese, title, 1) if zh_source else ""
    if zh_source and not english:
        return Summary(original, original)
    picked = _pick(english or sentences, title, 2)
    return Summary(picked or truncate(clean(title), MAX_CHARS), original if original != picked else "")


def split_sentences(text: str) -> list[str]:
    """Sentences of mixed English and Chinese text, in order, whitespace-trimmed."""
    out: list[str] = []
    for para in re.split(r"\n+", text):
        for chunk in _ZH_SPLIT.split(para):
            pieces = _EN_SPLIT.split(chunk)
            merged: list[str] = []
            for piece in pieces:
                if merged and _ABBREV.search(merged[-1]):
                    merged[-1] = f"{merged[-1]} {piece}"
                else:
                    merged.append(piece)
            out += [p.strip() for p in merged if p.strip()]
    return out


def _is_chinese(text: str) -> bool:
    han = len(_CJK.findall(text))
    return han > 0 and han >= len(re.findall(r"[A-Za-z]", text)) / 4


def _pick(sentences: list[str], title: str, most: int) -> str:
    if not sentences:
        return ""
    ranked = sorted(range(len(sentences)), key=lambda i: -_score(sentences[i], i, title))
    chosen = [ranked[0]]
    first = sentences[ranked[0]]
    if most > 1 and len(ranked) > 1:
        second = ranked[1]
        joined = len(first) + 1 + len(sentences[second])
        if joined <= MAX_CHARS and _score(sentences[second], second, title) >= 3:
            chosen.append(second)
    joiner = "" if _is_chinese(first) else " "
    return truncate(joiner.join(sentences[i] for i in sorted(chosen)), MAX_CHARS)


def _score(sentence: str, index: int, title: str) -> float:
    lowered = sentence.lower()
    score = 0.0
    if _mentions_element(sentence):
        score += 3
    if any(a in lowered for a in _ACTIONS_EN) or any(a in sentence for a in _ACTIONS_ZH):
        score += 2
    if re.search(r"\d", sentence):
        score += 0.5  # figures (tonnes, percentages, dates) make a summary concrete
    score -= index * 0.3  # news puts the point first
    length = len(sentence)
    if length < 25 or length > 400:
        score -= 2
    if _overlap(sentence, title) > 0.8:
        score -= 1.5  # repeating the headline adds nothing
    return score


def _overlap(a: str, b: str) -> float:
    wa, wb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    return len(wa & wb) / len(wa) if wa else 0.0


@cache
def _element_pattern() -> re.Pattern[str]:
    names: set[str] = set()
    for el in elements.catalogue().values():
        names.update(n for n in (el.name_en, *el.aliases, *el.compounds) if n and len(n) > 3)
    names.update(("rare earth", "rare-earth", "critical mineral"))
    english = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    zh = {n for el in elements.catalogue().values() for n in (el.name_zh, *el.aliases_zh) if n}
    zh.add("稀土")
    chinese = "|".join(sorted((re.escape(n) for n in zh), key=len, reverse=True))
    return re.compile(rf"(?i:\b(?:{english})\b)|(?:{chinese})")


def _mentions_element(sentence: str) -> bool:
    return bool(_element_pattern().search(sentence))


# --- optional LLM ---------------------------------------------------------------------------------
_PROMPT = ("You summarize supply-chain news about rare earths and critical minerals for a Slack channel. "
           "Write one or two plain English sentences, at most 280 characters, naming the element(s) and "
           "the action (export control, quota, outage, price move). No markdown, no links, no preamble.")


def llm_summary(settings: Settings, title: str, text: str, language: str) -> str | None:
    """An OpenAI-compatible chat completion, or None on any error, timeout or unusable answer."""
    assert settings.summarizer_url
    url = settings.summarizer_url.rstrip("/")
    if not url.endswith("/chat/completions"):
        url += "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if settings.summarizer_api_key:
        headers["Authorization"] = f"Bearer {settings.summarizer_api_key.get_secret_value()}"
    payload: dict[str, Any] = {
        "model": settings.summarizer_model, "temperature": 0, "max_tokens": 160,
        "messages": [{"role": "system", "content": _PROMPT},
                     {"role": "user", "content": f"Language: {language}\nTitle: {title}\n\n{text[:6000]}"}],
    }
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=settings.summarizer_timeout)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("summarizer failed, using the extractive summary: %s", type(exc).__name__)
        return None
    if not isinstance(content, str) or not clean(content):
        return None
    return truncate(clean(content).replace("\n", " "), MAX_CHARS)
