"""active_signals: the problems the detectors see right now."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.detectors import Severity, Signal
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.arguments import AppName
from mcp_server.server.context import audit_read, safe, services


class SignalsResult(BaseModel):
    detectors_running: bool
    signals: list[Signal] = Field(description="most severe first")


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("active_signals"))
    async def active_signals(
        ctx: Context,
        min_severity: Annotated[Literal["info", "warning", "critical"], Field(description="filter")] = "info",
        app_name: Annotated[AppName | None, Field(description="only this stack")] = None,
    ) -> SignalsResult:
        """Problems detected right now (OOM kills, crash loops, unhealthy or hung containers, memory/CPU
        pressure, filling disks, restart storms, domains down, failed deployments), each with severity,
        target, evidence and a suggested runbook (read it at runbook://<name>). Start here. Cost: none."""
        svc = services(ctx)
        engine = svc.detectors
        signals = engine.active_signals() if engine else []
        signals = [
            s
            for s in signals
            if s.severity.rank >= Severity(min_severity).rank
            and (app_name is None or s.target.app_name == app_name)
        ]
        await audit_read(ctx, "active_signals", None, {"min_severity": min_severity, "app_name": app_name})
        return safe(SignalsResult(detectors_running=engine is not None, signals=signals))
