"""active_signals: the problems the detectors see right now."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.detectors import Severity, Signal
from mcp_server.server.arguments import AppName
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName


class SignalsResult(BaseModel):
    detectors_running: bool
    signals: list[Signal] = Field(description="most severe first")


async def active_signals(
    ctx: Context,
    min_severity: Annotated[Literal["info", "warning", "critical"], Field(description="filter")] = "info",
    app_name: Annotated[AppName | None, Field(description="only this app (target.app_name)")] = None,
    host: DockerHostName = None,
) -> SignalsResult:
    """Problems detected right now (OOM kills, crash loops, unhealthy or hung containers, memory/CPU
    pressure, filling disks, restart storms, domains down, failed deployments), each with severity,
    target, evidence and a suggested runbook (read it at runbook://<name>). Start here. Cost: none."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
    store = svc.detectors  # the signals the host's watcher stored, whichever process runs it
    signals = store.active_signals() if store else []
    signals = [
        s
        for s in signals
        if s.severity.rank >= Severity(min_severity).rank
        and (host is None or s.target.host == docker.name)
        and (app_name is None or s.target.app_name == app_name)
    ]
    await audit_read(ctx, "active_signals", None, {"min_severity": min_severity, "app_name": app_name})
    return safe(SignalsResult(detectors_running=store is not None and store.running(), signals=signals))
