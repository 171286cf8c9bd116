"""Typed calls for compose stacks, their deployments and domains."""

from __future__ import annotations

from typing import Any, Literal

from mcp_server.dokploy._base import CallsDokploy, only_set
from mcp_server.dokploy.models import Compose, Deployment, Domain, QueuedDeployment


class ComposeAPI:
    async def compose_one(self: CallsDokploy, compose_id: str) -> Compose:
        """The compose row with its file, env (decrypted!), deployments and domains."""
        return Compose.model_validate(await self.call("compose.one", composeId=compose_id))

    async def compose_load_services(
        self: CallsDokploy, compose_id: str, source: Literal["cache", "fetch"] = "fetch"
    ) -> list[str]:
        """Service names of the compose file. `cache` reads the deployed copy (404 before a deploy)."""
        return list(await self.call("compose.loadServices", composeId=compose_id, type=source) or [])

    async def compose_deploy(
        self: CallsDokploy, compose_id: str, title: str | None = None, description: str | None = None
    ) -> QueuedDeployment:
        """Queue a deploy (re-fetch source, `docker compose up -d --build --remove-orphans`)."""
        body = await self.call(
            "compose.deploy", only_set(composeId=compose_id, title=title, description=description)
        )
        return QueuedDeployment.model_validate(body if isinstance(body, dict) else {"composeId": compose_id})

    async def compose_redeploy(
        self: CallsDokploy, compose_id: str, title: str | None = None, description: str | None = None
    ) -> QueuedDeployment:
        """Queue a redeploy (no git fetch; same `up` command; no notifications)."""
        body = await self.call(
            "compose.redeploy", only_set(composeId=compose_id, title=title, description=description)
        )
        return QueuedDeployment.model_validate(body if isinstance(body, dict) else {"composeId": compose_id})

    async def compose_start(self: CallsDokploy, compose_id: str) -> bool:
        """`docker compose up -d` (synchronous). Stack composes: a no-op in Docker."""
        return bool(await self.call("compose.start", composeId=compose_id))

    async def compose_stop(self: CallsDokploy, compose_id: str) -> bool:
        """`docker compose stop` (synchronous, can take tens of seconds). Stack: `docker stack rm`."""
        return bool(await self.call("compose.stop", composeId=compose_id))

    async def compose_update(self: CallsDokploy, compose_id: str, **fields: Any) -> Compose | None:
        """Change stored fields (composeFile, env, ...). Does not redeploy.

        Dokploy answers an empty 200 (None here) when the id does not exist.
        """
        body = await self.call("compose.update", {"composeId": compose_id, **fields})
        return Compose.model_validate(body) if isinstance(body, dict) else None

    async def compose_read_logs(
        self: CallsDokploy,
        compose_id: str,
        container_id: str,
        tail: int = 100,
        since: str = "all",
        search: str | None = None,
    ) -> str:
        """`docker container logs --timestamps` of one container of this compose, via Dokploy."""
        body = await self.call(
            "compose.readLogs",
            only_set(composeId=compose_id, containerId=container_id, tail=tail, since=since, search=search),
        )
        return str(body or "")

    async def deployments_by_compose(self: CallsDokploy, compose_id: str) -> list[Deployment]:
        """Deployment rows of a compose, newest first ([] for an unknown id)."""
        return [
            Deployment.model_validate(r)
            for r in await self.call("deployment.allByCompose", composeId=compose_id) or []
        ]

    async def deployment_logs(self: CallsDokploy, deployment_id: str, tail: int = 100) -> str:
        """The last `tail` lines of one deployment's build/deploy log."""
        return str(await self.call("deployment.readLogs", deploymentId=deployment_id, tail=tail) or "")

    async def deployment_queue(self: CallsDokploy) -> list[dict[str, Any]]:
        """Jobs waiting or running in Dokploy's in-memory deployment queue."""
        return list(await self.call("deployment.queueList") or [])

    async def domains_by_compose(self: CallsDokploy, compose_id: str) -> list[Domain]:
        return [
            Domain.model_validate(r)
            for r in await self.call("domain.byComposeId", composeId=compose_id) or []
        ]
