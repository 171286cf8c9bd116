"""stats_history: memory and CPU of an app's containers over the last minutes, as the watcher's
StatsSampler recorded them (the data of a "memory and CPU against the limit" plot).

The samples are the watcher's own (mcp_server/detectors/samplers.py): one round every
`stats_interval_s` (15 s by default) while the memory or CPU detectors poll, kept for
`stats_history_s` (30 min by default), in the memory of the process that holds the host's lease.
Nothing is read from the engine for them; only when there is no history (the watcher does not run
in this process, or a container is newer than its last round) one fresh sample is read instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.detectors.samplers import StatsSample, StatsSampler
from mcp_server.docker_ops.host import DockerHost, DockerOpsError
from mcp_server.docker_ops.models import ContainerDetails
from mcp_server.docker_ops.stats import container_stats as read_stats
from mcp_server.server.arguments import AppName, ServiceName
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import pick_service, resolve_app
from mcp_server.server.services import Services

MAX_POINTS = 240  # per container: a plot is a few hundred pixels wide
# the whole answer stays far below the server's 256 KiB answer limit (~70 bytes a point, twice:
# text and structured content): a big app gets fewer points per container, and at most
# MAX_CONTAINERS of them
MAX_TOTAL_POINTS = 1200
MIN_POINTS = 30
MAX_CONTAINERS = 20


class StatsPoint(BaseModel):
    at: datetime = Field(description="when it was sampled (UTC)")
    memory_used_bytes: int = Field(description="memory used minus page cache (like docker stats)")
    cpu_percent: float | None = Field(
        description="100 = its whole CPU limit, or all host CPUs without one; None on a first sample"
    )


class ContainerHistory(BaseModel):
    container: str
    service: str | None = Field(default=None, description="the compose service of the container")
    memory_limit_bytes: int = Field(description="its memory limit, or host memory without one")
    memory_limit_set: bool
    cpu_limit_cpus: float | None = Field(description="its CPU limit in CPUs; None: no limit")
    samples: list[StatsPoint] = Field(description="oldest first")


class StatsHistoryResult(BaseModel):
    containers: list[ContainerHistory]
    notes: list[str] = Field(default_factory=list)


async def stats_history(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName")],
    service: Annotated[ServiceName | None, Field(description="one service; omitted: all")] = None,
    minutes: Annotated[float, Field(gt=0, le=120, description="how far back")] = 30,
    host: DockerHostName = None,
) -> StatsHistoryResult:
    """Memory used and CPU % of each container of an app (or one service) over the last minutes,
    against its limits, from the watcher's samples (every 15 s, kept 30 min; at most 240 per
    container). Use it to see a trend: a leak, a spike before an OOM kill. Cost: none (~1 s without history)."""
    svc = services(ctx)
    notes: list[str] = []
    with tool_errors():
        docker = svc.host(host)
        app = await resolve_app(svc, docker, app_name, with_dokploy=False)
        app.require_group()
        chosen = pick_service(app, service) if service is not None else None
        containers = app.containers(chosen)
        target = app.service_target(chosen, containers[0] if containers else None) if chosen else app.target()
        if len(containers) > MAX_CONTAINERS:
            notes.append(
                f"{len(containers) - MAX_CONTAINERS} more containers left out; name one service= to see them"
            )
            containers = containers[:MAX_CONTAINERS]
        points = max(MIN_POINTS, min(MAX_POINTS, MAX_TOTAL_POINTS // max(len(containers), 1)))
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        sampler, why_not = history_source(svc, docker)
        rows: dict[str, ContainerHistory] = {}
        fresh: list[ContainerDetails] = []
        for details in containers:
            history = [s for s in sampler.history(details.id) if s.at >= since] if sampler else []
            if history:
                rows[details.name] = from_history(details, history, points)
            else:
                fresh.append(details)
        stopped = [d.name for d in fresh if not d.running]
        if stopped:
            notes.append(f"not running, no samples: {', '.join(stopped)}")
        if len(fresh) > len(stopped):
            if why_not:
                notes.append(f"{why_not}; one fresh sample per container instead")
            else:
                names = ", ".join(d.name for d in fresh if d.running)
                notes.append(f"no samples in the last {minutes:g} min for {names}; one fresh sample instead")

        async def sample(details: ContainerDetails) -> None:
            rows[details.name] = await fresh_sample(docker, details)

        async with anyio.create_task_group() as group:  # ~1 s each: sampled side by side
            for details in fresh:
                group.start_soon(sample, details)
        results = [rows[d.name] for d in containers if d.name in rows]
    await audit_read(
        ctx, "stats_history", target, {"app_name": app_name, "service": service, "minutes": minutes}
    )
    return safe(StatsHistoryResult(containers=results, notes=notes))


def history_source(svc: Services, docker: DockerHost) -> tuple[StatsSampler | None, str | None]:
    """The running watcher's sampler for `docker`, or None and why there is none."""
    if docker.name != svc.host_name:
        return None, f"the watcher samples only the default host {svc.host_name}, not {docker.name}"
    watcher = svc.watcher.watcher if svc.watcher is not None else None
    if watcher is None:
        return None, "the watcher does not run in this server process, so it kept no history here"
    engine = watcher.engine
    if engine is None:
        if watcher.role == "standing by":
            return None, "the detectors of this host run in another process (it holds the lease)"
        return None, f"the watcher is {watcher.role}, so it has no history yet"
    # the engine runs on the watcher's own thread: history() copies a deque in one C call, which
    # the GIL makes atomic, so reading it from here needs no lock
    return engine.context.stats, None


