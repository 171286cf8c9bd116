"""CPU and memory of a container read straight from its cgroup files: no engine call, no wait.

`docker stats` reads the same files inside dockerd; reading them here costs a few small file reads
per container instead of an engine call that waits for the daemon's next 1 s collection tick. It
works when this process sees the host's `/sys/fs/cgroup` (it runs on the host, or in a container
with the host's cgroup tree mounted). Nothing is assumed: each container's directory is looked up
under the known layouts, and when none exists `read()` returns None and the caller uses the
engine's stats instead.

Layouts looked up (ID = the full container id):
- cgroup v1, cgroupfs driver: `<root>/memory/docker/ID/`, `<root>/cpuacct/docker/ID/`, `<root>/cpu/docker/ID/`
- cgroup v1, systemd driver: the same controllers with `system.slice/docker-ID.scope/`
- cgroup v2: `<root>/system.slice/docker-ID.scope/` or `<root>/docker/ID/`
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEFAULT_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PARENTS = ("docker/{id}", "system.slice/docker-{id}.scope")


@dataclass(frozen=True)
class CgroupSample:
    """One reading of a container's cgroup (numbers as the kernel reports them)."""

    version: Literal["v1", "v2"]
    read_monotonic_s: float
    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_stat: dict[str, int]
    memory_limit_bytes: int | None  # None: no limit set (the kernel's "max" or its huge default)
    cpu_quota_cpus: float | None  # the CFS quota as CPUs (what --cpus sets), None without one
    throttled_periods: int | None

    def memory_stats(self, host_memory_bytes: int) -> dict[str, object]:
        """The shape of the engine's `memory_stats`, so `stats.memory_without_cache` applies."""
        return {
            "usage": self.memory_usage_bytes,
            "stats": self.memory_stat,
            "limit": self.memory_limit_bytes or host_memory_bytes,
        }


@dataclass(frozen=True)
class _Dirs:
    version: Literal["v1", "v2"]
    memory: str
    cpuacct: str
    cpu: str


