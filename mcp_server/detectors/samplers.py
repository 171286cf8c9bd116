"""History the polled detectors judge: stats samples per container and log gaps per service.

StatsSampler reads `one-shot` stats (a few ms per container, no second-long wait) and computes
CPU % between its own consecutive samples, with the same formula as `docker stats`.
LogGapSampler reads only the log lines that are new since its last look and learns, per service,
how long the gaps between log lines usually are.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio

from mcp_server.docker_ops.containers import container_logs
from mcp_server.docker_ops.host import ContainerNotFound, DockerHost, DockerOpsError
from mcp_server.docker_ops.stats import cpu_percent, memory_without_cache

from .base import Clock
from .settings import DetectorSettings
from .state import ContainerDirectory, ContainerRef, service_level


@dataclass(frozen=True)
class StatsSample:
    """Resource use of one container at `at` (detector clock)."""

    at: datetime
    cpu_percent: float | None  # 100 = one core; None on a container's first sample
    online_cpus: int
    cpu_limit_cpus: float | None
    memory_used_bytes: int
    memory_limit_bytes: int
    memory_limit_set: bool
    throttled_periods: int | None = None

    @property
    def cpu_share_percent(self) -> float | None:
        """CPU use as a share of what the container may use: its limit, else all host CPUs."""
        if self.cpu_percent is None:
            return None
        capacity = self.cpu_limit_cpus or float(self.online_cpus or 1)
        return self.cpu_percent / capacity

    @property
    def memory_percent(self) -> float:
        return self.memory_used_bytes / self.memory_limit_bytes * 100.0 if self.memory_limit_bytes else 0.0


def sustained(
    samples: Sequence[StatsSample], holds: Callable[[StatsSample], bool], duration_s: float
) -> list[StatsSample] | None:
    """The newest run of samples for which `holds` is true, if it spans at least `duration_s`
    (newest first is checked; one failing sample ends the run). None when it does not."""
    run: list[StatsSample] = []
    for sample in reversed(samples):
        if not holds(sample):
            break
        run.append(sample)
    if not run:
        return None
    run.reverse()
    if (run[-1].at - run[0].at).total_seconds() >= duration_s:
        return run
    return None


@dataclass
class _CpuBase:
    total_usage: float
    system_usage: float


class StatsSampler:
    """Samples stats of all watched running containers, at most once per `max_age_s`."""

    def __init__(
        self, host: DockerHost, directory: ContainerDirectory, settings: DetectorSettings, clock: Clock
    ) -> None:
        self.host = host
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self._history: dict[str, deque[StatsSample]] = {}
        self._refs: dict[str, ContainerRef] = {}
        self._raw_cpu: dict[str, dict[str, Any]] = {}
        self._last_round: float | None = None
        self._lock = anyio.Lock()

    async def refresh(self, max_age_s: float | None = None) -> None:
        """Take a new round of samples unless the last round is younger than `max_age_s`
        (default: half the stats interval), so detectors polling together share one round."""
        limit = self.settings.stats_interval_s / 2 if max_age_s is None else max_age_s
        async with self._lock:
            if self._last_round is not None and time.monotonic() - self._last_round < limit:
                return
            refs = await self.directory.find()
            limiter = anyio.CapacityLimiter(self.settings.concurrency)

            async def one(ref: ContainerRef) -> None:
                async with limiter:
                    await self._sample(ref)

            async with anyio.create_task_group() as tg:
                for ref in refs:
                    tg.start_soon(one, ref)
            alive = {r.id for r in refs}
            for gone in set(self._history) - alive:
                self._history.pop(gone, None)
                self._refs.pop(gone, None)
                self._raw_cpu.pop(gone, None)
            self._last_round = time.monotonic()

    async def _sample(self, ref: ContainerRef) -> None:
        try:
            raw = await self.host.run(
                lambda c: c.api.stats(ref.id, stream=False, one_shot=True), what=f"stats of {ref.name}"
            )
            details = await self.directory.details(ref.id)
        except (ContainerNotFound, DockerOpsError):
            return  # removed or stopped between list and sample: it is dropped next round
        memory_stats = raw.get("memory_stats") or {}
        cpu_stats = raw.get("cpu_stats") or {}
        if details is None or not memory_stats or not cpu_stats:
            return  # not running any more: the engine answers empty stats
        used, _, _ = memory_without_cache(memory_stats)
        previous = self._raw_cpu.get(ref.id)
        self._raw_cpu[ref.id] = cpu_stats
        cpu: float | None = None
        online = int(cpu_stats.get("online_cpus") or 0) or len(
            (cpu_stats.get("cpu_usage") or {}).get("percpu_usage") or []
        )
        if previous is not None:
            cpu, online = cpu_percent({"cpu_stats": cpu_stats, "precpu_stats": previous})
        limits = details.limits
        cpu_limit = limits.cpus
        if cpu_limit is None and limits.cpu_quota and limits.cpu_period:
            cpu_limit = limits.cpu_quota / limits.cpu_period
        throttling = cpu_stats.get("throttling_data") or {}
        sample = StatsSample(
            at=self.clock.now(),
            cpu_percent=cpu,
            online_cpus=online,
            cpu_limit_cpus=cpu_limit,
            memory_used_bytes=used,
            memory_limit_bytes=int(memory_stats.get("limit") or 0),
            memory_limit_set=bool(limits.memory_bytes),
            throttled_periods=throttling.get("throttled_periods"),
        )
        history = self._history.setdefault(ref.id, deque())
        history.append(sample)
        horizon = sample.at - timedelta(seconds=self.settings.stats_history_s)
        while history and history[0].at < horizon:
            history.popleft()
        self._refs[ref.id] = ref

    def containers(self) -> list[tuple[ContainerRef, list[StatsSample]]]:
        """Every sampled container with its samples, oldest first."""
        return [(self._refs[cid], list(h)) for cid, h in self._history.items() if cid in self._refs and h]

    def history(self, container_id: str) -> list[StatsSample]:
        return list(self._history.get(container_id, ()))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LogActivity:
    """What the logs of one container say about its liveness (engine times)."""

    last_line_at: datetime | None
    norm_gap_s: float | None  # the usual gap; None until enough gaps were seen
    gaps_observed: int
    readable: bool = True
    reason: str | None = None
    last_lines: list[str] = field(default_factory=list)


@dataclass
class _ContainerLogState:
    started_at: datetime | None
    last_line_at: datetime | None = None
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    unreadable_until: float | None = None
    reason: str | None = None


class LogGapSampler:
    """Learns the usual gap between log lines per service and tracks each container's last line."""

    def __init__(self, host: DockerHost, settings: DetectorSettings, max_gaps: int = 512) -> None:
        self.host = host
        self.settings = settings
        self.max_gaps = max_gaps
        self._gaps: dict[str, deque[float]] = {}
        self._containers: dict[str, _ContainerLogState] = {}

    def record_gaps(self, service_key: str, gaps: Sequence[float]) -> None:
        store = self._gaps.setdefault(service_key, deque(maxlen=self.max_gaps))
        store.extend(g for g in gaps if g >= 0)

    def norm(self, service_key: str) -> tuple[float | None, int]:
        """(usual gap in seconds or None, gaps observed) for a service."""
        gaps = self._gaps.get(service_key)
        if not gaps or len(gaps) < self.settings.hung_min_gaps:
            return None, len(gaps or ())
        return percentile(list(gaps), self.settings.hung_norm_percentile), len(gaps)

    async def observe(
        self, ref: ContainerRef, host_name: str, started_at: datetime | None, engine_now: datetime
    ) -> LogActivity:
        """Read the lines new since the last look and update the norm of the container's service."""
        service_key = service_level(ref.target(host_name)).key()
        state = self._containers.get(ref.id)
        if state is None or state.started_at != started_at:
            state = _ContainerLogState(started_at=started_at)  # (re)started: no gap across restarts
            self._containers[ref.id] = state
        if state.unreadable_until is not None and time.monotonic() < state.unreadable_until:
            return LogActivity(None, None, 0, readable=False, reason=state.reason)
        since = state.last_line_at
        if since is None:
            since = engine_now - timedelta(seconds=self.settings.hung_learn_window_s)
            if started_at is not None and started_at > since:
                since = started_at
        try:
            logs = await container_logs(
                self.host, ref.id, tail=self.settings.hung_log_tail, since=since, max_bytes=128 * 1024
            )
        except ContainerNotFound:
            self._containers.pop(ref.id, None)
            return LogActivity(None, None, 0, readable=False, reason="container removed")
        except DockerOpsError as exc:
            # e.g. a logging driver without read support: try again in ten minutes, not every poll
            state.unreadable_until = time.monotonic() + 600
            state.reason = str(exc)
            return LogActivity(None, None, 0, readable=False, reason=state.reason)
        stamps: list[datetime] = []
        for line in logs.lines:
            if line.timestamp is None or (state.last_line_at and line.timestamp <= state.last_line_at):
                continue
            stamps.append(line.timestamp)
            state.last_lines.append(line.text)
        clipped = logs.truncated or len(logs.lines) >= self.settings.hung_log_tail
        if stamps:
            previous = None if clipped else state.last_line_at
            chain = ([previous] if previous else []) + stamps
            self.record_gaps(service_key, [(b - a).total_seconds() for a, b in itertools.pairwise(chain)])
            state.last_line_at = stamps[-1]
        norm, observed = self.norm(service_key)
        return LogActivity(state.last_line_at, norm, observed, last_lines=list(state.last_lines))

    def prune(self, alive_ids: set[str]) -> None:
        for gone in set(self._containers) - alive_ids:
            self._containers.pop(gone, None)
