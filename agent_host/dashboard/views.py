"""What each page shows, shaped from the server's JSON and the agent's records: pure functions, no
I/O, so every rule (what counts as "degraded", how memory against its limit reads) has one place
and a unit test. Inputs are already redacted (sources.py); the templates escape."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from agent_host.dashboard.charts import ChartMark, ResourcePoint
from agent_host.incidents.model import Incident

NO_PROJECT = "(no project)"
SYSTEM_PROJECT = "(Dokploy itself)"


@dataclass
class ServiceLine:
    name: str
    containers: int
    running: int
    unhealthy: int
    restarts: int
    problems: list[str]

    @property
    def state(self) -> str:
        if self.containers == 0:
            return "no containers"
        if self.running == 0:
            return "down: " + "; ".join(self.problems) if self.problems else "down"
        text = f"{self.running}/{self.containers} running"
        if self.unhealthy:
            text += f", {self.unhealthy} unhealthy"
        return text


@dataclass
class StackRow:
    app_name: str
    kind: str
    project: str
    environment: str | None
    dokploy_name: str | None
    dokploy_status: str | None
    services: list[ServiceLine] = field(default_factory=list)

    @property
    def containers(self) -> int:
        return sum(s.containers for s in self.services)

    @property
    def running(self) -> int:
        return sum(s.running for s in self.services)

    @property
    def unhealthy(self) -> int:
        return sum(s.unhealthy for s in self.services)

    @property
    def health(self) -> str:
        """healthy: everything runs and no health check fails; down: nothing runs; unknown: no
        containers at all; degraded: anything in between."""
        if self.containers == 0:
            return "unknown"
        if self.running == 0:
            return "down"
        if self.running < self.containers or self.unhealthy:
            return "degraded"
        return "healthy"

    @property
    def problems(self) -> list[str]:
        return [p for s in self.services for p in s.problems]


def _service_line(service: dict[str, Any]) -> ServiceLine:
    containers = service.get("containers") or []
    problems = []
    for c in containers:
        if c.get("status") != "running":
            oom = " (OOMKilled)" if c.get("oom_killed") else ""
            problems.append(f"{c.get('name')} {c.get('status')} exit {c.get('exit_code')}{oom}")
        elif c.get("health_status") == "unhealthy":
            problems.append(f"{c.get('name')} unhealthy")
    return ServiceLine(
        name=str(service.get("name")),
        containers=len(containers),
        running=sum(1 for c in containers if c.get("status") == "running"),
        unhealthy=sum(1 for c in containers if c.get("health_status") == "unhealthy"),
        restarts=sum(int(c.get("restart_count") or 0) for c in containers),
        problems=problems,
    )


def stack_rows(inventory: dict[str, Any]) -> list[StackRow]:
    """One row per Dokploy app (compose, stack, application, database) in the server's inventory."""
    rows = []
    for group in inventory.get("groups") or []:
        ref = group.get("dokploy") or {}
        kind = str(group.get("kind"))
        project = ref.get("project") or (SYSTEM_PROJECT if kind == "dokploy_system" else NO_PROJECT)
        rows.append(
            StackRow(
                app_name=str(group.get("app_name")),
                kind=kind,
                project=str(project),
                environment=ref.get("environment"),
                dokploy_name=ref.get("name"),
                dokploy_status=ref.get("status"),
                services=[_service_line(s) for s in group.get("services") or []],
            )
        )
    return rows


def by_project(rows: Iterable[StackRow]) -> list[tuple[str, list[StackRow]]]:
    """Rows grouped by project: named projects first (alphabetically), then apps with no project,
    Dokploy's own services last."""
    groups: dict[str, list[StackRow]] = {}
    for row in rows:
        groups.setdefault(row.project, []).append(row)
    order = {SYSTEM_PROJECT: 2, NO_PROJECT: 1}
    return [
        (name, sorted(groups[name], key=lambda r: r.app_name))
        for name in sorted(groups, key=lambda n: (order.get(n, 0), n.lower()))
    ]


def mib(value: int | float | None) -> str:
    if value is None:
        return "?"
    size = float(value) / (1024 * 1024)
    return f"{size:.0f} MiB" if size < 10240 else f"{size / 1024:.1f} GiB"


@dataclass
class ContainerResources:
    container: str
    service: str
    memory_limit_bytes: int | None
    points: list[ResourcePoint]

    @property
    def memory_text(self) -> str:
        latest = next((p.memory_bytes for p in reversed(self.points) if p.memory_bytes is not None), None)
        limit = mib(self.memory_limit_bytes) if self.memory_limit_bytes else "no limit"
        return f"{mib(latest)} / {limit}"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def container_resources(history: dict[str, Any]) -> list[ContainerResources]:
    """The `stats_history` tool's answer as chart series, one per container."""
    out = []
    for item in history.get("containers") or []:
        points = []
        for sample in item.get("samples") or []:
            at = _parse_time(sample.get("at"))
            if at is None:
                continue
            points.append(ResourcePoint(at, sample.get("memory_used_bytes"), sample.get("cpu_percent")))
        limit = item.get("memory_limit_bytes") if item.get("memory_limit_set", True) else None
        out.append(
            ContainerResources(
                container=str(item.get("container")),
                service=str(item.get("service") or item.get("container")),
                memory_limit_bytes=int(limit) if limit else None,
                points=sorted(points, key=lambda p: p.at),
            )
        )
    return out


def incident_marks(incident: Incident) -> list[ChartMark]:
    """Vertical marks for a resource chart: when it opened, each action, when it closed."""
    marks = [ChartMark(incident.opened_at, "opened")]
    marks += [ChartMark(a.at, a.tool) for a in incident.actions if not a.dry_run]
    if incident.closed_at is not None:
        marks.append(ChartMark(incident.closed_at, incident.status))
    return marks


def incident_days(incidents: Sequence[Incident]) -> list[date]:
    return [i.opened_at.astimezone(UTC).date() for i in incidents]


def target_text(incident: Incident) -> str:
    target = incident.target or {}
    app, service = target.get("app_name"), target.get("service")
    if app and service:
        return f"{app}/{service}"
    return str(app or target.get("container") or target.get("domain") or incident.target_key)


def incidents_of_app(incidents: Iterable[Incident], app_name: str) -> list[Incident]:
    return [i for i in incidents if (i.target or {}).get("app_name") == app_name]


def signals_of_app(signals: Iterable[dict[str, Any]], app_name: str) -> list[dict[str, Any]]:
    return [s for s in signals if ((s.get("target") or {}).get("app_name")) == app_name]


def dependency_edges(graph: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """Services and `dependent → dependency` edges from the `compose_graph` tool's answer."""
    names = [str(s.get("name")) for s in graph.get("services") or []]
    edges = [
        (str(s.get("name")), str(dep))
        for s in graph.get("services") or []
        for dep in s.get("depends_on") or []
        if str(dep) in names
    ]
    return names, edges


def plain_text(value: Any, indent: int = 0) -> str:
    """Nested evidence as indented `key: value` lines, strings as they are (no JSON quoting or
    escapes): log lines read like log lines. The template escapes the result."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if _nested(item):
                lines += [f"{pad}{key}:", plain_text(item, indent + 2)]
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if _nested(item):
                lines += [f"{pad}-", plain_text(item, indent + 2)]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, str):
        return "\n".join(pad + line for line in value.splitlines())
    return pad + _scalar(value)


def _nested(item: Any) -> bool:
    """Shown on lines of its own: a non-empty dict or list, or a string of several lines."""
    return (isinstance(item, dict | list) and bool(item)) or (isinstance(item, str) and "\n" in item)


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)
