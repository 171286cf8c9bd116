"""What the watcher's detectors learn from Dokploy: the domains to probe and the deployments to
follow. Dokploy is connected on first use and retried on every call while it is down or not
configured (then the detectors simply get no domains and no deployments).

Following a compose's deployments, the watcher also keeps each deployed version of its file and env
as a compose snapshot (when it first sees the compose, and after each new successful deployment):
Dokploy keeps no history of a compose, so without this a deploy made in Dokploy's UI or API (not
through InfraGuardian) could never be rolled back."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import anyio

from mcp_server.detectors import DeploymentWatch, DomainSpec, dokploy_deployment_watches, dokploy_domain_specs
from mcp_server.dokploy import DokployClient, DokployError, SnapshotStore, snapshot_compose
from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.watcher")


class DokployInputs:
    """Domain and deployment providers for one DetectorEngine, backed by its own Dokploy client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: DokployClient | None = None
        self._lock = anyio.Lock()
        self._snapshots: SnapshotStore | None = None
        self._kept: dict[str, str] = {}  # compose id -> the deployment whose version is snapshotted

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
        watches = dokploy_deployment_watches(client, await client.overview_services())
        return [self._keeping_versions(client, w) if w.kind == "compose" else w for w in watches]

    def _keeping_versions(self, client: DokployClient, watch: DeploymentWatch) -> DeploymentWatch:
        """The watch, its fetch also snapshotting the compose's deployed version when it is new."""
        fetch = watch.fetch

        async def fetch_and_keep() -> Any:
            rows = await fetch()
            await self.keep_deployed_version(client, watch.dokploy_id, rows)
            return rows

        return dataclasses.replace(watch, fetch=fetch_and_keep)

    async def keep_deployed_version(self, client: Any, compose_id: str, rows: Any) -> None:
        """Snapshot the compose's file and env when its newest successful deployment is one not
        kept yet (the first time it is seen, too). Not while a deployment runs: the file in Dokploy
        may already be the next version. A failure is logged and retried on the next poll."""
        done = [r for r in rows if _field(r, "status") == "done"]
        if not done or any(_field(r, "status") == "running" for r in rows):
            return
        newest = str(_field(max(done, key=lambda r: str(_field(r, "created_at") or "")), "deployment_id"))
        if self._kept.get(compose_id) == newest:
            return
        try:
            if self._snapshots is None:
                self._snapshots = SnapshotStore(Path(self.settings.state_dir) / "snapshots.sqlite3")
            await snapshot_compose(client, self._snapshots, compose_id, reason=f"deployed ({newest})")
        except Exception as exc:  # the snapshot is a rollback point; its absence must not stop the watch
            log.warning(
                "compose %s: deployed version not snapshotted: %s: %s", compose_id, type(exc).__name__, exc
            )
            return
        self._kept[compose_id] = newest

    async def aclose(self) -> None:
        if self._snapshots is not None:
            self._snapshots.close()
            self._snapshots = None
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _field(row: Any, name: str) -> Any:
    """A field of a deployment row: a Deployment model or Dokploy's JSON (camelCase)."""
    if isinstance(row, dict):
        camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
        return row.get(camel, row.get(name))
    return getattr(row, name, None)
