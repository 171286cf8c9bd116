"""What the watcher's detectors learn from Dokploy: the domains to probe and the deployments to
follow. Dokploy is connected on first use and retried on every call while it is down or not
configured (then the detectors simply get no domains and no deployments)."""

from __future__ import annotations

import logging

import anyio

from mcp_server.detectors import DeploymentWatch, DomainSpec, dokploy_deployment_watches, dokploy_domain_specs
from mcp_server.dokploy import DokployClient, DokployError
from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.watcher")


class DokployInputs:
    """Domain and deployment providers for one DetectorEngine, backed by its own Dokploy client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: DokployClient | None = None
        self._lock = anyio.Lock()

    async def client(self) -> DokployClient | None:
        """The Dokploy client, or None when Dokploy is not configured or not reachable now."""
        if not self.settings.dokploy_configured:
            return None
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await DokployClient.from_settings(self.settings)
                except DokployError as exc:
                    log.debug("Dokploy is not reachable for the detectors: %s", exc)
                    return None
        return self._client

    async def domains(self) -> list[DomainSpec]:
        client = await self.client()
        if client is None:
            return []
        return await dokploy_domain_specs(client, await client.overview_services())

    async def deployments(self) -> list[DeploymentWatch]:
        client = await self.client()
        if client is None:
            return []
        return dokploy_deployment_watches(client, await client.overview_services())

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
