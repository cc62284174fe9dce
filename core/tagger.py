"""Which elements and topics a text is about: a pure function over English and Chinese text.

Names (English and Chinese), aliases and compound tokens always count. Chemical symbols count only
where the context makes them chemical: inside formulas (Tb4O7, GaAs), doping notation (Yb:YAG),
alloy pairs (Sm-Co, Dy/Tb), lists of symbols (Pr and Nd), in parentheses after the name, or beside
domain words (Dy prices, Nd magnet). Weak symbols that double as words or abbreviations (La, In, Ho,
Lu, Eu, Ga ...) need a material noun after them (La oxide) or one of the stronger contexts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from core.elements import Element, catalogue

#: Topic ids `tag` can report, in a stable order.
TOPICS = ("rare-earths", "heavy-rare-earths", "magnets", "critical-minerals", "export-controls")


@dataclass(frozen=True, slots=True)
class Match:
    """One reason for a decision: `term` as written, what `kind` of rule fired, where (`span` into the
    analysed text), and `detail` (element symbols, topic id, or severity level)."""

    term: str
    kind: str
    span: tuple[int, int]
    detail: str = ""


@dataclass(slots=True)
class Tags:
    elements: list[str] = field(default_factory=list)  # symbols, in order of first mention
    topics: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Every periodic-table symbol a formula may contain next to a catalogue element. Kept to the elements that
# appear in real compounds and alloys of our materials, so Y2K, Mo-Fr or W3C do not parse as chemistry.
_PARTNERS = _words(
    "H Li B C N O F Na Mg Al Si P S Cl K Ca Ti V Cr Mn Fe Co Ni Cu Zn As Se Br Sr Zr Nb Ag Cd Sn I Ba Hf "
    "Ta Re Pt Au Pb"
)
# Words that make a strong symbol chemical when beside it ("Dy prices", "export of Dy", "Nd magnet").
_DOMAIN = _words(
    """oxide oxides metal metals magnet magnets price prices pricing export exports exporter exporters
    exported import imports licence licences license licenses licensing alloy alloys supply supplies output
    production shipments market markets quota quotas concentrate concentrates powder ingot ingots compounds
    carbonate fluoride chloride nitrate feedstock content controls control curbs restrictions ban bans demand
    stocks stockpile stockpiles ore ores products material materials grade grades iodide sulfide"""
)
# Nouns that make even a weak symbol chemical when they follow it ("La oxide", "Ce carbonate").
_MATERIAL = _words("oxide oxides carbonate fluoride chloride nitrate concentrate concentrates ingot ingots iodide "
                   "sulfide")
_SUFFIXES = _words("doped containing bearing based rich free")
_LIST_SEP = re.compile(r"\s*(?:,\s*(?:and|or)?|/|&|\band\b|\bor\b|、|和|及|与)\s*$")
_WORD_AFTER = re.compile(r"(?:\s+|-)([A-Za-z]+)")
_WORDS_BEFORE = re.compile(r"([A-Za-z]+)[\s,]+(?:([A-Za-z]+)\s+)?$")
_FORMULA_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Za-z0-9]*[A-Za-z0-9](?![A-Za-z0-9])")
_COMPONENT = re.compile(r"([A-Z][a-z]?)(\d*(?:\.\d+)?)")
_COMBO = re.compile(r"(?<![A-Za-z0-9/-])[A-Z][a-z]?(?:[-/][A-Z][a-z]?)+(?![A-Za-z0-9/-])")
_DOPING = re.compile(r"(?<![A-Za-z0-9])([A-Z][a-z]?):(?=[A-Z]{2,}|glass|fib)")
# Unicode subscripts and full-width brackets become ASCII of the same length, so spans stay valid.
_NORMALIZE = str.maketrans("₀₁₂₃₄₅₆₇₈₉（）：", "0123456789():")

_TOPIC_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("heavy-rare-earths", re.compile(r"\b(?:medium[- ]and[- ]heavy|heavy)[- ]rare[- ]earths?\b|\bHREEs?\b|"
                                     r"中重稀土|重稀土", re.I)),
    ("rare-earths", re.compile(r"(?<![A-Za-z])REEs?(?![A-Za-z])|\bREO\b|稀土")),
    ("rare-earths", re.compile(r"\brare[- ]earths?\b", re.I)),
    ("magnets", re.compile(r"\bmagnets?\b|\bmagnetic materials?\b|磁体|永磁|磁材|磁铁|钕铁硼", re.I)),
    ("critical-minerals", re.compile(r"\b(?:critical|strategic) (?:minerals?|metals?|raw materials)\b|"
                                     r"关键矿产|战略矿产|关键矿物|战略性矿产", re.I)),
    ("export-controls", re.compile(r"\bexport[- ](?:controls?|curbs?|restrictions?|licen[cs](?:es?|ing)|bans?)\b|"
                                   r"出口管制|出口许可|两用物项", re.I)),
)


@dataclass(frozen=True, slots=True)
class _Index:
    names: re.Pattern[str]  # English names and aliases, case-insensitive
    names_map: dict[str, tuple[str, ...]]
    compounds: re.Pattern[str] | None  # exact-case tokens
    compounds_map: dict[str, tuple[str, ...]]
    zh: re.Pattern[str]
    zh_map: dict[str, tuple[str, ...]]
    symbols: re.Pattern[str]
    by_symbol: dict[str, Element]


def _alternation(terms: list[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(set(terms), key=lambda t: (-len(t), t)))


def _in_text_order(term: str, symbols: list[str]) -> tuple[str, ...]:
    """NdPr -> (Nd, Pr): symbols in the order the compound spells them (unspelled ones last)."""
    def position(symbol: str) -> int:
        found = term.find(symbol)
        return found if found >= 0 else len(term)

    return tuple(sorted(dict.fromkeys(symbols), key=position))


@cache
def _index() -> _Index:
    els = catalogue()
    names: dict[str, list[str]] = {}
    compounds: dict[str, list[str]] = {}
    zh: dict[str, list[str]] = {}
    for el in els.values():
        for term in (el.name_en, *el.aliases):
            names.setdefault(term.casefold(), []).append(el.symbol)
        for term in el.compounds:
            compounds.setdefault(term, []).append(el.symbol)
        for term in (el.name_zh, *el.aliases_zh):
            zh.setdefault(term, []).append(el.symbol)
    symbols = [s for s, el in els.items() if el.symbol_strength != "never"]
    edge_l, edge_r = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
    return _Index(
        names=re.compile(edge_l + "(?:" + _alternation(list(names)) + ")" + edge_r, re.I),
        names_map={k: tuple(dict.fromkeys(v)) for k, v in names.items()},
        compounds=re.compile(edge_l + "(?:" + _alternation(list(compounds)) + ")" + edge_r) if compounds else None,
        compounds_map={k: _in_text_order(k, v) for k, v in compounds.items()},
        zh=re.compile(_alternation(list(zh))),
        zh_map={k: tuple(dict.fromkeys(v)) for k, v in zh.items()},
        symbols=re.compile(edge_l + "(?:" + _alternation(symbols) + ")" + edge_r),
        by_symbol=dict(els),
    )


class _Collector:
    """Matches in priority order; a later rule never claims text an earlier rule already explained."""

    def __init__(self) -> None:
        self.matches: list[Match] = []
        self._taken: list[tuple[int, int]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self._taken)

    def add(self, term: str, kind: str, start: int, end: int, symbols: tuple[str, ...] | list[str]) -> None:
        self._taken.append((start, end))
        self.matches.append(Match(term, kind, (start, end), ",".join(symbols)))


def tag(text: str) -> Tags:
    """Elements (symbols), topics and the matches behind them for `text` (English, Chinese or mixed)."""
    idx = _index()
    norm = text.translate(_NORMALIZE)
    col = _Collector()
    _names(norm, idx, col)
    _formulas(norm, idx, col)
    _combos(norm, idx, col)
    _symbols(norm, idx, col)
    tags = Tags()
    order = sorted(col.matches, key=lambda m: m.span)
    for m in order:
        for sym in m.detail.split(","):
            if sym and sym not in tags.elements:
                tags.elements.append(sym)
    topic_matches = _topics(norm)
    found = {m.detail for m in topic_matches}
    if any(idx.by_symbol[s].is_rare_earth for s in tags.elements):
        found.add("rare-earths")
    if "heavy-rare-earths" in found:
        found.add("rare-earths")
    if any(not idx.by_symbol[s].is_rare_earth for s in tags.elements):
        found.add("critical-minerals")
    tags.topics = [t for t in TOPICS if t in found]
    tags.matches = sorted(order + topic_matches, key=lambda m: m.span)
    return tags


def _names(text: str, idx: _Index, col: _Collector) -> None:
    if idx.compounds is not None:
        for m in idx.compounds.finditer(text):
            if text[m.start() - 1:m.start()] == ":":
                continue  # the host in doping notation (Yb:YAG): the story is about the dopant
            col.add(m.group(), "compound", m.start(), m.end(), idx.compounds_map[m.group()])
    for m in idx.names.finditer(text):
        if col.free(m.start(), m.end()):
            col.add(m.group(), "name", m.start(), m.end(), idx.names_map[m.group().casefold()])
    for m in idx.zh.finditer(text):
        if m.group() == "石墨" and text[m.end():m.end() + 1] == "烯":
            continue  # 石墨烯 is graphene, not graphite
        if col.free(m.start(), m.end()):
            col.add(m.group(), "name_zh", m.start(), m.end(), idx.zh_map[m.group()])


def _parse_formula(token: str) -> list[str] | None:
    parts: list[str] = []
    pos = 0
    digits = False
    while pos < len(token):
        m = _COMPONENT.match(token, pos)
        if m is None:
            return None
        parts.append(m.group(1))
        digits = digits or bool(m.group(2))
        pos = m.end()
    return parts if len(parts) >= 2 and (digits or len({*parts}) >= 2) else None


def _formulas(text: str, idx: _Index, col: _Collector) -> None:
    for m in _FORMULA_TOKEN.finditer(text):
        token = m.group()
        parts = _parse_formula(token)
        if parts is None or not col.free(m.start(), m.end()):
            continue
        known = set(idx.by_symbol)
        if not all(p in known or p in _PARTNERS for p in parts):
            continue
        # Acronyms such as WHO (W+H+O) parse as formulas; real ones show a lower-case letter or an oxide.
        if not (any(c.islower() for c in token) or ("O" in parts and any(c.isdigit() for c in token))):
            continue
        hits = [p for p in dict.fromkeys(parts) if p in known and idx.by_symbol[p].symbol_strength != "never"]
        if hits:
            col.add(token, "formula", m.start(), m.end(), hits)
    for m in _DOPING.finditer(text):
        sym = m.group(1)
        if sym in idx.by_symbol and col.free(m.start(1), m.end(1)):
            col.add(sym, "formula", m.start(1), m.end(1), [sym])


def _combos(text: str, idx: _Index, col: _Collector) -> None:
    """Sm-Co, Dy/Tb, Nd-Fe-B, Al-Sc: symbols joined by '-' or '/' (B/W, Y/Y and Mo-Fr are not)."""
    for m in _COMBO.finditer(text):
        parts = re.split(r"[-/]", m.group())
        if len(set(parts)) != len(parts) or not any(len(p) == 2 for p in parts):
            continue
        if not all(p in idx.by_symbol or p in _PARTNERS for p in parts):
            continue
        hits = [p for p in parts if p in idx.by_symbol and idx.by_symbol[p].symbol_strength != "never"]
        if hits and col.free(m.start(), m.end()):
            col.add(m.group(), "formula", m.start(), m.end(), hits)


def _symbols(text: str, idx: _Index, col: _Collector) -> None:
    found = [m for m in idx.symbols.finditer(text) if col.free(m.start(), m.end())]
    groups: list[list[re.Match[str]]] = []
    for m in found:
        if groups and _LIST_SEP.match(text[groups[-1][-1].end():m.start()]) is not None:
            groups[-1].append(m)
        else:
            groups.append([m])
    for group in groups:
        distinct = {m.group() for m in group}
        if len(distinct) >= 2:
            strong = any(idx.by_symbol[s].symbol_strength == "strong" for s in distinct)
            if strong or len(distinct) >= 3 or _domain_beside(text, group[0].start(), group[-1].end(), weak=False):
                for m in group:
                    col.add(m.group(), "symbol", m.start(), m.end(), [m.group()])
            continue
        m = group[0]
        sym = m.group()
        weak = idx.by_symbol[sym].symbol_strength != "strong"
        if _after_name(text, m.start(), m.end(), idx.by_symbol[sym]) or _isotope(text, m.end(), idx.by_symbol[sym]) \
                or _domain_beside(text, m.start(), m.end(), weak=weak):
            col.add(sym, "symbol", m.start(), m.end(), [sym])


_MASS = re.compile(r"-(\d{1,3})\b")


def _isotope(text: str, end: int, el: Element) -> bool:
    """Isotope notation (Lu-177, Y-90): a mass number no lighter than the atomic number, nor much heavier."""
    found = _MASS.match(text, end)
    return found is not None and el.z <= int(found.group(1)) <= 3 * el.z + 10


def _after_name(text: str, start: int, end: int, el: Element) -> bool:
    if text[start - 1:start] != "(" or text[end:end + 1] != ")":
        return False
    before = text[:start - 1].rstrip().casefold()
    return before.endswith(el.name_en.casefold()) or before.endswith(el.name_zh)


def _domain_beside(text: str, start: int, end: int, *, weak: bool) -> bool:
    after = _WORD_AFTER.match(text, end)
    if after is not None:
        word = after.group(1).casefold()
        if text[end] == "-" and word in _SUFFIXES:
            return True
        if word in (_MATERIAL if weak else _DOMAIN):
            return True
    if weak:
        return False
    before = _WORDS_BEFORE.search(text[max(0, start - 40):start])
    return before is not None and any(w and w.casefold() in _DOMAIN for w in before.groups())


def _topics(text: str) -> list[Match]:
    out: list[Match] = []
    seen: set[tuple[int, int]] = set()
    for topic, pattern in _TOPIC_PATTERNS:
        for m in pattern.finditer(text):
            if m.span() in seen:
                continue
            seen.add(m.span())
            out.append(Match(m.group(), "topic", m.span(), topic))
    return out
