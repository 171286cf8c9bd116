"""Everything a tool needs, opened once per server process (the MCP lifespan).

The Docker host, the safety gate (policy, budgets, audit), the compose snapshot store, the
signals the host's watcher keeps in the state store and — when configured — the Dokploy client.
Dokploy is connected lazily: the server starts and serves Docker-only tools even while Dokploy is
down or not configured. The detectors themselves run in the watcher (mcp_server/watcher), not here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy import DokployClient, DokployError, SnapshotStore
from mcp_server.runbooks import RunbookLibrary
from mcp_server.safety import Safety
from mcp_server.server.hosts import HostRef, configured_hosts, open_hosts, pick_host
from mcp_server.settings import Settings
from mcp_server.watcher import ProcessWatcher, SignalReader, SqliteSignalStore, host_key

log = logging.getLogger("infraguardian.server")


class DokployUnavailable(Exception):
    """Dokploy is not configured or not reachable; the message says which and what to do."""


@dataclass
class Services:
    settings: Settings
    hosts: dict[str, DockerHost]  # by name; the default is settings.docker_host_name
    safety: Safety
    snapshots: SnapshotStore
    runbooks: RunbookLibrary
    # the default host's signals as its watcher stored them (whichever process runs the detectors)
    detectors: SignalReader | None = None
    # this process's watcher (None: detectors off): stats_history reads its sampler's history
    watcher: ProcessWatcher | None = None
    host_refs: dict[str, HostRef] = field(default_factory=dict)  # name → engine URL, Dokploy serverId
    _dokploy: DokployClient | None = None
    _dokploy_lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def host_name(self) -> str:
        """The default Docker host's name (the local engine)."""
        return self.settings.docker_host_name

    def host(self, name: str | None = None) -> DockerHost:
        """The Docker host called `name` (None: the default); UnknownHost names the known ones."""
        return pick_host(self.hosts, name, self.host_name)

    async def dokploy(self) -> DokployClient:
        """The Dokploy client, connected on first use (raises DokployUnavailable with the reason)."""
        if self._dokploy is not None:
            return self._dokploy
        if not self.settings.dokploy_configured:
            raise DokployUnavailable(
                "Dokploy is not configured on this server (DOKPLOY_URL / DOKPLOY_API_KEY); "
                "Docker-level tools still work"
            )
        async with self._dokploy_lock:
            if self._dokploy is None:
                try:
                    self._dokploy = await DokployClient.from_settings(self.settings)
                except DokployError as exc:
                    raise DokployUnavailable(f"Dokploy is not reachable: {exc}") from None
        return self._dokploy

    async def dokploy_or_none(self) -> DokployClient | None:
        try:
            return await self.dokploy()
        except DokployUnavailable:
            return None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Services]:
        state = Path(settings.state_dir)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)  # noqa: ASYNC240 - once, at start-up
        refs = configured_hosts(settings)
        hosts = open_hosts(refs)
        safety = Safety(settings.safety, state)
        snapshots = SnapshotStore(state / "snapshots.sqlite3")
        signals = SqliteSignalStore.in_state_dir(state)
        services = cls(
            settings=settings,
            hosts=hosts,
            host_refs={ref.name: ref for ref in refs},
            safety=safety,
            snapshots=snapshots,
            runbooks=RunbookLibrary.load(settings.runbooks_dir),
            detectors=SignalReader(signals, host_key(settings)),
        )
        try:
            yield services
        finally:
            if services._dokploy is not None:
                await services._dokploy.aclose()
            signals.close()
            snapshots.close()
            safety.close()
            for host in hosts.values():
                await host.close()


class LiveServices:
    """The Services of the running lifespan(s), for handlers that get no Context (static resources).

    SSE enters the lifespan once per connection, so several can be live; any of them will do,
    they share the settings and the state files."""

    def __init__(self) -> None:
        self._stack: list[Services] = []

    def push(self, svc: Services) -> None:
        self._stack.append(svc)

    def pop(self, svc: Services) -> None:
        self._stack.remove(svc)

    def get(self) -> Services:
        if not self._stack:
            raise RuntimeError("the server is not running (no lifespan entered)")
        return self._stack[-1]
