"""The context of each page (and of its live fragment): read from the sources, shaped by views.py,
pictures drawn by charts.py and graph_svg.py. One async function per page; the app renders the
result with the page's template, or with its fragment template for a live refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agent_host.approvals.book import ApprovalRequest
from agent_host.dashboard import views
from agent_host.dashboard.charts import daily_counts_chart, fill_days, resource_chart
from agent_host.dashboard.graph_svg import GraphNode, graph_svg
from agent_host.dashboard.sources import DashboardSources
from agent_host.diagnosis.flap import judge
from agent_host.diagnosis.history import target_history
from agent_host.incidents.model import Incident
from agent_host.incidents.report import post_mortem
from agent_host.telegram.render import unfenced
from mcp_server.redaction import redact

OPEN_STATUS_NODE = {  # where an incident stands when its checkpoint cannot be read
    "open": "diagnose",
    "awaiting_approval": "escalate",
    "acting": "execute_action",
    "verifying": "verify_fix",
}
# the id `_blocked` judges a target's next incident under: no fix was recorded for it, so all count
NEXT_INCIDENT = "(next incident)"


class NotFound(LookupError):
    """The page's subject does not exist; the message says what to look at instead."""


def incident_dict(incident: Incident) -> dict[str, Any]:
    """The incident as the templates read it: JSON-shaped and redacted (container text included)."""
    data: dict[str, Any] = redact(incident.model_dump(mode="json"))
    data["target_text"] = views.target_text(incident)
    return data


async def overview(sources: DashboardSources) -> dict[str, Any]:
    inventory = await sources.inventory()
    rows = views.stack_rows(inventory.data) if inventory.ok else []
    signals = await sources.signals()
    return {
        "projects": views.by_project(rows),
        "health_note": inventory.note,
        "health_at": inventory.at,
        "signals": signals.data or [],
        "signals_note": signals.note,
    }


async def project(sources: DashboardSources, name: str) -> dict[str, Any]:
    inventory = await sources.inventory()
    rows = [r for r in views.stack_rows(inventory.data)] if inventory.ok else []
    mine = [r for r in rows if r.project == name]
    if inventory.ok and not mine:
        known = sorted({r.project for r in rows})
        raise NotFound(f"no project {name!r} on this server; projects: {', '.join(known) or 'none'}")
    return {"name": name, "rows": mine, "health_note": inventory.note, "health_at": inventory.at}


async def compose(sources: DashboardSources, app_name: str) -> dict[str, Any]:
    inventory = await sources.inventory()
    row = None
    if inventory.ok:
        row = next((r for r in views.stack_rows(inventory.data) if r.app_name == app_name), None)
        if row is None:
            raise NotFound(f"no app {app_name!r} on this server; see the overview for the ones there are")
    history = await sources.tool("stats_history", {"app_name": app_name, "minutes": 30})
    resources = views.container_resources(history.data) if history.ok else []
    graph = await sources.tool("compose_graph", {"app_name": app_name})
    graph_picture = None
    if graph.ok:
        names, edges = views.dependency_edges(graph.data)
        health = {s.name: s for s in (row.services if row else [])}
        nodes = [_service_node(name, health.get(name), resources) for name in names]
        graph_picture = graph_svg(nodes, edges)
    signals = await sources.signals()
    incidents = views.incidents_of_app(await sources.incidents(), app_name)
    return {
        "app_name": app_name,
        "row": row,
        "memory": {r.service: r.memory_text for r in resources},
        "charts": [
            (r, resource_chart(r.points, memory_limit_bytes=r.memory_limit_bytes, title=r.container))
            for r in resources
        ],
        "history_note": history.note or "; ".join(map(str, (history.data or {}).get("notes") or [])),
        "graph": graph_picture,
        "graph_note": graph.note,
        "findings": (graph.data or {}).get("findings", []) if graph.ok else [],
        "signals": views.signals_of_app(signals.data or [], app_name),
        "signals_note": signals.note,
        "incidents": [incident_dict(i) for i in incidents[:20]],
        "health_note": inventory.note,
        "health_at": inventory.at,
    }


def _service_node(
    name: str, line: views.ServiceLine | None, resources: list[views.ContainerResources]
) -> GraphNode:
    tone: Any = "idle"
    if line is not None and line.containers:
        tone = (
            "bad"
            if line.running == 0
            else "warn"
            if (line.unhealthy or line.running < line.containers)
            else "ok"
        )
    memory = next((r.memory_text for r in resources if r.service == name), None)
    return GraphNode(id=name, label=name, badge=memory, tone=tone)


async def incidents(sources: DashboardSources) -> dict[str, Any]:
    found = await sources.incidents(500)
    today = datetime.now(UTC).date()
    return {
        "incidents": [incident_dict(i) for i in found[:100]],
        "per_day": daily_counts_chart(fill_days(views.incident_days(found), last=today, days=14)),
        "total": len(found),
    }