def host_memory_bytes() -> int:
    """MemTotal of this machine: what the engine reports as the limit of unlimited containers."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass  # no /proc: callers then see a limit of 0, i.e. "unknown"
    return 0


def _read(path: str) -> bytes | None:
    # os.open/os.read: a round reads hundreds of tiny files; pathlib and text decoding cost more
    # than the kernel's work for them
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_int(path: str) -> int | None:
    data = _read(path)
    if data is None:
        return None
    text = data.strip()
    return None if text == b"max" or not text else int(text)


def _read_keyed(path: str) -> dict[str, int]:
    """`key value` lines (memory.stat, cpu.stat) as a dict."""
    out: dict[str, int] = {}
    for line in (_read(path) or b"").splitlines():
        key, _, value = line.partition(b" ")
        if value.strip().lstrip(b"-").isdigit():
            out[key.decode()] = int(value)
    return out


@dataclass
class _Limits:
    read_at: float
    memory_limit_bytes: int | None
    cpu_quota_cpus: float | None


class CgroupReader:
    """Finds and reads the cgroup files of containers under `root` (default /sys/fs/cgroup).

    `root` is a parameter so tests (and unusual mounts) can point it elsewhere; an empty directory
    makes every `read` return None, which is how callers learn to use the engine's stats.
    Limits (memory limit, CPU quota) change only with `docker update`: they are re-read every
    `limits_max_age_s`, the counters on every read.
    """

    def __init__(self, root: Path | str = DEFAULT_CGROUP_ROOT, *, limits_max_age_s: float = 60.0) -> None:
        self.root = Path(root)
        self.unified = (self.root / "cgroup.controllers").exists()
        self.limits_max_age_s = limits_max_age_s
        self._dirs: dict[str, _Dirs | None] = {}
        self._limits: dict[str, _Limits] = {}
        self._host_memory = host_memory_bytes()
        # v1 reports "no limit" as a page-aligned number near 2**63; anything at or above the
        # host's memory limits nothing
        self._no_limit_from = self._host_memory or 2**62

    @property
    def host_memory(self) -> int:
        return self._host_memory

    def available(self, container_id: str) -> bool:
        """True when this container's cgroup files can be read here."""
        return self._locate(container_id) is not None

    def forget(self, container_id: str) -> None:
        """Drop the cached location and limits (the container was removed or restarted)."""
        self._dirs.pop(container_id, None)
        self._limits.pop(container_id, None)

    def _locate(self, container_id: str) -> _Dirs | None:
        if container_id in self._dirs:
            return self._dirs[container_id]
        found: _Dirs | None = None
        for parent in _PARENTS:
            rel = parent.format(id=container_id)
            if self.unified:
                base = str(self.root / rel)
                if os.path.exists(f"{base}/memory.current"):
                    found = _Dirs("v2", base, base, base)
                    break
            else:
                memory = str(self.root / "memory" / rel)
                if os.path.exists(f"{memory}/memory.usage_in_bytes"):
                    found = _Dirs(
                        "v1", memory, str(self.root / "cpuacct" / rel), str(self.root / "cpu" / rel)
                    )
                    break
        if found is not None:  # a miss is not cached: the container may just be starting
            self._dirs[container_id] = found
        return found

    def read(self, container_id: str, *, memory_detail: bool | None = True) -> CgroupSample | None:
        """The current numbers of one container, or None when its files are not visible here
        (or vanished: the container stopped). `memory_detail=False` skips memory.stat (the
        kernel's costliest file here: it is 2/3 of a round's cost); `memory_stat` is then empty,
        so the usage keeps its page cache. None reads it only for containers with a memory limit."""
        dirs = self._locate(container_id)
        if dirs is None:
            return None
        try:
            limits = self._limits.get(container_id)
            if limits is None or time.monotonic() - limits.read_at > self.limits_max_age_s:
                limits = self._limits[container_id] = self._read_limits(dirs)
            if memory_detail is None:
                memory_detail = limits.memory_limit_bytes is not None
            if dirs.version == "v2":
                return self._read_v2(dirs, limits, memory_detail)
            return self._read_v1(dirs, limits, memory_detail)
        except (OSError, ValueError):
            self.forget(container_id)  # stopped or removed between look-up and read
            return None

    def _limit(self, value: int | None) -> int | None:
        if value is None or value >= self._no_limit_from:
            return None
        return value

    def _read_limits(self, dirs: _Dirs) -> _Limits:
        if dirs.version == "v1":
            memory = _read_int(f"{dirs.memory}/memory.limit_in_bytes")
            quota = _read_int(f"{dirs.cpu}/cpu.cfs_quota_us")
            period = _read_int(f"{dirs.cpu}/cpu.cfs_period_us")
        else:
            memory = _read_int(f"{dirs.memory}/memory.max")
            quota_text, _, period_text = (_read(f"{dirs.cpu}/cpu.max") or b"max").strip().partition(b" ")
            quota = None if quota_text == b"max" else int(quota_text)
            period = int(period_text) if period_text else None
        return _Limits(
            read_at=time.monotonic(),
            memory_limit_bytes=self._limit(memory),
            cpu_quota_cpus=quota / period if quota and quota > 0 and period else None,
        )

    def _read_v1(self, dirs: _Dirs, limits: _Limits, memory_detail: bool) -> CgroupSample | None:
        usage = _read_int(f"{dirs.memory}/memory.usage_in_bytes")
        cpu_ns = _read_int(f"{dirs.cpuacct}/cpuacct.usage")
        if usage is None or cpu_ns is None:
            return None
        # throttling only happens under a quota: no quota, no cpu.stat to read
        throttled = _read_keyed(f"{dirs.cpu}/cpu.stat").get("nr_throttled") if limits.cpu_quota_cpus else 0
        return CgroupSample(
            version="v1",
            read_monotonic_s=time.monotonic(),
            cpu_usage_ns=cpu_ns,
            memory_usage_bytes=usage,
            memory_stat=_read_keyed(f"{dirs.memory}/memory.stat") if memory_detail else {},
            memory_limit_bytes=limits.memory_limit_bytes,
            cpu_quota_cpus=limits.cpu_quota_cpus,
            throttled_periods=throttled,
        )

    def _read_v2(self, dirs: _Dirs, limits: _Limits, memory_detail: bool) -> CgroupSample | None:
        usage = _read_int(f"{dirs.memory}/memory.current")
        cpu_stat = _read_keyed(f"{dirs.cpu}/cpu.stat")
        if usage is None or "usage_usec" not in cpu_stat:
            return None
        return CgroupSample(
            version="v2",
            read_monotonic_s=time.monotonic(),
            cpu_usage_ns=cpu_stat["usage_usec"] * 1000,
            memory_usage_bytes=usage,
            memory_stat=_read_keyed(f"{dirs.memory}/memory.stat") if memory_detail else {},
            memory_limit_bytes=limits.memory_limit_bytes,
            cpu_quota_cpus=limits.cpu_quota_cpus,
            throttled_periods=cpu_stat.get("nr_throttled"),
        )


def cgroup_cpu_percent(previous: CgroupSample, current: CgroupSample) -> float | None:
    """CPU % between two readings, 100 = one core (as `docker stats`: busy time over wall time)."""
    wall_s = current.read_monotonic_s - previous.read_monotonic_s
    used_ns = current.cpu_usage_ns - previous.cpu_usage_ns
    if wall_s <= 0 or used_ns < 0:
        return None  # same instant, or the counter reset (container restarted in place)
    return used_ns / (wall_s * 1e9) * 100.0


def online_cpus() -> int:
    """CPUs this machine has online (the engine's `online_cpus` for the host)."""
    return os.cpu_count() or 1
