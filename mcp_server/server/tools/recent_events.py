"""recent_events: container events (die, oom, kill, health, restart, ...) of the last N minutes."""

from __future__ import annotations

import time
from typing import Annotated, Any

import docker
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.events import parse_event
from mcp_server.server.arguments import AppName
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName

ACTIONS = ("die", "oom", "kill", "health_status", "restart", "start", "stop", "destroy")


class EventLine(BaseModel):
    time: str
    action: str
    container: str | None
    app_name: str | None
    service: str | None
    detail: str | None = Field(description="exit code, signal or health status")


class EventsResult(BaseModel):
    minutes: int
    events: list[EventLine] = Field(description="newest first")
    truncated: bool


def _read(client: docker.DockerClient, since: int, until: int) -> list[dict[str, Any]]:
    stream = client.events(
        since=since, until=until, decode=True, filters={"type": "container", "event": list(ACTIONS)}
    )
    return list(stream)


async def recent_events(
    ctx: Context,
    minutes: Annotated[int, Field(ge=1, le=1440, description="look back this many minutes")] = 15,
    app_name: Annotated[AppName | None, Field(description="only this stack")] = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
    host: DockerHostName = None,
) -> EventsResult:
    """Container events of the last N minutes, newest first: deaths with exit codes, OOM kills,
    kills with signals, health changes, restarts. Use it to build an incident timeline.
    Cost: one Docker events query."""
    svc = services(ctx)
    now = int(time.time())
    with tool_errors():
        raw = await svc.host(host).run(lambda c: _read(c, now - minutes * 60, now), what="read events")
    events = [parse_event(r) for r in raw]
    if app_name:
        events = [e for e in events if app_name in (e.compose_project, e.stack_namespace, e.swarm_service)]
    events.sort(key=lambda e: e.time_nano, reverse=True)
    lines = []
    for e in events[:limit]:
        detail = None
        if e.exit_code is not None:
            detail = f"exit {e.exit_code}"
        elif e.signal:
            detail = f"signal {e.signal}"
        elif e.health_status:
            detail = e.health_status
        lines.append(
            EventLine(
                time=e.time.isoformat(),
                action=e.action,
                container=e.container_name,
                app_name=e.compose_project or e.stack_namespace or e.swarm_service,
                service=e.compose_service,
                detail=detail,
            )
        )
    await audit_read(ctx, "recent_events", None, {"minutes": minutes, "app_name": app_name})
    return safe(EventsResult(minutes=minutes, events=lines, truncated=len(events) > limit))
