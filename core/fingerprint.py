"""Language-neutral fingerprints of stories, for clustering: pure functions.

A fingerprint is a set of features: element symbols, numbers (announcement numbers, percentages,
months), concepts that English and Chinese share (出口 = export, 暂停 = suspend ...), remaining
English word stems and Chinese character bigrams. MinHash bands over the features find candidates
quickly; `similarity` (weighted Jaccard) and `conflict` (different measures never merge) decide.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import cache, lru_cache

from core.elements import catalogue, resolve

PERMUTATIONS = 24
ROWS = 2  # 12 bands of 2 rows: pairs sharing ~30 % of features usually meet in some band
_MASK = (1 << 64) - 1

# Concepts shared by English and Chinese wording (English stems after _stem; Chinese terms as written).
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "china": ("china", "chinese", "beijing", "中国", "我国", "中方"),
    "us": ("us", "u.s", "usa", "america", "american", "washington", "美国", "美方", "对美"),
    "japan": ("japan", "japanese", "tokyo", "日本", "对日"),
    "eu": ("eu", "europe", "european", "brussels", "欧盟", "欧洲"),
    "mofcom": ("mofcom", "commerce", "商务部"),
    "foreign": ("foreign-made", "foreign-produced", "overseas", "境外", "海外"),
    "cut": ("cut", "reduce", "lower", "slash", "减少", "下调", "削减", "压减"),
    "end": ("expire", "expiry", "end", "lapse", "revive", "到期", "结束", "届满"),
    "crackdown": ("crackdown", "crack", "打击", "专项行动"),
    "truce": ("truce", "joint statement", "talks", "联合声明", "会谈", "休战"),
    "firm": ("firm", "company", "companies", "企业", "公司"),
    "add": ("add", "put", "列入"),
    "deny": ("deny", "denies", "denied", "dismiss", "否认", "辟谣"),
    "customs": ("customs", "gac", "海关", "海关总署"),
    "export": ("export", "exporter", "outbound", "shipment", "出口"),
    "import": ("import", "importer", "进口"),
    "control": ("control", "curb", "restriction", "restrict", "tighten", "管制", "管控", "限制"),
    "ban": ("ban", "prohibit", "prohibition", "embargo", "禁止", "禁运", "禁令", "不予许可"),
    "suspend": ("suspend", "suspension", "pause", "暂停"),
    "licence": ("licence", "license", "licens", "permit", "许可", "许可证"),
    "general": ("general", "通用"),
    "announce": ("announcement", "announce", "notice", "公告", "发布"),
    "rare_earth": ("rare-earth", "ree", "稀土"),
    "magnet": ("magnet", "magnetic", "磁体", "磁铁", "永磁", "磁材"),
    "price": ("price", "pric", "价格", "价"),
    "rise": ("rise", "rose", "jump", "surge", "soar", "climb", "spike", "rally", "上涨", "暴涨", "飙升", "大涨"),
    "fall": ("fall", "fell", "drop", "slump", "decline", "tumble", "下跌", "回落", "大跌"),
    "quota": ("quota", "配额", "指标"),
    "tariff": ("tariff", "关税"),
    "sanction": ("sanction", "countermeasure", "制裁", "反制"),
    "entity_list": ("entity", "blacklist", "实体", "名单", "清单"),
    "military": ("military", "defence", "defense", "军事", "军工"),
    "dual_use": ("dual-use", "两用"),
    "technology": ("technology", "tech", "技术"),
    "extend": ("extend", "extension", "延长", "延期"),
    "resume": ("resume", "restart", "恢复"),
    "lift": ("lift", "scrap", "remov", "取消", "解除"),
    "smuggle": ("smuggl", "smuggling", "走私"),
    "mine": ("mine", "mining", "miner", "开采", "矿山"),
    "production": ("production", "output", "produc", "生产", "产量"),
    "approve": ("approve", "approval", "grant", "批准", "审批"),
    "implement": ("implement", "implementation", "impos", "effect", "实施", "生效"),
    "item": ("item", "物项"),
    "battery": ("battery", "电池"),
    "equipment": ("equipment", "设备"),
    "ministry": ("ministry", "部"),
}
# Concept families: two stories whose measures fall in different families are different stories.
FAMILIES: dict[str, str] = {
    "ban": "measure", "control": "measure", "licence": "measure", "entity_list": "measure",
    "sanction": "measure", "dual_use": "measure",
    "price": "market",
    "quota": "supply", "production": "supply", "mine": "supply",
    "tariff": "tariff", "smuggle": "enforcement",
}
_MONTH_NAMES = "january february march april may june july august september october november december"
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES.split())}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_PHRASES = (("united states", "us"), ("u.s.", "us"), ("ministry of commerce", "mofcom"),
            ("commerce ministry", "mofcom"), ("rare earths", "rare-earth"), ("rare earth", "rare-earth"),
            ("entity list", "entity"))
_NUMBER_NAMES = "zero one two three four five six seven eight nine ten"
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_NUMBER_NAMES.split())}
# Concepts nearly every story carries: they count, but little.
_GENERIC = frozenset({"c:china", "c:export", "c:rare_earth", "c:announce", "c:mofcom", "c:ministry", "c:control"})
# Countries other than China (the actor in most stories): two stories about different ones differ.
_COUNTRIES = frozenset({"c:us", "c:japan", "c:eu"})
_STOP_WORDS = """a an the of to in on for and or but by with from at as is are was were be been it its this that
    these those new over after before into than about amid says said say will would could may might has
    have had not no more most some any all up out off how why what who which while also just per vs via
    report reports reported according sources source week weeks month year years day days"""
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[a-z][a-z.'-]*[a-z]|[a-z]|\d+(?:[.,]\d+)*%?")
_CJK = re.compile(r"[\u3400-\u9fff]+")
# "Announcement No. 57", "Ann. 2025 No.70", "2025 No.18", "No. 61 announcement" - but not "the No. 1 producer".
_ANN_EN = re.compile(r"\b(?:announcement|ann\.|order|decree|notice|circular)\s*(?:\(?20\d\d\)?\s*)?"
                     r"(?:no\.?|number|#)?\s*(\d{1,3})\b|\b20\d\d\s+no\.\s*(\d{1,3})\b|"
                     r"\bno\.\s*(\d{1,3})\s+(?:announcement|notice|order|decree)", re.I)
_ANN_ZH = re.compile(r"(?:第|、|，|和)\s*(\d{1,3})\s*号")  # "第55号、56号和57号" names three
_ZH_MONTH = re.compile(r"(\d{1,2})\s*月")


@cache
def _en_concepts() -> dict[str, str]:
    """English word stem -> concept."""
    return {_stem(w): c for c, words in _CONCEPTS.items() for w in words if not _CJK.search(w)}


@cache
def _zh_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    terms: dict[str, str] = {w: "c:" + c for c, words in _CONCEPTS.items() for w in words if _CJK.search(w)}
    for el in catalogue().values():
        terms[el.name_zh] = "el:" + el.symbol
        for alias in el.aliases_zh:
            sym = resolve(alias)
            if sym:
                terms[alias] = "el:" + sym
    alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(alternation), terms


@cache
def _perms() -> tuple[tuple[int, int], ...]:
    # Fixed odd multipliers (multiply-shift hashing), the same in every process.
    out = []
    for i in range(PERMUTATIONS):
        a = int.from_bytes(zlib.crc32(f"a{i}".encode()).to_bytes(4, "big") * 2, "big") | 1
        b = int.from_bytes(zlib.crc32(f"b{i}".encode()).to_bytes(4, "big") * 2, "big")
        out.append((a, b))
    return tuple(out)


@cache
def _measures_by_number() -> dict[str, list[tuple[int, frozenset[str]]]]:
    """Announcement number -> [(year, features)] from the recorded measures, so a notice that names only its
    number ("2025年第57号") meets coverage that names its elements."""
    from core import controls

    out: dict[str, list[tuple[int, frozenset[str]]]] = {}
    by_id = {m.id: m for m in controls.measures()}
    for m in controls.measures():
        found = re.search(r"(\d{4}) No\.(\d+)", m.number)
        if found is None:
            continue
        feats = {"el:" + e for e in m.elements}
        if m.group == "rare_earth" or any(e in catalogue() and catalogue()[e].is_rare_earth for e in m.elements):
            feats.add("c:rare_earth")
        feats.update(("c:suspend" if m.kind == "suspension" else "c:control", "c:export", "c:china"))
        # Coverage names a measure by its month ("the October controls"); a suspension by the month of
        # the measures it suspends.
        named = [by_id[i] for i in m.suspends if i in by_id] if m.kind == "suspension" else [m]
        feats.update(f"m:{n.announced.month}" for n in named)
        out.setdefault(found.group(2), []).append((int(found.group(1)), frozenset(feats)))
    return out


def _known_measure(number: str, raw: str) -> frozenset[str]:
    """Features of the recorded measure with this number: the one of the year the text names, else the newest."""
    options = _measures_by_number().get(number, [])
    if not options:
        return frozenset()
    years = {int(y) for y in re.findall(r"(20\d\d)", raw)}
    for year, feats in options:
        if year in years:
            return feats
    return max(options)[1]


def _stem(word: str) -> str:
    """A crude stem (bans -> ban, licences -> licenc, paused -> paus): enough to meet inflected forms."""
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(word) >= len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# Severity classes that never share a story: an outright ban, a licensing measure, market friction, easing.
_POLARITY = {"critical": "ban", "high": "restrict", "elevated": "stress", "easing": "good"}


@dataclass(frozen=True, slots=True)
class Fingerprint:
    features: frozenset[str]
    elements: frozenset[str]
    announcements: frozenset[str]  # announcement / order numbers: different numbers, different measures
    families: frozenset[str]
    polarity: str  # severity class: "ban", "restrict", "stress", "good", or "" (info)
    weight: float = field(init=False, compare=False)  # total feature weight, for similarity's union

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", sum(_weight(f) for f in self.features))

    def dump(self) -> str:
        return "\t".join((" ".join(sorted(self.features)), " ".join(sorted(self.elements)),
                          " ".join(sorted(self.announcements)), " ".join(sorted(self.families)), self.polarity))

    @classmethod
    def load(cls, raw: str) -> Fingerprint:
        parts = raw.split("\t")
        parts += [""] * (5 - len(parts))
        return cls(frozenset(parts[0].split()), frozenset(parts[1].split()), frozenset(parts[2].split()),
                   frozenset(parts[3].split()), parts[4])


def fingerprint(title: str, text: str = "", *, elements: list[str] | None = None,
                severity: str = "info") -> Fingerprint:
    """The fingerprint of a story: its title and the first sentence or so of its text."""
    lead = text[:200]
    raw = f"{title}\n{lead}"
    features: set[str] = set()
    concepts = _en_concepts()
    words = _CJK.sub(" ", raw.casefold())
    for phrase, token in _PHRASES:
        words = words.replace(phrase, token)
    for match in _WORD.finditer(words):
        w = match.group().removesuffix("'s").strip(".'-")  # possessive: "Japan's" is Japan
        if not w or w in _STOP:
            continue
        w = _NUMBER_WORDS.get(w, w)
        if w[0].isdigit():
            features.add("n:" + w.replace(",", ""))
            continue
        if w in _MONTHS:
            features.add(f"m:{_MONTHS[w]}")
            continue
        sym = resolve(w) if len(w) > 2 else None
        if sym is not None:
            features.add("el:" + sym)
            continue
        stem = _stem(w)
        concept = concepts.get(stem)
        features.add("c:" + concept if concept else "w:" + stem)
    pattern, terms = _zh_pattern()
    for run in _CJK.finditer(raw):
        chunk = run.group()
        for term in pattern.findall(chunk):
            features.add(terms[term])
        for piece in pattern.sub(" ", chunk).split():
            features.update("z:" + piece[i:i + 2] for i in range(len(piece) - 1))
    for m in _ZH_MONTH.finditer(raw):
        features.add(f"m:{int(m.group(1))}")
        features.discard("n:" + m.group(1))
    for sym in elements or ():
        features.add("el:" + sym)
    if "c:mofcom" in features:
        features.add("c:china")  # a MOFCOM notice is China acting, as its English coverage says
    anns = frozenset(next(g for g in m.groups() if g) for m in (*_ANN_EN.finditer(raw), *_ANN_ZH.finditer(raw)))
    for ann in anns:
        features.update(_known_measure(ann, raw))
    els = frozenset(f[3:] for f in features if f.startswith("el:"))
    families = frozenset(FAMILIES[f[2:]] for f in features if f.startswith("c:") and f[2:] in FAMILIES)
    polarity = _POLARITY.get(severity, "")
    return Fingerprint(frozenset(features), els, anns, families, polarity)


_WEIGHT = {"el": 3.0, "n:": 2.0, "m:": 1.0, "c:": 1.5, "w:": 1.0, "z:": 0.5}


@cache
def _weight(feature: str) -> float:
    return 0.5 if feature in _GENERIC else _WEIGHT.get(feature[:2], 1.0)


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Weighted Jaccard of the features; symbols and numbers weigh most, Chinese bigrams least."""
    inter = sum(_weight(f) for f in a.features & b.features)
    union = a.weight + b.weight - inter
    return inter / union if union else 0.0