async def incident(sources: DashboardSources, incident_id: str) -> dict[str, Any]:
    found = await sources.incident(incident_id)
    if found is None:
        raise NotFound(f"no incident {incident_id!r}; the incidents page lists them")
    approvals = [r for r in await sources.pending_approvals() if r.incident_id == incident_id]
    approvals += await sources.approvals.answered_for(incident_id)
    charts = []
    stored = found.context.get("_resources")
    if isinstance(stored, dict):
        history_data: dict[str, Any] | None = redact(stored)
    else:
        target = found.target or {}
        history_data = None
        if target.get("app_name") and not found.closed:
            arguments = {"app_name": target["app_name"], "minutes": 60}
            if target.get("service"):
                arguments["service"] = target["service"]
            history_data = (await sources.tool("stats_history", arguments)).data
    marks = views.incident_marks(found)
    for r in views.container_resources(history_data or {}):
        chart = resource_chart(
            r.points, memory_limit_bytes=r.memory_limit_bytes, marks=marks, title=r.container
        )
        charts.append((r, chart))
    node = await _node(sources, found) if not found.closed else None
    return {
        "incident": incident_dict(found),
        "node": node,
        "approvals": [_approval_dict(r) for r in approvals],
        "charts": charts,
        "post_mortem": post_mortem(found),
        "evidence": _evidence(found),
    }


def _evidence(incident: Incident) -> list[tuple[str, Any]]:
    """The signals and the context the agent gathered, by name (redacted; the template escapes)."""
    items: list[tuple[str, Any]] = [(f"signal {s.get('kind', '')}", s) for s in incident.signals]
    items += [(key, value) for key, value in sorted(incident.context.items()) if key != "_resources"]
    return [(name, _readable(redact(value))) for name, value in items]


def _readable(value: Any) -> Any:
    """The server's `<untrusted-data>` fences taken off strings for a person (the markers and the
    preamble are for a model); the text stays data: the template escapes it."""
    if isinstance(value, str):
        return unfenced(value) if "<untrusted-data" in value else value
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    return value


def _approval_dict(request: ApprovalRequest) -> dict[str, Any]:
    data: dict[str, Any] = redact(request.model_dump(mode="json"))
    return data


async def _node(sources: DashboardSources, incident: Incident) -> str | None:
    return await sources.node_of(incident.id) or OPEN_STATUS_NODE.get(incident.status)


async def agent(sources: DashboardSources) -> dict[str, Any]:
    shape = sources.agent_graph_shape()
    unfinished = await sources.store.unfinished()
    where: dict[str, list[str]] = {}
    for item in unfinished:
        node = await _node(sources, item)
        if node:
            where.setdefault(node, []).append(item.id)
    nodes = [
        GraphNode(
            id=node_id,
            label=node_id.strip("_"),
            badge=str(len(where[node_id])) if node_id in where else None,
            tone="warn" if node_id in where else "idle",
        )
        for node_id in shape.nodes
    ]
    settings = sources.settings
    budgets = await sources.budgets()
    return {
        "mode": sources.mode_line(),
        "model": settings.model if settings.model.enabled else None,
        "graph": graph_svg(nodes, shape.edges, direction="right"),
        "where": where,
        "unfinished": [incident_dict(i) for i in unfinished],
        "budgets": budgets.data,
        "budgets_note": budgets.note,
        "blocked": await _blocked(sources),
        "flap": settings.flap,
        "memory_enabled": settings.memory.enabled,
        "telegram_enabled": settings.telegram.enabled,
        "telegram_audit": await sources.telegram_audit(),
        "server": sources.link.describe() if sources.link is not None else "not connected",
    }


async def _blocked(sources: DashboardSources) -> list[dict[str, Any]]:
    """Targets flap protection holds back now (incidents of the last day), judged as the agent's
    diagnose step judges them: the same `target_history` and `judge`, so the page and the agent's
    decision cannot disagree. A target with an unfinished incident shows that incident's verdict;
    a target whose newest incident is closed shows what its next incident would meet."""
    flap = sources.settings.flap
    moment = datetime.now(UTC)
    window = timedelta(seconds=max(flap.block_s, flap.recurrence_window_s))
    newest: dict[str, Incident] = {}
    for item in await sources.incidents(200):  # newest first
        if moment - item.opened_at < window:
            newest.setdefault(item.target_key, item)
    out = []
    for item in (newest[key] for key in sorted(newest)):
        subject = item if not item.closed else item.model_copy(update={"id": NEXT_INCIDENT})
        fixes, history = await target_history(sources.store, subject, flap, moment)
        # diagnose runs on a stored incident, so its recurrences count itself; the next one is not stored yet
        recurrences = history["recurrences"] + (1 if item.closed else 0)
        verdict = judge(fixes, recurrences, flap, moment)
        if not verdict.may_act:
            out.append(
                {
                    "target": views.target_text(item),
                    "subject": "the next incident" if item.closed else f"incident {item.id}",
                    "reasons": verdict.reasons,
                    "wait_s": verdict.wait_s,
                }
            )
    return out


async def approvals(sources: DashboardSources) -> dict[str, Any]:
    pending = await sources.pending_approvals()
    answered = await sources.answered_approvals(20)
    return {
        "pending": [_approval_dict(r) for r in pending],
        "answered": [_approval_dict(r) for r in answered],
    }
