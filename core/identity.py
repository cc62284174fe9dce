"""Item identity and the "is this new?" decision.

Identity of an entry: its GUID, else its canonical link, else a hash of title and text (a GUID that
repeats inside one fetch is told apart by its link). Secondary keys on the canonical link and on the
normalized title catch GUID churn and edited or re-issued items; a link or title that several
entries of one fetch share (a feed that links every item to its home page) is not used as a key.

`SeenStore.claim` decides "new" for a whole fetch in one Lua script, so two workers polling the same
feed never both accept an item. Keys are kept per feed in 64 small hashes (member = kind letter +
12-character hash, value = last seen), pruned by age, so memory per item is about 60 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis as redis_lib

from core.keys import Keys

#: Query parameters that only track the reader; removing them gives the canonical link.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_hsenc", "_hsmi", "mkt_tok", "oly_enc_id", "oly_anon_id", "vero_id", "vero_conv", "ncid", "cmpid",
    "ocid", "sr_share", "spm", "_ga", "_gl", "s_cid", "cid_source", "rss_source", "ref_src", "feature",
    "smid", "smtyp", "taid", "wt.mc_id", "guccounter", "guce_referrer", "guce_referrer_sig",
})
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hmb_", "__s")
#: An edited title is a duplicate only this long after the original was last seen (recurring
#: headlines such as "Rare earth prices today" must not be swallowed for the whole retention).
TITLE_WINDOW = 3 * 86400.0
_MIN_TITLE_KEY = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_NOISE = re.compile(r"^(www\d*|m|amp|mobile)\.")


def canonical_link(url: str | None) -> str:
    """The link without tracking parameters or fragment, scheme and host lower-cased."""
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


def link_identity(url: str) -> str:
    """A looser form of a canonical link for dedupe: no scheme, no www./m. host prefix, no trailing slash."""
    canonical = canonical_link(url)
    try:
        parts = urlsplit(canonical)
    except ValueError:
        return canonical
    if parts.scheme not in ("http", "https"):
        return canonical
    host = _HOST_NOISE.sub("", parts.netloc)
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def normalize_title(title: str) -> str:
    """Case-, width- and punctuation-insensitive form of a title."""
    text = unicodedata.normalize("NFKC", title).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return " ".join(kept.split())


def _digest(*parts: str) -> str:
    raw = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=9).digest()
    return base64.urlsafe_b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Entry:
    """What identity needs from one parsed entry."""

    guid: str
    link: str  # canonical
    title: str
    text: str


@dataclass(slots=True)
class ItemKeys:
    """The primary key and the secondary keys of one entry, as members of the feed's seen set."""

    primary: str
    secondary: list[str] = field(default_factory=list)

    @property
    def members(self) -> list[str]:
        return [self.primary, *self.secondary]

    def item_id(self, feed_id: str) -> str:
        """Stable event id: the feed and the primary key's hash."""
        return f"{feed_id}:{self.primary[1:]}"


def identify(entries: Sequence[Entry]) -> list[ItemKeys | None]:
    """Keys for each entry of one fetch; None for an exact repeat of an earlier entry in the same fetch."""
    guids = Counter(e.guid for e in entries if e.guid)
    links = Counter(link_identity(e.link) for e in entries if e.link)
    titles = Counter(normalize_title(e.title) for e in entries if e.title)
    taken: set[str] = set()
    out: list[ItemKeys | None] = []
    for e in entries:
        lid = link_identity(e.link) if e.link else ""
        tid = normalize_title(e.title) if e.title else ""
        if e.guid and guids[e.guid] == 1:
            primary = "i" + _digest("g", e.guid)
        elif e.guid:  # a GUID several entries share: tell them apart by link, else by content
            primary = "i" + _digest("g", e.guid, lid or _digest(tid, e.text))
        elif lid and links[lid] == 1:
            primary = "i" + _digest("l", lid)
        else:
            primary = "i" + _digest("h", tid, normalize_title(e.text[:2000]))
        if primary in taken:
            out.append(None)
            continue
        taken.add(primary)
        keys = ItemKeys(primary)
        if lid and links[lid] == 1:
            keys.secondary.append("l" + _digest(lid))
        if len(tid) >= _MIN_TITLE_KEY and titles[tid] == 1:
            keys.secondary.append("t" + _digest(tid))
        out.append(keys)
    return out


