"""analyze_compose: the compose around the target — its dependency graph (what it needs, what needs
it) and every service's state — so a failing dependency is blamed instead of its victims."""

from __future__ import annotations

from agent_host.loop.deps import LoopDeps, bounded_answer, load
from agent_host.loop.state import LoopState


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    app_name = incident.target.get("app_name")
    if not app_name:
        incident.note("analyze_compose", "not part of a compose: no dependency graph")
        return await deps.save(incident, "done", "analyze_compose")
    calls = {
        "_graph": ("compose_graph", {"app_name": app_name, **({"service": s} if (s := incident.target.get("service")) else {})}),
        "_health": ("compose_health", {"app_name": app_name}),
    }  # fmt: skip
    for key, (tool, arguments) in calls.items():
        if key in incident.context:
            continue
        answer = await deps.link.call_tool(tool, arguments)
        incident.context[key] = bounded_answer(tool, arguments, answer)
        if not answer.ok:
            incident.note("analyze_compose", f"{tool} unavailable: {answer.error or answer.text[:200]}")
    return await deps.save(incident, "done", "analyze_compose")
