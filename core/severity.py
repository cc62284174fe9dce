"""How bad a story is for supply: a pure function over English and Chinese text.

The verb is read with its object: "suspends exports" is critical, "suspends the export controls" is
easing; "licence required" is high, "licences granted" is easing. Rules run in priority order (the
end of a suspension, then easing, then critical, high, elevated) and a later rule never re-reads text
an earlier one explained, so "lifts the export ban" is not also an export ban. The headline decides
when it says anything; the body speaks only for a silent headline. Commentary that hedges ("could",
"mulls") drops a level unless the source is official, and official or wire sources lift a bare
mention of export controls to high.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.models import TIER_WEIGHT, Severity
from core.tagger import Match

_I = re.IGNORECASE
# Up to N filler words between a verb and its object; never across the plural objects that flip polarity.
_GAP = r"(?:(?!exports\b|shipments\b|supplies\b|sales\b|deliveries\b)[\w.'’-]+\s+){0,%d}?"
_CONTROL = r"(?:export\s+)?(?:controls?|curbs?|restrictions?|bans?|embargo|measures?|prohibitions?|rules|" \
           r"licensing requirements?|announcements?)\b"
_FLOW = r"(?:exports?|shipments?|supply|supplies|deliveries|sales)\b"


def _r(pattern: str, flags: int = _I) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# (level, label, pattern). Labels are what `reewatch explain` shows as the match kind's detail.
_RULES: tuple[tuple[Severity, str, re.Pattern[str]], ...] = (
    # A suspension that ends brings the controls back: bad news, checked before "suspension" reads as easing.
    (Severity.HIGH, "suspension ends", _r(r"\bsuspension\s+" + _GAP % 6 + r"(?:ends|ended|expires|expired|lapses|"
                                          r"lapsed|runs out|ran out)\b")),
    (Severity.HIGH, "suspension ends", _r(r"\b(?:end|expiry|expiration|lapse)\s+of\s+(?:the\s+)?" + _GAP % 3
                                          + r"(?:suspension|pause|truce)\b")),
    (Severity.HIGH, "controls return", _r(r"\b(?:controls?|curbs?|restrictions?|ban)\s+" + _GAP % 3
                                          + r"(?:revive[sd]?|return(?:s|ed)?|snap(?:s|ped)? back|back in force|"
                                            r"reinstated|reimposed)\b")),
    (Severity.HIGH, "controls return", _r(r"\b(?:reimpose[sd]?|reinstate[sd]?|restore[sd]?)\s+(?:the\s+)?" + _GAP % 4
                                          + _CONTROL)),
    (Severity.HIGH, "controls return", _r(r"暂停(?:期|措施|实施)?\S{0,6}?(?:到期|结束|届满|期满)|"
                                          r"恢复实施|重新实施", 0)),
    # Easing: the object is a control, a ban or a tariff, or flows restart.
    (Severity.EASING, "controls suspended", _r(r"\b(?:suspend(?:s|ed|ing)?|paus(?:es|ed|ing|e)|halt(?:s|ed|ing)?|"
                                               r"freez(?:es|e|ing)|froze)\s+(?:the\s+|its\s+|some\s+|part\s+of\s+"
                                               r"(?:the\s+)?|implementation\s+of\s+(?:the\s+)?)?"
                                               + _GAP % 5 + _CONTROL)),
    (Severity.EASING, "controls suspended", _r(r"\b(?:suspension|pause)\s+(?:of|on)\s+(?:the\s+)?"
                                               + _GAP % 5 + _CONTROL)),
    (Severity.EASING, "suspension extended", _r(r"\bextend(?:s|ed|ing)?\s+(?:the\s+|its\s+)?" + _GAP % 3
                                                + r"(?:suspension|pause|truce|exemptions?)\b")),
    (Severity.EASING, "controls lifted", _r(r"\b(?:lift(?:s|ed|ing)?|eas(?:es|ed|ing|e)|relax(?:es|ed|ing)?|"
                                            r"loosen(?:s|ed|ing)?|scrap(?:s|ped|ping)?|remov(?:es|ed|ing)|"
                                            r"drop(?:s|ped|ping)?|roll(?:s|ed)?\s+back|waive[sd]?|cancel(?:s|l?ed)?|"
                                            r"revok(?:es|ed))\s+(?:the\s+|its\s+|some\s+)?" + _GAP % 4
                                            + r"(?:ban|bans|embargo|controls?|curbs?|restrictions?|tariffs?|"
                                              r"sanctions?|requirements?)\b")),
    (Severity.EASING, "controls lifted", _r(r"\b(?:ban|bans|embargo|controls?|curbs?|restrictions?)\s+" + _GAP % 3
                                            + r"(?:lifted|eased|scrapped|removed|dropped|suspended|paused|relaxed|"
                                              r"withdrawn|rolled back)\b")),
    (Severity.EASING, "licences granted", _r(r"\bgeneral\s+licen[cs]es?\b|\blicen[cs]es?\s+(?:\w+\s+){0,2}?"
                                             r"(?:approved|granted|issued|resumed)\b")),
    (Severity.EASING, "licences granted", _r(r"\b(?:approv|grant|issu)(?:es|ed|ing|e|s)?\s+(?:\w+\s+){0,4}?"
                                             r"(?:export\s+)?(?:licen[cs]es?|permits?|applications)\b")),
    (Severity.EASING, "exports resume", _r(r"\b(?:resum(?:es|ed|ing|e|ption\s+of)|restart(?:s|ed|ing)?|"
                                           r"reopen(?:s|ed|ing)?)\s+(?:\w+\s+){0,4}?" + _FLOW)),
    (Severity.EASING, "exports resume", _r(r"\b" + _FLOW + r"\s+(?:\w+\s+){0,3}?(?:resume[sd]?|restart(?:s|ed)?|"
                                           r"recover(?:s|ed)?|rebound(?:s|ed)?)\b")),
    (Severity.EASING, "de-escalation", _r(r"\b(?:truce|trade\s+deal|framework\s+(?:agreement|deal)|"
                                          r"joint\s+statement|exemptions?|exempts?|exempted)\b")),
    (Severity.EASING, "quota raised", _r(r"\b(?:rais|increas|lift|hik|boost)\w*\s+(?:\w+\s+){0,4}?quotas?\b")),
    (Severity.EASING, "prices fall", _r(r"\bprices?\s+(?:\w+\s+){0,2}?(?:fall|falls|fell|drop|drops|dropped|"
                                        r"slump(?:s|ed)?|ease[sd]?|decline[sd]?|retreat(?:s|ed)?|tumble[sd]?|"
                                        r"slide|slid|plunge[sd]?)\b")),
    (Severity.EASING, "controls suspended", _r(r"暂停(?:实施|执行|适用)|停止实施|延长暂停|"
                                               r"暂停\S{0,8}?(?:管制|措施|公告)", 0)),
    (Severity.EASING, "licences granted", _r(r"通用许可|(?:批准|获批|发放|颁发|获得)\S{0,6}?许可", 0)),
    (Severity.EASING, "exports resume", _r(r"恢复\S{0,4}?(?:出口|供应|发货)", 0)),
    (Severity.EASING, "de-escalation", _r(r"休战|框架协议|联合声明|豁免|放宽|"
                                          r"(?:取消|解除)\S{0,8}?(?:管制|限制|禁令|措施|关税)", 0)),
    (Severity.EASING, "prices fall", _r(r"价格\S{0,6}?(?:下跌|回落|走低|下滑|大跌)", 0)),
    # Critical: outright prohibition or cut-off.
    (Severity.HIGH, "technology export ban", _r(r"\btechnolog(?:y|ies)\s+" + _GAP % 2 + r"export\s+bans?\b|"
                                                r"\bbans?\s+(?:the\s+)?exports?\s+of\s+" + _GAP % 6
                                                + r"technolog(?:y|ies)\b")),
    (Severity.CRITICAL, "export ban", _r(r"\bexport\s+bans?\b|\bban(?:s|ned|ning)?\s+(?:on\s+)?"
                                         r"(?:[\w,'’-]+\s+){0,6}?exports?\b|\bexports?\s+(?:\w+\s+){0,3}?(?:banned|prohibited)\b|"
                                         r"\bprohibit(?:s|ed|ing|ion\s+on)?\s+(?:\w+\s+){0,4}?exports?\b")),
    (Severity.CRITICAL, "embargo", _r(r"\bembargo(?:es|ed)?\b")),
    (Severity.CRITICAL, "flows stopped", _r(r"\b(?:halt(?:s|ed|ing)?|stop(?:s|ped|ping)?|suspend(?:s|ed|ing)?|"
                                            r"cut(?:s|ting)?\s+off|freez(?:es|e|ing)|froze|block(?:s|ed|ing)?)\s+"
                                            r"(?:all\s+)?(?:\w+\s+){0,4}?" + _FLOW)),
    (Severity.CRITICAL, "flows stopped", _r(r"\b(?:cuts?\s+off|cut-off\s+of)\s+(?:\w+\s+){0,3}?supply\b")),
    (Severity.CRITICAL, "force majeure", _r(r"\bforce\s+majeure\b")),
    # Listing firms cuts them off (critical); listing items is licensing (high, below).
    (Severity.CRITICAL, "entity listing", _r(r"\b(?:add(?:s|ed|ing)?|put(?:s|ting)?|place[sd]?|plac(?:es|ing))\s+"
                                             r"(?:[\w.,&'’-]+\s+){0,10}?(?:firms?|compan(?:y|ies)|entit(?:y|ies)|"
                                             r"contractors?|makers?|groups?|businesses|corporations?)\s+"
                                             r"(?:[\w.&'’-]+\s+){0,4}?(?:to|on)\s+(?:its\s+|the\s+|an?\s+)?"
                                             r"(?:export[- ]control(?:led)?\s+(?:control\s+)?|"
                                             r"unreliable\s+entit(?:y|ies)\s+|entity\s+)list\b|\bunreliable\s+entit(?:y|ies)\s+list\b")),
    (Severity.CRITICAL, "denial in principle", _r(r"\bnot\s+(?:be\s+)?permitted\s+in\s+principle\b|"
                                                  r"\bpresumption\s+of\s+denial\b")),
    (Severity.CRITICAL, "military end-user ban", _r(r"\bban\w*\s+(?:\w+\s+){0,6}?military\s+(?:end[- ])?users?\b")),
    (Severity.CRITICAL, "export ban", _r(r"禁止\S{0,12}?出口|原则上不予许可|禁运|停止\S{0,4}?出口|断供|"
                                         r"暂停\S{0,4}?出口", 0)),
    (Severity.CRITICAL, "entity listing", _r(r"列入\S{0,12}?(?:管控名单|实体清单|清单)|不可靠实体清单", 0)),
    (Severity.CRITICAL, "force majeure", _r(r"不可抗力", 0)),
    # High: new or wider licensing, reach beyond China, escalation.
    (Severity.HIGH, "controls imposed", _r(r"\b(?:impos|expand|tighten|widen|extend|introduc|announc|unveil|add|"
                                           r"slap|broaden|step(?:s|ped)?\s+up|rolls?\s+out|launch|adopt)\w*\s+"
                                           r"(?:\w+\s+){0,5}?(?:export\s+)?(?:controls?|curbs?|restrictions?|"
                                           r"licensing)\b")),
    (Severity.HIGH, "items listed", _r(r"\b(?:add(?:s|ed|ing)?|put(?:s|ting)?)\s+(?:[\w.,&'’-]+\s+){0,10}?(?:to|on)\s+"
                                       r"(?:its\s+|the\s+)?(?:[\w-]+\s+){0,2}?export[- ]controls?(?:\s+list)?\b")),
    (Severity.HIGH, "controls imposed", _r(r"\bnew\s+(?:\w+\s+){0,3}?(?:export\s+)?(?:controls?|curbs?|restrictions?|"
                                           r"licensing)\b|\b(?:controls?|curbs?|restrictions?)\s+on\s+"
                                           r"(?:\w+\s+){0,4}?exports?\b|\bexport\s+(?:curbs?|restrictions?)\b|"
                                           r"\b(?:restrict|curb|limit)(?:s|ed|ing)?\s+(?:\w+\s+){0,4}?exports?\b")),
    (Severity.HIGH, "controls take effect", _r(r"\b(?:controls?|curbs?|restrictions?|rules)\s+(?:\w+\s+){0,5}?"
                                               r"(?:take|took|takes|taking)\s+effect\b|\bcome\s+into\s+force\b")),
    (Severity.HIGH, "licence required", _r(r"\bexport\s+(?:rules|regulations|regime|controls)\s+(?:now\s+|will\s+)?"
                                           r"requir(?:e|es|ing)\b|\blicen[cs]es?\s+(?:are\s+|is\s+|now\s+|will\s+be\s+)?"
                                           r"(?:required|requirements?|needed)\b|\b(?:requir(?:es|ed|ing|e)|"
                                           r"need(?:s|ed)?|must\s+(?:obtain|apply\s+for|get|seek))\s+(?:an?\s+)?"
                                           r"(?:\w+\s+){0,2}?licen[cs]es?\b|\bwithout\s+(?:an?\s+)?(?:export\s+)?"
                                           r"licen[cs]es?\b|\blicensing\s+(?:requirements?|regime|rules)\b")),
    (Severity.HIGH, "extraterritorial reach", _r(r"\bdual[- ]use\b|\bde\s+minimis\b|\bforeign[- ](?:made|produced)\b|"
                                                 r"\bextraterritorial\b|\b0\.1\s?%")),
    (Severity.HIGH, "sanctions", _r(r"\bsanction(?:s|ed)?\b|\bcountermeasures?\b|\bretaliat\w*|\bwatch\s?list\b|"
                                    r"\bend[- ]use(?:rs?)?\s+(?:review|checks?|scrutiny)\b")),
    (Severity.HIGH, "controls imposed", _r(r"(?<!暂停|停止)(?:实施|加强|扩大)\S{0,4}?(?:出口)?管制|"
                                           r"未经许可不得出口|两用物项|"
                                           r"出口许可证?件?|价值比例|境外\S{0,12}?物项", 0)),
    (Severity.HIGH, "sanctions", _r(r"制裁|反制|关注名单|最终用户|最终用途", 0)),
    # Elevated: friction, quotas, enforcement, market stress.
    (Severity.ELEVATED, "licence delays", _r(r"\b(?:licen[cs]e|licensing|approval|permit)s?\s+(?:\w+\s+){0,2}?"
                                             r"(?:delays?|delayed|backlogs?|slow(?:s|ed|down)?|bottlenecks?)\b|"
                                             r"\b(?:delays?|backlogs?|slow(?:er)?)\s+(?:in\s+)?(?:\w+\s+){0,2}?"
                                             r"(?:licen[cs]\w*|approvals?|permits?)\b")),
    (Severity.ELEVATED, "quota cut", _r(r"\b(?:cut|cuts|reduc(?:es|ed|e)|lower(?:s|ed)?|slash(?:es|ed)?|trim(?:s|med)?)"
                                        r"\s+(?:\w+\s+){0,4}?quotas?\b|\bquotas?\s+(?:\w+\s+){0,2}?(?:cut|cuts|reduced|"
                                        r"lowered)\b|\b(?:production|mining|separation|output)\s+quotas?\b")),
    (Severity.ELEVATED, "enforcement", _r(r"\bcrack(?:s|ed)?\s*down\b|\bcrackdown\b|\bsmuggl\w+|\binspections?\b|"
                                          r"\btraceability\b")),
    (Severity.ELEVATED, "price spike", _r(r"\bprices?\s+(?:\w+\s+){0,2}?(?:spike[sd]?|surge[sd]?|soar(?:s|ed|ing)?|"
                                          r"jump(?:s|ed)?|rise[sn]?|rose|climb(?:s|ed)?|rall(?:y|ies|ied)|"
                                          r"hit(?:s|ting)?\s+(?:a\s+)?record|double[sd]?|skyrocket\w*|spiral\w*)\b|"
                                          r"\b(?:spike|surge|rally|jump)\s+in\s+(?:\w+\s+){0,3}?prices?\b|"
                                          r"\brecord[- ]high\s+prices?\b")),
    (Severity.ELEVATED, "shortage", _r(r"\bshortages?\b|\bsupply\s+(?:is\s+|remains\s+|runs\s+)?tight\w*|"
                                       r"\btight\s+supply\b|"
                                       # buyers stockpiling is stress; a stockpile plan or bill is policy news
                                       r"\bstockpil\w+\b(?!\s+(?:plans?|strateg\w+|bills?|programm?e?s?|laws?|polic\w+|"
                                       r"proposals?|schemes?|funds?|targets?)\b)|\bsupply\s+(?:crunch|squeeze|disruptions?|"
                                       r"shocks?|risks?|concerns?|fears?|worries|gap)\b|\bscramble\s+for\b|\bsqueez\w*\s+supply\b")),
    (Severity.ELEVATED, "tariffs", _r(r"\btariffs?\b|\banti-dumping\b")),
    (Severity.ELEVATED, "outage", _r(r"\b(?:halt|suspend|stop|shut|idle|curtail)\w*\s+(?:\w+\s+){0,3}?(?:production|"
                                     r"output|operations|mining|smelting|plant|mine|refinery)\b|\boutage\b|"
                                     r"\bshutdown\b")),
    (Severity.ELEVATED, "licence delays", _r(r"审批\S{0,2}?(?:缓慢|放缓|延迟|积压|收紧)", 0)),
    (Severity.ELEVATED, "quota cut", _r(r"配额|总量控制指标|减产", 0)),
    (Severity.ELEVATED, "enforcement", _r(r"打击\S{0,4}?走私|走私|核查|专项检查|追溯|流向记录", 0)),
    (Severity.ELEVATED, "price spike", _r(r"价格\S{0,6}?(?:上涨|暴涨|飙升|大涨|走高|创新高|上扬)|暴涨|飙升", 0)),
    (Severity.ELEVATED, "shortage", _r(r"短缺|收储|供应紧张|断货", 0)),
    (Severity.ELEVATED, "tariffs", _r(r"加征关税|关税|反倾销", 0)),
    (Severity.ELEVATED, "outage", _r(r"停产|停工|关停", 0)),
)

# A bare mention of export controls: context, not news, unless an official or wire source says it.
_MENTION = _r(r"\bexport[- ]controls?\b|\bexport[- ]licen[cs](?:es?|ing)\b|出口管制")
_NEGATION = _r(r"(?:\b(?:no|not|never|denies|denied|deny|won'?t|will\s+not|rules?\s+out|ruled\s+out|"
               r"no\s+plans?\s+to|dismiss(?:es|ed)|rejects?|rejected)\b[\w\s'’-]{0,25}$)|(?:不会|没有|否认|并未|不)$")
_HEDGE = _r(r"\b(?:could|may|might|mulls?|mulling|consider(?:s|ing)?|weigh(?:s|ing)|threaten(?:s|ed|ing)?|"
            r"plans?\s+to|poised\s+to|expected\s+to|likely|possible|analysis|opinion|explainer|what\s+.+\s+means)\b|"
            r"\?\s*$|或将|拟|可能|考虑")
_HEDGE_EXEMPT = frozenset({"official"})
# Hedged commentary tempers claims of new controls or bans; it does not erase market stress.
_DROP = {Severity.CRITICAL: Severity.HIGH, Severity.HIGH: Severity.ELEVATED}


@dataclass(slots=True)
class Scored:
    severity: Severity = Severity.INFO
    matches: list[Match] = field(default_factory=list)


def _scan(text: str, offset: int) -> list[Match]:
    taken: list[tuple[int, int]] = []
    out: list[Match] = []
    for level, label, pattern in _RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(start < e and end > s for s, e in taken):
                continue
            taken.append((start, end))
            negated = _NEGATION.search(text[max(0, start - 40):start]) is not None
            kind = "negated" if negated else level.value
            out.append(Match(m.group(), kind, (start + offset, end + offset), label))
    for m in _MENTION.finditer(text):
        if not any(m.start() < e and m.end() > s for s, e in taken):
            out.append(Match(m.group(), "mention", (m.start() + offset, m.end() + offset), "export controls"))
    return out


def _decide(matches: list[Match], tier: str) -> Severity:
    levels = [Severity(m.kind) for m in matches if m.kind in {s.value for s in Severity}]
    negative = [lv for lv in levels if lv.rank >= Severity.ELEVATED.rank]
    easing = sum(1 for lv in levels if lv is Severity.EASING)
    worst = max(negative, key=lambda s: s.rank, default=None)
    if worst is not None and worst.rank >= Severity.HIGH.rank:
        return worst
    if easing and easing >= len(negative):
        return Severity.EASING
    if worst is not None:
        return worst
    if any(m.kind == "mention" for m in matches):
        return Severity.HIGH if TIER_WEIGHT.get(tier, 1) >= TIER_WEIGHT["wire"] else Severity.ELEVATED
    return Severity.INFO


def score(title: str, text: str = "", *, tier: str = "other") -> Scored:
    """Severity of a story and the matches behind it; spans index into `title + "\\n" + text` (just
    `title` when text is empty). The headline decides when it has any polarity match."""
    head = _scan(title, 0)
    body = _scan(text, len(title) + 1) if text else []
    decisive = head if any(m.kind not in ("mention", "negated") for m in head) else head + body
    severity = _decide(decisive, tier)
    hedge = _HEDGE.search(title) or (None if decisive is head else _HEDGE.search(text[:300]))
    extra: list[Match] = []
    if hedge is not None and severity in _DROP and tier not in _HEDGE_EXEMPT:
        offset = 0 if hedge.string is title else len(title) + 1
        extra.append(Match(hedge.group(), "hedge", (hedge.start() + offset, hedge.end() + offset),
                           f"{severity.value} -> {_DROP[severity].value} (unconfirmed or commentary, tier {tier})"))
        severity = _DROP[severity]
    return Scored(severity, sorted(head + body + extra, key=lambda m: m.span))
