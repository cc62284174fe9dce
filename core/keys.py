"""Every Redis key the project writes, built from one prefix (REEWATCH_REDIS_PREFIX).

Adding a key is one method here; nothing else formats key strings. RQ's own keys carry the prefix
through the queue names and job ids that `workers.enqueue` builds from `Keys.queue`.
"""

from __future__ import annotations

import re


class Keys:
    """Key templates for one deployment. `Keys("reewatch:").feed_state("mining")` -> `reewatch:feed:mining:state`."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def patterns(self) -> tuple[str, ...]:
        """SCAN patterns covering every key this deployment owns: its own keys, and RQ's keys, which
        embed the prefix mid-key (queue names as written, job ids with ':' spelled '-')."""
        return (f"*{self.prefix}*", f"*{self._job_prefix()}*")

    def _job_prefix(self) -> str:
        return self.prefix.replace(":", "-")

    # --- queues and jobs -------------------------------------------------------------------
    def queue(self, name: str) -> str:
        """RQ queue name (RQ stores it as rq:queue:<this>)."""
        return self._k("q", name)

    def job_id(self, *parts: str) -> str:
        """A deterministic RQ job id (RQ allows only [A-Za-z0-9_-]), so the same work enqueued twice is one job."""
        raw = self._job_prefix() + "-".join(("job", *parts))
        return re.sub(r"[^A-Za-z0-9_-]", "_", raw)

    # --- feeds ----------------------------------------------------------------------------
    def feed_state(self, feed_id: str) -> str:
        return self._k("feed", feed_id, "state")

    def feed_lock(self, feed_id: str) -> str:
        return self._k("feed", feed_id, "lock")

    def feeds_runtime(self) -> str:
        """Hash of feeds added at run time (id -> JSON config)."""
        return self._k("feeds", "runtime")

    def feeds_removed(self) -> str:
        """Set of feed ids removed at run time (hides feeds.yaml entries too)."""
        return self._k("feeds", "removed")

    def feeds_due(self) -> str:
        """Sorted set feed_id -> next due time."""
        return self._k("feeds", "due")

    # --- items and events -------------------------------------------------------------------
    def seen(self, feed_id: str) -> str:
        return self._k("seen", feed_id)

    def seen_bucket(self, feed_id: str, bucket: str) -> str:
        """One of a feed's 64 small hashes of seen item keys (bucket = a base64 character)."""
        return self._k("seen", feed_id, bucket)

    def seen_global(self, kind: str) -> str:
        return self._k("seen", "_", kind)

    def event(self, event_id: str) -> str:
        return self._k("event", event_id)

    def events_by_time(self) -> str:
        return self._k("events", "time")

    def events_by_feed(self, feed_id: str) -> str:
        return self._k("events", "feed", feed_id)

    def events_by_element(self, symbol: str) -> str:
        return self._k("events", "el", symbol)

    def cluster(self, cluster_id: str) -> str:
        return self._k("cluster", cluster_id)

    def clusters_recent(self) -> str:
        return self._k("clusters", "recent")

    def cluster_index(self) -> str:
        return self._k("clusters", "lsh")

    def cluster_bucket(self, bucket: str) -> str:
        """Sorted set of recent cluster ids sharing one LSH band or anchor (`bucket` is a short hash)."""
        return self._k("clusters", "lsh", bucket)

    def cluster_lock(self) -> str:
        return self._k("clusters", "lock")

    # --- element status -------------------------------------------------------------------
    def status(self, symbol: str) -> str:
        return self._k("status", symbol)

    def status_override(self, symbol: str) -> str:
        return self._k("status", symbol, "override")

    def status_history(self, symbol: str) -> str:
        return self._k("status", symbol, "history")

    # --- subscriptions and delivery ----------------------------------------------------------
    def subscription(self, sub_id: str) -> str:
        return self._k("sub", sub_id)

    def subscriptions(self) -> str:
        return self._k("subs")

    def subscriptions_by_channel(self, channel: str) -> str:
        return self._k("subs", "ch", channel)

    def delivery(self, channel: str, cluster_id: str) -> str:
        return self._k("dlv", channel, cluster_id)

    def channel_ids(self) -> str:
        """Hash of channel name ("#supply-risk") -> id learned from chat.postMessage answers."""
        return self._k("slack", "channel_ids")

    def pacing(self, channel: str) -> str:
        return self._k("pace", channel)

    def digest(self, channel: str) -> str:
        return self._k("digest", channel)

    def dead_letters(self) -> str:
        return self._k("dead")

    def subscriptions_broken(self) -> str:
        """Hash channel -> the Slack error that made posting there fail (shown by `/ree subscriptions`)."""
        return self._k("subs", "broken")

    def subscription_seq(self) -> str:
        """Counter behind the short subscription ids people type (`/ree unsubscribe 3`)."""
        return self._k("subs", "seq")

    def outbox(self) -> str:
        """Sorted set of pending deliveries -> when to (re)drive them if still pending."""
        return self._k("outbox")

    def outbox_attempts(self) -> str:
        """Hash outbox entry -> failed attempts so far."""
        return self._k("outbox", "attempts")

    def delivery_lock(self, channel: str, ref: str) -> str:
        return self._k("dlv", channel, ref, "lock")

    def digest_channels(self) -> str:
        """Set of channels with events waiting for a digest."""
        return self._k("digest", "_channels")

    def digest_last(self, channel: str) -> str:
        """Hash digest time (HH:MM) -> date (YYYY-MM-DD) of the last digest sent at it."""
        return self._k("digest", channel, "last")

    def feed_disabled_announced(self, feed_id: str) -> str:
        return self._k("feed", feed_id, "disabled_announced")

    # --- on-call and incidents -----------------------------------------------------------------
    def incident(self, incident_id: str) -> str:
        return self._k("inc", incident_id)

    def incidents_open(self) -> str:
        return self._k("incs", "open")

    def incident_by_cluster(self, cluster_id: str) -> str:
        return self._k("inc", "cluster", cluster_id)

    def incident_seq(self) -> str:
        """Counter that numbers incidents (short ids people type: `/ree ack 12`)."""
        return self._k("incs", "seq")

    def incident_audit(self, incident_id: str) -> str:
        """List of JSON audit entries: opened, page, ack, resolve, hold, release, report."""
        return self._k("inc", incident_id, "audit")

    def incident_page(self, incident_id: str, step: int, round_: int) -> str:
        """Claim of one escalation step of one round: set once, so a step never pages twice."""
        return self._k("inc", incident_id, "page", str(step), str(round_))

    def incident_reports(self, incident_id: str) -> str:
        """Set of event ids already counted in the incident (a retried ingest counts once)."""
        return self._k("inc", incident_id, "reports")

    def incident_lock(self, incident_id: str) -> str:
        """Short lock serializing Slack writes for one incident (message first, thread after)."""
        return self._k("inc", incident_id, "lock")

    def oncall_override(self) -> str:
        return self._k("oncall", "override")

    def oncall_usergroup(self) -> str:
        """The user list last pushed to the on-call Slack user group."""
        return self._k("oncall", "usergroup")

    def oncall_audit(self) -> str:
        return self._k("oncall", "audit")

    # --- bot ----------------------------------------------------------------------------
    def slack_retry(self, key: str) -> str:
        return self._k("slack", "retry", key)

    def metrics(self, name: str) -> str:
        return self._k("metrics", name)
