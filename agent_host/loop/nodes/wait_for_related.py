"""wait_for_related: before restarting a service, look whether another incident of the same app is
fixing this service's cause right now — or just did.

Two incidents often share one root cause: the database stops, the api and the worker both turn
unhealthy. The first incident blames the database and restarts it; the other one, diagnosed a
moment later, no longer sees a down dependency and would restart its own service, which was only a
victim and heals by itself within seconds. So, when the chosen fix restarts this service and an
incident of the same app

  - is acting or verifying now, or resolved less than `related_fix_window_s` ago, after acting, and
  - targets a dependency of this service, or lists this service among the victims it groups,

this node waits (once, bounded by that incident's verification end + `related_settle_s`) and looks
at this service with the chosen solution's own verify checks. Healthy again → the incident is
closed as resolved with nothing done, naming the other incident. Still failing at the end → the
decision diagnose made goes on unchanged (route auto or approval).

The deadline comes from the other incident's stored times, so an agent killed mid-wait resumes here
and waits no longer than it would have.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent_host.diagnosis.verify_checks import CHECKS, VerifyMemo
from agent_host.incidents.model import Incident
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.nodes.verify_fix import chosen_verify
from agent_host.loop.state import LoopState
from mcp_server.runbooks import Check, RunbookLibrary

STEP = "wait_for_related"
DONE_WAITING = "done waiting"  # the note that marks the wait as spent: it happens once per incident
RESTART_TOOLS = frozenset({"restart_service"})
MAX_POLLS = 60  # the wait is bounded by time and by this many looks, whatever the clock does
RECENT_LIMIT = 50  # incidents read from the store to find related ones (newest first)


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    route = state.get("route", "escalate")
    if _waited_before(incident) or not _restarts_target(deps.library, incident):
        return {"incident": state["incident"], "route": route}
    now = deps.clock()
    other = await find_related(deps, incident, now)
    if other is None:
        return {"incident": state["incident"], "route": route}
    deadline = related_deadline(deps, other, now)
    incident.note(
        STEP,
        f"{other.id} ({other.status}) is fixing {other.target_key}, which this service depends on: "
        f"waiting until {deadline.isoformat(timespec='seconds')} to see whether it recovers by itself",
    )
    await deps.store.save(incident)
    verify, _ = chosen_verify(deps, incident)
    checks = list(verify.checks) if verify else []
    memo = VerifyMemo(now, incident.facts)
    for _ in range(MAX_POLLS):
        if checks and await recovered(deps, checks, incident.target, memo):
            what = other.target.get("service") or other.target_key
            incident.close(
                "resolved",
                f"recovered once {what} was fixed by {other.id}: nothing done",
                STEP,
            )
            return await deps.save(incident, "done", STEP)
        left = (deadline - deps.clock()).total_seconds()
        if left <= 0:
            break
        await deps.sleep(max(deps.settings.verify_interval_s, left / MAX_POLLS))
    incident.note(STEP, f"{DONE_WAITING}: still failing after {other.id}'s fix; going on with the decision")
    return await deps.save(incident, route, STEP)


def _waited_before(incident: Incident) -> bool:
    return any(e.step == STEP and e.message.startswith(DONE_WAITING) for e in incident.events)


def _solution(library: RunbookLibrary, incident: Incident) -> Any:
    decision = incident.decision
    book = library.get(decision.runbook or "") if decision else None
    if book is None or decision is None:
        return None, None
    return book, next((s for s in book.solutions if s.id == decision.solution), None)


def _restarts_target(library: RunbookLibrary, incident: Incident) -> bool:
    """The chosen fix restarts this incident's own service (the kind of fix a victim never needs)."""
    _, solution = _solution(library, incident)
    return solution is not None and any(a.tool in RESTART_TOOLS for a in solution.actions)


def _upstream_of(incident: Incident) -> set[str]:
    """The services this incident's service depends on, from its compose graph (context `_graph`)."""
    graph = (incident.context.get("_graph") or {}).get("structured") or {}
    service = incident.target.get("service")
    node = next((n for n in graph.get("services") or [] if n.get("name") == service), None)
    return set(node.get("upstream") or []) | set(node.get("depends_on") or []) if node else set()


def is_related(incident: Incident, other: Incident, now: datetime, window_s: float) -> bool:
    """`other` may be fixing this incident's cause: same app, another service that this one depends
    on (or that groups this one among its victims), acting or verifying now, or resolved less than
    `window_s` ago after a change of its own."""
    if other.id == incident.id or other.target_key == incident.target_key:
        return False
    app, service = incident.target.get("app_name"), incident.target.get("service")
    if not app or not service or other.target.get("app_name") != app:
        return False
    linked = (
        other.target.get("service") in _upstream_of(incident)
        or service in (other.facts.get("dependants") or [])
        or incident.target_key in other.affected
    )
    if not linked:
        return False
    if other.status in ("acting", "verifying"):
        return True
    changed = any(a.ok and not a.dry_run for a in other.actions)
    return (
        other.status == "resolved"
        and changed
        and other.closed_at is not None
        and (now - other.closed_at).total_seconds() <= window_s
    )


async def find_related(deps: LoopDeps, incident: Incident, now: datetime) -> Incident | None:
    """The newest incident that may be fixing this one's cause (see `is_related`), or None."""
    window = deps.settings.related_fix_window_s
    for other in await deps.store.recent(RECENT_LIMIT):
        if is_related(incident, other, now, window):
            return other
    return None


def related_deadline(deps: LoopDeps, other: Incident, now: datetime) -> datetime:
    """When to stop waiting: the other incident's verification end (its last change + its verify
    window, capped like verify_fix caps it) or its close, plus `related_settle_s` for this service
    to notice; never later than a full window from now."""
    settle = timedelta(seconds=deps.settings.related_settle_s)
    _, window = chosen_verify(deps, other)
    if other.closed_at is not None:
        end = other.closed_at
    else:
        acted = [a.at for a in other.actions if a.ok and not a.dry_run]
        end = (max(acted) if acted else now) + timedelta(seconds=window)
    return min(end, now + timedelta(seconds=window)) + settle


async def recovered(deps: LoopDeps, checks: list[Check], target: dict[str, Any], memo: VerifyMemo) -> bool:
    """Every verify check of the chosen fix holds right now (one that cannot tell is not a yes)."""
    for check in checks:
        if await CHECKS[check.check](deps.link, check, target, memo) is not True:
            return False
    return True