def from_history(details: ContainerDetails, samples: list[StatsSample], points: int) -> ContainerHistory:
    """The container's samples as points (downsampled to `points`), limits from the newest one."""
    newest = samples[-1]
    return ContainerHistory(
        container=details.name,
        service=details.compose_service,
        memory_limit_bytes=newest.memory_limit_bytes,
        memory_limit_set=newest.memory_limit_set,
        cpu_limit_cpus=newest.cpu_limit_cpus,
        samples=downsample([point_of(s) for s in samples], points),
    )


def point_of(sample: StatsSample) -> StatsPoint:
    share = sample.cpu_share_percent
    return StatsPoint(
        at=sample.at.astimezone(UTC).replace(microsecond=0),
        memory_used_bytes=sample.memory_used_bytes,
        cpu_percent=None if share is None else round(share, 1),
    )


def downsample(points: Sequence[StatsPoint], limit: int = MAX_POINTS) -> list[StatsPoint]:
    """At most `limit` points, oldest first: consecutive points are grouped into `limit` buckets and
    each bucket keeps its point of highest memory (a spike before an OOM kill is not averaged
    away), with the bucket's highest CPU (a CPU burst is not lost either)."""
    if len(points) <= limit:
        return list(points)
    kept: list[StatsPoint] = []
    for index in range(limit):
        bucket = points[index * len(points) // limit : (index + 1) * len(points) // limit]
        peak = max(bucket, key=lambda p: p.memory_used_bytes)
        cpus = [p.cpu_percent for p in bucket if p.cpu_percent is not None]
        kept.append(peak.model_copy(update={"cpu_percent": max(cpus) if cpus else None}))
    return kept


async def fresh_sample(docker: DockerHost, details: ContainerDetails) -> ContainerHistory:
    """One sample read from the engine now (about a second), for a container without history."""
    limits = details.limits
    cpu_limit = limits.cpus
    if cpu_limit is None and limits.cpu_quota and limits.cpu_period:
        cpu_limit = limits.cpu_quota / limits.cpu_period
    samples: list[StatsPoint] = []
    memory_limit = limits.memory_bytes or 0
    if details.running:
        try:
            stats = await read_stats(docker, details.name)
        except DockerOpsError:
            stats = None  # stopped between the list and the sample: no point to show
        if stats is not None and stats.running:
            memory_limit = stats.memory_limit_bytes
            capacity = cpu_limit or float(stats.online_cpus or 1)
            samples.append(
                StatsPoint(
                    at=(stats.read_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0),
                    memory_used_bytes=stats.memory_usage_bytes,
                    cpu_percent=round(stats.cpu_percent / capacity, 1),
                )
            )
    return ContainerHistory(
        container=details.name,
        service=details.compose_service,
        memory_limit_bytes=memory_limit,
        memory_limit_set=limits.memory_bytes is not None,
        cpu_limit_cpus=cpu_limit,
        samples=samples,
    )
