"""Everything a tool needs, opened once per server process (the MCP lifespan).

The Docker host, the safety gate (policy, budgets, audit), the compose snapshot store, the
detector engine and — when configured — the Dokploy client. Dokploy is connected lazily: the
server starts and serves Docker-only tools even while Dokploy is down or not configured.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from mcp_server.detectors import DetectorEngine, dokploy_deployment_watches, dokploy_domain_specs
from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy import DokployClient, DokployError, SnapshotStore
from mcp_server.runbooks import RunbookLibrary
from mcp_server.safety import Safety
from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.server")


class DokployUnavailable(Exception):
    """Dokploy is not configured or not reachable; the message says which and what to do."""


@dataclass
class Services:
    settings: Settings
    docker: DockerHost
    safety: Safety
    snapshots: SnapshotStore
    runbooks: RunbookLibrary
    detectors: DetectorEngine | None = None
    _dokploy: DokployClient | None = None
    _dokploy_lock: anyio.Lock = field(default_factory=anyio.Lock)

    @property
    def host_name(self) -> str:
        return self.settings.docker_host_name

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
    async def open(cls, settings: Settings, *, run_detectors: bool = True) -> AsyncIterator[Services]:
        state = Path(settings.state_dir)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)  # noqa: ASYNC240 - once, at start-up
        docker = DockerHost(settings.docker_host)
        safety = Safety(settings.safety, state)
        snapshots = SnapshotStore(state / "snapshots.sqlite3")
        services = cls(
            settings=settings,
            docker=docker,
            safety=safety,
            snapshots=snapshots,
            runbooks=RunbookLibrary.load(settings.runbooks_dir),
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                if run_detectors:
                    services.detectors = services._detector_engine()
                    await stack.enter_async_context(services.detectors)
                yield services
        finally:
            if services._dokploy is not None:
                await services._dokploy.aclose()
            snapshots.close()
            safety.close()
            await docker.close()

    def _detector_engine(self) -> DetectorEngine:
        async def domains() -> list[Any]:
            client = await self.dokploy_or_none()
            if client is None:
                return []
            return await dokploy_domain_specs(client, await client.overview_services())

        async def deployments() -> list[Any]:
            client = await self.dokploy_or_none()
            if client is None:
                return []
            return dokploy_deployment_watches(client, await client.overview_services())

        return DetectorEngine(self.docker, self.settings.detectors, domains=domains, deployments=deployments)


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
