"""On-call subcommands: `oncall` (now and next), `oncall override @user DURATION` (admins),
`incidents`, `ack ID`, `resolve ID` (the same as the buttons on the page)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from bot.commands import Invocation, Reply, subcommand
from bot.commands.dispatch import refused_text
from bot.deps import Deps
from core.cards import context, header, sections
from core.durations import format_duration, parse_duration
from core.errors import UsageError
from core.feeds import OncallConfig
from core.incident_blocks import clock, incident_lines
from core.incidents import IncidentStore, State, Transition
from core.oncall import Override, next_handover, on_call
from core.oncall_store import OverrideStore
from workers.escalate import enqueue_after_transition, enqueue_announce

MIN_OVERRIDE = 60.0
MAX_OVERRIDE = 30 * 86400.0
NOT_CONFIGURED = ("On-call is not configured: add an `oncall:` section (channel, rotation, steps) to feeds.yaml "
                  "and check it with `reewatch check`.")
# `<@U123>` or `<@U123|name>` (a command with "escape users" on), or a bare user id.
_USER = re.compile(r"^(?:<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>|([UW][A-Z0-9]{2,}))$")


def _policy(deps: Deps) -> OncallConfig | None:
    return deps.feeds_file().oncall


@subcommand("oncall", usage="oncall [override @user DURATION]")
def oncall(inv: Invocation, deps: Deps) -> Reply:
    """Who is on call now and who is next; admins can put someone on call for a while with
    `oncall override @user 4h`."""
    cfg = _policy(deps)
    if cfg is None:
        return Reply(text=NOT_CONFIGURED)
    if inv.args and inv.args[0].lower() == "override":
        return _override(inv, deps, cfg)
    if inv.args:
        raise UsageError(f"I don't know `oncall {inv.args[0]}`.")
    now = time.time()
    when = datetime.fromtimestamp(now, UTC)
    overrides = OverrideStore(deps.redis, deps.keys).active(now)
    who = on_call(cfg.rotation, when, overrides)
    since, later = next_handover(cfg.rotation, when, overrides)
    why = f" (override by <@{who.override.by}>)" if who.override else ""
    lines = [
        f"*Now:* <@{who.primary}>{why} until {clock(who.until.timestamp())}",
        f"*Secondary:* <@{who.secondary}>" if who.secondary else "*Secondary:* nobody (one-person rotation)",
        f"*Next:* <@{later.primary}> from {clock(since.timestamp())}",
    ]
    rot = cfg.rotation
    note = (f"Rotation of {len(rot.users)}, handing off {rot.handoff_day} {rot.handoff_time} {rot.timezone} "
            f"every {format_duration(rot.period)}; pages go to {cfg.channel}.")
    text = f"On call now: <@{who.primary}>, next: <@{later.primary}>"
    return Reply(text=text, blocks=[header("On call"), *sections(lines), context(note)], shareable=True)


def _override(inv: Invocation, deps: Deps, cfg: OncallConfig) -> Reply:
    if not inv.is_admin:
        return Reply(text=refused_text(inv, "oncall override", deps))
    if len(inv.args) != 3:
        raise UsageError("Give the person and how long, e.g. `oncall override @maria 4h`.")
    match = _USER.match(inv.args[1])
    if not match:
        raise UsageError(f"{inv.args[1]!r} is not a Slack user: mention them (@name) or give their id (U...).")
    user = match[1] or match[2]
    try:
        seconds = parse_duration(inv.args[2])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not MIN_OVERRIDE <= seconds <= MAX_OVERRIDE:
        raise UsageError("An override lasts from 1m to 30d.")
    now = time.time()
    override = Override(user=user, start=now, end=now + seconds, by=inv.user_id, at=now)
    OverrideStore(deps.redis, deps.keys).add(override)
    text = (f"<@{user}> is on call until {clock(override.end)} "
            f"(override for {format_duration(seconds)} by <@{inv.user_id}>).")
    for incident in IncidentStore(deps.redis, deps.keys).open_incidents():
        enqueue_announce(deps.rq_redis, deps.keys, incident.id, kind="override", by=inv.user_id,
                         text=text, at=now)
    return Reply(text=f":repeat: {text}", ephemeral=False)


@subcommand("incidents", usage="incidents")
def incidents(inv: Invocation, deps: Deps) -> Reply:
    """Open incidents: what, how severe, who acknowledged, how long ago."""
    now = time.time()
    open_ = IncidentStore(deps.redis, deps.keys).open_incidents()
    if not open_:
        return Reply(text="No open incidents.", shareable=True)
    lines = incident_lines(open_, now)
    hint = f"`{inv.command} ack ID` or `{inv.command} resolve ID`, or the buttons on the page."
    return Reply(text=f"{len(open_)} open incident(s):\n" + "\n".join(lines),
                 blocks=[header(f"Open incidents ({len(open_)})"), *sections(lines), context(hint)], shareable=True)


def _incident_id(inv: Invocation, verb: str) -> str:
    if len(inv.args) != 1 or not re.fullmatch(r"#?\d{1,12}", inv.args[0]):
        raise UsageError(f"Which incident? e.g. `{verb} 12` (`incidents` lists them).")
    return inv.args[0].lstrip("#")


def _answer(result: Transition, incident_id: str, verb: str) -> str:
    inc = result.incident
    if result.outcome == "missing" or inc is None:
        return f"There is no incident #{incident_id}."
    if result.changed:
        return f"Incident #{incident_id} {verb}; escalation stopped." if verb == "acknowledged" \
            else f"Incident #{incident_id} resolved."
    if inc.state is State.RESOLVED:
        return f"Incident #{incident_id} was already resolved by <@{inc.resolved_by}> at {clock(inc.resolved_at)}."
    return f"Incident #{incident_id} was already acknowledged by <@{inc.acked_by}> at {clock(inc.acked_at)}."


@subcommand("ack", usage="ack ID")
def ack(inv: Invocation, deps: Deps) -> Reply:
    """Acknowledge an incident: you are on it, escalation stops."""
    incident_id = _incident_id(inv, "ack")
    result = IncidentStore(deps.redis, deps.keys).acknowledge(incident_id, inv.user_id)
    if result.changed:
        enqueue_after_transition(deps.rq_redis, deps.keys, incident_id, "ack")
    return Reply(text=_answer(result, incident_id, "acknowledged"))


@subcommand("resolve", usage="resolve ID")
def resolve(inv: Invocation, deps: Deps) -> Reply:
    """Resolve an incident: it is over, the page says so."""
    incident_id = _incident_id(inv, "resolve")
    result = IncidentStore(deps.redis, deps.keys).resolve(incident_id, inv.user_id)
    if result.changed:
        enqueue_after_transition(deps.rq_redis, deps.keys, incident_id, "resolve")
    return Reply(text=_answer(result, incident_id, "resolved"))
