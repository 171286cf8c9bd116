"""learn: the fix is verified — restart, in start order, the victims grouped into this incident that
are still broken now that their dependency works (once each, idempotency key `<incident>:dependant:<n>`),
record the fix as worked for this target (the next decision and flap protection read it), with the
time to recover, and close the incident as resolved."""

from __future__ import annotations

from agent_host.incidents.model import ActionRecord, Incident
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.nodes.execute_action import action_key
from agent_host.loop.state import LoopState


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    await _restart_broken_dependants(deps, incident)
    decision = incident.decision
    if decision and decision.solution:
        await deps.store.record_fix(
            incident.id, incident.target_key, decision.solution, "worked", deps.clock()
        )
    recovered_s = (deps.clock() - incident.opened_at).total_seconds()
    what = decision.solution if decision else "nothing"
    incident.close("resolved", f"resolved by {what} in {recovered_s:.0f} s", "learn")
    return await deps.save(incident, "done", "learn")


async def _restart_broken_dependants(deps: LoopDeps, incident: Incident) -> None:
    app = incident.target.get("app_name")
    prefix = f"service:{incident.target.get('host', 'local')}/{app}/"
    victims = [key.removeprefix(prefix) for key in incident.affected if key.startswith(prefix)]
    if not victims or not app:
        return
    health = await deps.link.call_tool("compose_health", {"app_name": app})
    reports = (health.structured or {}).get("services") or [] if health.ok else []
    broken = {r.get("service") for r in reports if r.get("verdict") != "ok"}
    graph = (incident.context.get("_graph") or {}).get("structured") or {}
    order = {name: n for n, name in enumerate(graph.get("start_order") or [])}
    for index, service in enumerate(
        sorted((v for v in victims if v in broken), key=lambda s: order.get(s, len(order)))
    ):
        key = action_key(incident.id, "dependant", index)
        if any(a.key == key for a in incident.actions):
            continue
        arguments = {"app_name": app, "service": service}
        answer = await deps.link.call_tool("restart_service", arguments, idempotency_key=key)
        incident.actions.append(ActionRecord.from_answer(key, "restart_service", arguments, answer))
        incident.note(
            "learn",
            f"dependant {service} still broken after the fix: restarted ({'ok' if answer.ok else answer.error})",
        )
        await deps.store.save(incident)
