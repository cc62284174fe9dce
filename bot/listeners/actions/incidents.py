"""The Acknowledge and Resolve buttons on an incident page.

The transition is one atomic Redis step here (so an escalation step that runs a moment later finds the
incident acknowledged and pages nobody); updating the page in place and the thread line are queued
for a worker (`workers.escalate.after_transition`), so the request does no Slack call before answering.
A click that changes nothing (already acknowledged or resolved) is told so, only to the clicker.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.deps import Deps
from core.incident_blocks import ACK_ACTION, RESOLVE_ACTION, clock
from core.incidents import IncidentStore, State, Transition
from workers.escalate import enqueue_after_transition

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.action(ACK_ACTION)
    def acknowledge(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        _act(body, deps, respond, "ack")

    @app.action(RESOLVE_ACTION)
    def resolve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        _act(body, deps, respond, "resolve")


def _act(body: dict[str, Any], deps: Deps, respond: Respond, kind: str) -> None:
    action = (body.get("actions") or [{}])[0]
    incident_id = str(action.get("value") or "")
    user = str((body.get("user") or {}).get("id") or "")
    store = IncidentStore(deps.redis, deps.keys)
    result = store.acknowledge(incident_id, user) if kind == "ack" else store.resolve(incident_id, user)
    extra = {"incident_id": incident_id, "user": user, "outcome": result.outcome}
    if result.changed:
        log.info("incident %s by button", kind, extra=extra)
        enqueue_after_transition(deps.rq_redis, deps.keys, incident_id, kind)
        return
    log.info("incident button changed nothing", extra=extra)
    text = _unchanged(result, incident_id)
    deps.background.submit(_tell, respond, text, incident_id)


def _unchanged(result: Transition, incident_id: str) -> str:
    inc = result.incident
    if inc is None:
        return f"Incident #{incident_id} no longer exists."
    if inc.state is State.RESOLVED:
        return f"Incident #{incident_id} was already resolved by <@{inc.resolved_by}> at {clock(inc.resolved_at)}."
    return f"Incident #{incident_id} was already acknowledged by <@{inc.acked_by}> at {clock(inc.acked_at)}."


def _tell(respond: Respond, text: str, incident_id: str) -> None:
    result = respond(text=text, response_type="ephemeral", replace_original=False)
    if getattr(result, "status_code", 200) != 200:
        log.warning("could not tell the clicker", extra={"incident_id": incident_id})
