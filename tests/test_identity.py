"""Item identity and the atomic "new?" decision on a real Redis."""

from __future__ import annotations

import random
import threading

import redis as redis_lib

from core.identity import TITLE_WINDOW, Entry, ItemKeys, SeenStore, identify, link_identity, normalize_title
from core.keys import Keys

DAY = 86400.0
T0 = 1_800_000_000.0


def _keys(*entries: Entry) -> list[ItemKeys]:
    out = identify(list(entries))
    assert all(k is not None for k in out)
    return [k for k in out if k is not None]


def test_guid_is_primary_and_link_title_are_secondary() -> None:
    [k] = _keys(Entry("guid-1", "https://e.com/a", "Dysprosium exports halted", "text"))
    assert k.primary.startswith("i") and [s[0] for s in k.secondary] == ["l", "t"]
    assert len(k.primary) == 13  # kind letter + 12 characters: small in Redis


def test_without_guid_link_then_content_hash() -> None:
    [by_link] = _keys(Entry("", "https://e.com/a", "Title here long", ""))
    [by_link_again] = _keys(Entry("", "https://www.e.com/a/", "Another title", "other"))
    assert by_link.primary == by_link_again.primary  # scheme, www. and trailing slash do not matter
    [by_hash] = _keys(Entry("", "", "Only a title here", "and text"))
    [same_hash] = _keys(Entry("", "", "ONLY a title, here!", "and text"))
    assert by_hash.primary == same_hash.primary


def test_duplicate_guid_in_one_fetch_is_told_apart_by_link() -> None:
    keys = identify([Entry("same", "https://e.com/1", "First story title", ""),
                     Entry("same", "https://e.com/2", "Second story title", "")])
    assert keys[0] is not None and keys[1] is not None and keys[0].primary != keys[1].primary


def test_exact_repeat_in_one_fetch_is_dropped() -> None:
    e = Entry("same", "https://e.com/1", "Story title here", "")
    assert identify([e, e])[1] is None


def test_shared_link_and_title_are_not_used_as_keys() -> None:
    # A feed linking every item to its home page, with a recurring title.
    keys = _keys(Entry("1", "https://e.com/", "Daily market report", "a"),
                 Entry("2", "https://e.com/", "Daily market report", "b"))
    assert all(k.secondary == [] for k in keys)
    assert keys[0].primary != keys[1].primary


def test_normalize_title_and_link_identity() -> None:
    assert normalize_title("  China’s  RARE-earth: Curbs!! ") == normalize_title("china s rare earth curbs")
    assert normalize_title("稀土，出口") == "稀土 出口"
    assert link_identity("https://m.example.com/a/?utm_source=x") == link_identity("http://www.example.com/a")


def test_claim_accepts_once_and_remembers(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SeenStore(redis, keys, 30 * DAY)
    items = _keys(Entry("a", "https://e.com/a", "Alpha story title", ""),
                  Entry("b", "https://e.com/b", "Beta story title", ""))
    assert store.claim("f", items, now=T0) == [True, True]
    assert store.claim("f", items, now=T0 + 60) == [False, False]
    assert store.claim("other-feed", items, now=T0) == [True, True]  # memory is per feed


def test_guid_churn_and_title_edit_are_not_new(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SeenStore(redis, keys, 30 * DAY)
    original = _keys(Entry("guid-1", "https://e.com/story", "Beijing tightens rare earth export rules", ""))
    store.claim("f", original, now=T0)
    churned = _keys(Entry("guid-2", "https://e.com/story", "Beijing tightens rare earth export rules", ""))
    edited = _keys(Entry("guid-1", "https://e.com/story", "UPDATE: Beijing tightens rare-earth rules", ""))
    moved = _keys(Entry("guid-3", "https://e.com/story-v2", "Beijing tightens rare earth export rules.", ""))
    assert store.claim("f", churned, now=T0 + 60) == [False]
    assert store.claim("f", edited, now=T0 + 120) == [False]
    assert store.claim("f", moved, now=T0 + 180) == [False]  # new GUID and link, same title
    fresh = _keys(Entry("guid-9", "https://e.com/other", "Terbium plant restarts", ""))
    assert store.claim("f", fresh, now=T0 + 240) == [True]


def test_title_key_expires_sooner_than_the_rest(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SeenStore(redis, keys, 30 * DAY)
    store.claim("f", _keys(Entry("d1", "https://e.com/d1", "Rare earth prices this week", "")), now=T0)
    later = T0 + TITLE_WINDOW + 60
    assert store.claim("f", _keys(Entry("d2", "https://e.com/d2", "Rare earth prices this week", "")),
                       now=later) == [True]


def test_retention_forgets_and_prunes(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SeenStore(redis, keys, 2 * DAY)
    old = _keys(*(Entry(f"o{i}", f"https://e.com/o{i}", f"An old story number {i}", "") for i in range(200)))
    store.claim("f", old, now=T0)
    assert store.claim("f", old[:1], now=T0 + 3 * DAY) == [True]  # forgotten after the retention
    fresh = _keys(*(Entry(f"n{i}", f"https://e.com/n{i}", f"A new story number {i}", "") for i in range(200)))
    store.claim("f", fresh, now=T0 + 3 * DAY)
    stale = [(key, field) for key in store.bucket_keys("f") for field, when in redis.hgetall(key).items()
             if field != "~p" and float(when) < T0 + 3 * DAY - 2 * DAY]
    assert stale == []  # every bucket touched since was pruned: memory stays bounded
    assert all(0 < redis.ttl(key) <= 3 * DAY for key in store.bucket_keys("f") if redis.exists(key))


def test_release_offers_the_item_again(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SeenStore(redis, keys, 30 * DAY)
    item = _keys(Entry("r", "https://e.com/r", "Released story title", ""))
    store.claim("f", item, now=T0)
    store.release("f", item[0])
    assert store.claim("f", item, now=T0 + 1) == [True]


def test_concurrent_claims_accept_each_item_exactly_once(redis: redis_lib.Redis, keys: Keys) -> None:
    items = _keys(*(Entry(f"g{i}", f"https://e.com/{i}", f"Story number {i} title", "") for i in range(200)))
    results: list[list[bool]] = []
    barrier = threading.Barrier(8)

    def worker(seed: int) -> None:
        store = SeenStore(redis_lib.Redis(connection_pool=redis.connection_pool), keys, 30 * DAY)
        order = list(range(len(items)))
        random.Random(seed).shuffle(order)  # each worker meets the items in its own order, one at a time
        mine = [False] * len(items)
        barrier.wait()
        for i in order:
            [mine[i]] = store.claim("race", [items[i]], now=T0)
        results.append(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = [sum(r[i] for r in results) for i in range(len(items))]
    assert accepted == [1] * len(items)
