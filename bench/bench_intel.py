"""Element intelligence on the labelled set (tests/data/labelled.yaml): tagging precision and recall,
severity accuracy, clustering pair precision and recall, and throughput of tag+score+cluster against
a plain regex scan of element names measured in the same run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from core.clusters import ClusterStore
from core.elements import catalogue
from core.fingerprint import fingerprint
from core.intel import analyze
from core.keys import Keys
from core.models import Event

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "data" / "labelled.yaml"
START = 1_790_000_000.0  # a fixed clock for the clustering replay


def load_labelled(path: Path = LABELLED) -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = yaml.safe_load(path.read_text("utf-8"))
    return data


@dataclass
class PR:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def tagging_scores(rows: Iterable[dict[str, Any]]) -> tuple[PR, list[str]]:
    """Micro-averaged element precision/recall, and one line per row that differs from its label."""
    pr, misses = PR(), []
    for row in rows:
        got = set(analyze(row["title"], row.get("text", ""), tier=row.get("tier", "other")).elements)
        gold = set(row["elements"])
        pr.tp += len(got & gold)
        pr.fp += len(got - gold)
        pr.fn += len(gold - got)
        if got != gold:
            misses.append(f"{row.get('id', '-')}: {row['title']!r} gold={sorted(gold)} got={sorted(got)}")
    return pr, misses


def severity_scores(rows: Iterable[dict[str, Any]]) -> tuple[float, list[str]]:
    ok, total, misses = 0, 0, []
    for row in rows:
        got = analyze(row["title"], row.get("text", ""), tier=row.get("tier", "other")).severity.value
        total += 1
        if got == row["severity"]:
            ok += 1
        else:
            misses.append(f"{row['id']}: {row['title']!r} gold={row['severity']} got={got}")
    return (ok / total if total else 1.0), misses


def to_event(row: dict[str, Any]) -> Event:
    a = analyze(row["title"], row.get("text", ""), tier=row["tier"])
    return Event(id=row["id"], feed_id=f"{row['tier']}-{row['lang']}-{row['id']}", title=row["title"],
                 link=f"https://example.test/{row['id']}", text=row.get("text", ""),
                 published=START + row["t"], fetched_at=START + row["t"], language=row["lang"], tier=row["tier"],
                 source=f"outlet-{row['id']}", elements=a.elements, severity=a.severity.value)


def cluster_scores(store: ClusterStore, rows: list[dict[str, Any]]) -> tuple[PR, list[str]]:
    """Replay the rows in time order through `store`; pairwise precision/recall against the gold stories."""
    assigned: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["t"]):
        cluster, _ = store.assign(to_event(row), now=START + row["t"])
        assigned[row["id"]] = cluster.id
    pr, problems = PR(), []
    for a, b in combinations(rows, 2):
        same_gold = a["story"] == b["story"]
        same_got = assigned[a["id"]] == assigned[b["id"]]
        if same_gold and same_got:
            pr.tp += 1
        elif same_got:
            pr.fp += 1
            problems.append(f"merged {a['id']} + {b['id']}: {a['title']!r} / {b['title']!r}")
        elif same_gold:
            pr.fn += 1
            problems.append(f"split {a['id']} / {b['id']}: {a['title']!r} / {b['title']!r}")
    return pr, problems


def _baseline_scan(rows: list[dict[str, Any]]) -> int:
    """The naive tagger: one case-insensitive regex of English and Chinese names."""
    names = [el.name_en for el in catalogue().values()] + [el.name_zh for el in catalogue().values()]
    pattern = re.compile("|".join(re.escape(n) for n in names), re.I)
    return sum(len(pattern.findall(r["title"] + "\n" + r.get("text", ""))) for r in rows)


def _throughput(rows: list[dict[str, Any]], store: ClusterStore, rounds: int) -> dict[str, float]:
    """Seconds per item: the baseline name scan, analyze, fingerprint, cluster assign; and one Redis PING."""
    n = len(rows) * rounds
    out: dict[str, float] = {}
    started = time.perf_counter()
    for _ in range(rounds):
        _baseline_scan(rows)
    out["baseline"] = (time.perf_counter() - started) / n
    started = time.perf_counter()
    for _ in range(rounds):
        for row in rows:
            analyze(row["title"], row.get("text", ""), tier=row["tier"])
    out["analyze"] = (time.perf_counter() - started) / n
    events = []
    for i in range(rounds):
        for row in rows:
            event = to_event(row)
            event.id = f"{row['id']}-{i}"
            event.title = f"{row['title']} {i}"  # distinct stories per round, so the index keeps growing
            events.append((event, START + row["t"]))
    started = time.perf_counter()
    for event, _ in events:
        fingerprint(event.title, event.text, elements=event.elements, severity=event.severity)
    out["fingerprint"] = (time.perf_counter() - started) / n
    store.redis.config_resetstat()
    started, cpu = time.perf_counter(), time.process_time()
    for event, at in events:
        store.assign(event, now=at)
    out["assign"] = (time.perf_counter() - started) / n
    out["assign_cpu"] = (time.process_time() - cpu) / n  # this process only: no waiting, no server
    stats = store.redis.info("commandstats")
    out["assign_server"] = sum(v["usec"] for v in stats.values()) / 1e6 / n
    started = time.perf_counter()
    for _ in range(n):
        store.redis.ping()
    out["ping"] = (time.perf_counter() - started) / n
    return out


def run() -> list[str]:
    from bench.common import bench_settings
    from core.redisconn import connect

    data = load_labelled()
    items, traps = data["items"], data["traps"]
    lines = []
    pr, _ = tagging_scores(items + traps)
    lines.append(f"tagging ({len(items)} items + {len(traps)} traps): precision {pr.precision:.3f}, "
                 f"recall {pr.recall:.3f} (targets 0.97 / 0.95)")
    acc, _ = severity_scores(items)
    lines.append(f"severity exact-match accuracy: {acc:.3f}")
    held = data.get("holdout") or []
    if held:
        hpr, _ = tagging_scores(held)
        hacc, _ = severity_scores([r for r in held if "severity" in r])
        lines.append(f"holdout ({len(held)} written after the rules): tagging precision {hpr.precision:.3f}, "
                     f"recall {hpr.recall:.3f}; severity accuracy {hacc:.3f}")
    with bench_settings() as settings:
        assert settings.redis_url
        client = connect(settings.redis_url)
        counter = iter(range(1_000_000))

        def fresh() -> ClusterStore:
            return ClusterStore(client, Keys(f"{settings.redis_prefix}{next(counter)}:"))

        cpr, _ = cluster_scores(fresh(), items)
        lines.append(f"clustering pairs: precision {cpr.precision:.3f}, recall {cpr.recall:.3f} "
                     f"({cpr.tp} joined, {cpr.fp} wrongly merged, {cpr.fn} missed)")
        rounds = 20
        t = _throughput(items, fresh(), rounds)
        us = {k: v * 1e6 for k, v in t.items()}
        lines.append(f"baseline regex name scan: {1 / t['baseline']:,.0f} items/s")
        lines.append(f"analyze (tag+score): {1 / t['analyze']:,.0f} items/s = {t['baseline'] / t['analyze']:.3f}x "
                     f"baseline speed")
        lines.append(f"cluster assign on Redis with {len(items) * rounds} stories in the window: "
                     f"{us['assign']:,.0f} us/item = {t['assign'] / t['ping']:.1f} Redis PING round trips "
                     f"(PING {us['ping']:,.0f} us): {us['assign_cpu']:,.0f} us client CPU (fingerprint "
                     f"{us['fingerprint']:,.0f}) + {us['assign_server']:,.0f} us server time; the rest is waiting "
                     f"on a shared machine")
        total = t["analyze"] + t["assign"]
        lines.append(f"tag+score+cluster: {1 / total:,.0f} items/s = {t['baseline'] / total:.4f}x baseline speed")
    return lines