NEUTRAL_MIN_SHARED = 4.5


def neutral_similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Weighted overlap (shared / smaller side) of the language-neutral features only (elements, numbers,
    months, concepts), so a Chinese notice and its English coverage can meet; 0 unless both carry the
    same severity class and share at least NEUTRAL_MIN_SHARED of weight, not all of it elements."""
    if not a.polarity or a.polarity != b.polarity:
        return 0.0  # only stories that say something of the same weight meet across languages
    fa = {f for f in a.features if f[:2] in ("el", "n:", "m:", "c:")}
    fb = {f for f in b.features if f[:2] in ("el", "n:", "m:", "c:")}
    if not a.elements or not b.elements:
        # a story that names no element is not different for it (conflict() agrees): compare the rest
        fa = {f for f in fa if not f.startswith("el:")}
        fb = {f for f in fb if not f.startswith("el:")}
    shared = fa & fb
    inter = sum(_weight(f) for f in shared)
    # Shared elements alone are not a story: something about what happened must match too, either
    # enough weight or two specific concepts (crackdown + smuggling, suspension + expiry).
    specific = sum(1 for f in shared if f.startswith("c:") and f not in _GENERIC)
    about = sum(_weight(f) for f in shared if not f.startswith("el:"))
    if (inter < NEUTRAL_MIN_SHARED and specific < 2) or about < 1.0:
        return 0.0
    smaller = min(sum(_weight(f) for f in fa), sum(_weight(f) for f in fb))
    return inter / smaller if smaller else 0.0


def conflict(a: Fingerprint, b: Fingerprint) -> str | None:
    """Why two stories must stay apart even if they read alike, else None."""
    if a.announcements and b.announcements and not a.announcements & b.announcements:
        return "different announcements"
    if a.elements and b.elements and not a.elements & b.elements:
        return "different elements"
    if a.polarity and b.polarity and a.polarity != b.polarity:
        return "different direction or weight"  # a ban is not a licence rule, and neither is easing
    if ("c:deny" in a.features) != ("c:deny" in b.features):
        return "a denial is not the report it denies"
    if a.families and b.families and not a.families & b.families:
        return "different kind of measure"
    ca, cb = a.features & _COUNTRIES, b.features & _COUNTRIES
    if ca and cb and not ca & cb:
        return "different countries"  # a ban on the US is not a ban on Japan
    return None


@lru_cache(maxsize=1 << 16)
def _feature_hashes(feature: str) -> tuple[int, ...]:
    """One feature's value under every hash family, computed once: features recur across stories."""
    h = zlib.crc32(feature.encode())
    return tuple(((a * h + b) & _MASK) >> 32 for a, b in _perms())


def signature(fp: Fingerprint) -> list[int]:
    """MinHash of the features: PERMUTATIONS values, each the minimum of one hash family."""
    rows = [_feature_hashes(f) for f in fp.features] or [_feature_hashes("")]
    return [min(column) for column in zip(*rows, strict=True)]


def buckets(fp: Fingerprint) -> list[str]:
    """LSH band keys plus anchors (each element with each announcement number) for candidate lookup."""
    sig = signature(fp)
    out = [f"b{i}:{zlib.crc32(repr(sig[i:i + ROWS]).encode()):08x}" for i in range(0, len(sig), ROWS)]  # stable keys
    # Anchors let stories that share little wording meet (a Chinese notice and its English coverage):
    # each element with the story's direction, and each announcement number.
    out.extend(f"e:{sym}:{fp.polarity}" for sym in sorted(fp.elements))
    out.extend(f"a:{ann}" for ann in sorted(fp.announcements))
    # and each kind of measure with the direction, so coverage naming no element meets a notice that does
    out.extend(f"f:{fam}:{fp.polarity}" for fam in sorted(fp.families))
    return out