BUCKETS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PRUNE_EVERY = 3600

# KEYS: the bucket hashes this claim touches. ARGV: now, cutoff, title cutoff, ttl, prune interval,
# then per item: n, then n pairs (bucket index into KEYS, member). Returns one flag per item: 1 new,
# 0 seen. Every member is (re)stamped with `now`, so an item that stays in the feed never ages out
# and a churned GUID is remembered next to its old keys. Each touched bucket is pruned of entries
# older than the retention at most once per prune interval (field "~p" holds when it last was).
_CLAIM = """
local now, cutoff, tcut = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, every = tonumber(ARGV[4]), tonumber(ARGV[5])
for k = 1, #KEYS do
  local pruned = tonumber(redis.call('HGET', KEYS[k], '~p') or '0')
  if now - pruned >= every then
    local all = redis.call('HGETALL', KEYS[k])
    for f = 1, #all, 2 do
      if all[f] ~= '~p' and tonumber(all[f + 1]) < cutoff then redis.call('HDEL', KEYS[k], all[f]) end
    end
    redis.call('HSET', KEYS[k], '~p', now)
  end
end
local out, i = {}, 6
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local new = 1
  for j = i + 1, i + 2 * n, 2 do
    local score = redis.call('HGET', KEYS[tonumber(ARGV[j])], ARGV[j + 1])
    if score then
      local limit = cutoff
      if string.sub(ARGV[j + 1], 1, 1) == 't' then limit = tcut end
      if tonumber(score) >= limit then new = 0 end
    end
  end
  for j = i + 1, i + 2 * n, 2 do
    redis.call('HSET', KEYS[tonumber(ARGV[j])], ARGV[j + 1], now)
  end
  out[#out + 1] = new
  i = i + 2 * n + 1
end
for k = 1, #KEYS do redis.call('EXPIRE', KEYS[k], ttl) end
return out
"""


def _bucket(member: str) -> str:
    return member[1]  # the first base64 character of the digest: 64 evenly filled buckets


class SeenStore:
    """Per-feed memory of item keys with bounded retention; `claim` is the one atomic "new?" decision.

    A feed's keys are spread over 64 small hashes (member -> last seen), which Redis keeps in its
    compact listpack encoding up to hash-max-listpack-entries fields each: about a quarter of the
    memory of one sorted set holding the same members."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys, retention_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention_seconds
        self._claim = redis.register_script(_CLAIM)

    def bucket_keys(self, feed_id: str) -> list[str]:
        return [self.keys.seen_bucket(feed_id, b) for b in BUCKETS]

    def claim(self, feed_id: str, items: Sequence[ItemKeys], *, now: float | None = None) -> list[bool]:
        """Record every item's keys; True for each item none of whose keys was seen before."""
        if not items:
            return []
        now = time.time() if now is None else now
        slots: dict[str, int] = {}
        per_item: list[str | int] = []
        for item in items:
            per_item.append(len(item.members))
            for member in item.members:
                per_item += [slots.setdefault(_bucket(member), len(slots) + 1), member]
        now = int(now)  # whole seconds: a listpack stores small integers in a few bytes, floats as text
        args: list[str | float | int] = [now, now - self.retention, now - min(TITLE_WINDOW, self.retention),
                                         int(self.retention) + 86400, PRUNE_EVERY, *per_item]
        flags = self._claim(keys=[self.keys.seen_bucket(feed_id, b) for b in slots], args=args)
        return [bool(int(flag)) for flag in flags]

    def release(self, feed_id: str, item: ItemKeys) -> None:
        """Forget an item claimed as new whose ingestion failed, so the next poll offers it again."""
        pipe = self.redis.pipeline()
        for member in item.members:
            pipe.hdel(self.keys.seen_bucket(feed_id, _bucket(member)), member)
        pipe.execute()

    def memory(self, feed_id: str) -> int:
        """Bytes Redis uses for this feed's seen keys (MEMORY USAGE summed over its buckets)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in self.bucket_keys(feed_id):
            pipe.memory_usage(key)
        return sum(int(n or 0) for n in pipe.execute())

    def forget_feed(self, feed_id: str) -> None:
        self.redis.delete(*self.bucket_keys(feed_id))
