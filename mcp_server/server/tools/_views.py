"""Compact, model-friendly views of Docker objects shared by the read tools."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.docker_ops.models import ContainerDetails
from mcp_server.log_analysis import explain_exit


class ContainerView(BaseModel):
    name: str
    service: str | None
    status: str = Field(description="running, exited, restarting, created, ...")
    health: str | None = Field(description="healthy, unhealthy, starting, or None without a check")
    last_probe: str | None = Field(description="output of the last failed health probe, if any")
    restarts: int
    exit_code: int | None
    exit_meaning: str | None
    oom_killed: bool
    started_at: str | None
    finished_at: str | None
    image: str
    memory_limit_bytes: int | None
    cpus: float | None
    restart_policy: str


def container_view(d: ContainerDetails) -> ContainerView:
    probe = None
    if d.health and d.health.probes:
        failing = [p for p in d.health.probes if p.exit_code != 0]
        if failing:
            probe = failing[-1].output.strip()[-400:]
    meaning = None
    if d.status != "running" and d.exit_code is not None:
        meaning = explain_exit(d.exit_code, d.oom_killed).meaning
    return ContainerView(
        name=d.name,
        service=d.compose_service or d.swarm_service,
        status=d.status,
        health=d.health_status,
        last_probe=probe,
        restarts=d.restart_count,
        exit_code=d.exit_code,
        exit_meaning=meaning,
        oom_killed=d.oom_killed,
        started_at=d.started_at.isoformat() if d.started_at else None,
        finished_at=d.finished_at.isoformat() if d.finished_at else None,
        image=d.image,
        memory_limit_bytes=d.limits.memory_bytes,
        cpus=d.limits.cpus,
        restart_policy=d.restart_policy.name,
    )
