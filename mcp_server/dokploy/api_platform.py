"""Typed calls for the platform: projects, environments, inventory, Docker, settings, servers."""

from __future__ import annotations

from typing import Any, Literal

from mcp_server.dokploy._base import CallsDokploy, only_set
from mcp_server.dokploy.models import (
    DockerContainer,
    DockerEvents,
    Environment,
    OverviewService,
    Project,
    Server,
)


class PlatformAPI:
    async def project_all(self: CallsDokploy) -> list[Project]:
        """Projects with environments and service ids (no appNames: use `overview_services`)."""
        return [Project.model_validate(p) for p in await self.call("project.all") or []]

    async def project_one(self: CallsDokploy, project_id: str) -> Project:
        return Project.model_validate(await self.call("project.one", projectId=project_id))

    async def project_create(
        self: CallsDokploy, name: str, description: str | None = None
    ) -> tuple[Project, Environment]:
        """Create a project; Dokploy also creates its default environment `production`."""
        body = await self.call("project.create", only_set(name=name, description=description))
        return Project.model_validate(body["project"]), Environment.model_validate(body["environment"])

    async def environment_one(self: CallsDokploy, environment_id: str) -> Environment:
        return Environment.model_validate(await self.call("environment.one", environmentId=environment_id))

    async def environments_by_project(self: CallsDokploy, project_id: str) -> list[Environment]:
        """Environments with their services including appNames ([] for an unknown project)."""
        return [
            Environment.model_validate(r)
            for r in await self.call("environment.byProjectId", projectId=project_id) or []
        ]

    async def overview_services(self: CallsDokploy) -> list[OverviewService]:
        """Every service of the organization with its type, appName, status and project."""
        return [OverviewService.model_validate(r) for r in await self.call("overview.services") or []]

    async def docker_containers(self: CallsDokploy, server_id: str | None = None) -> list[DockerContainer]:
        """Containers Dokploy sees (`docker ps -a`, minus Dokploy's own), placeholder row dropped."""
        rows = [
            DockerContainer.model_validate(r)
            for r in await self.call("docker.getContainers", only_set(serverId=server_id)) or []
        ]
        return [r for r in rows if not r.is_placeholder]

    async def docker_containers_by_app(
        self: CallsDokploy,
        app_name: str,
        app_type: Literal["docker-compose", "stack"] | None = None,
        server_id: str | None = None,
    ) -> list[dict[str, Any]]:
        body = await self.call(
            "docker.getContainersByAppNameMatch",
            only_set(appName=app_name, appType=app_type, serverId=server_id),
        )
        return list(body or [])

    async def docker_container_config(
        self: CallsDokploy, container_id: str, server_id: str | None = None
    ) -> dict[str, Any] | None:
        """`docker inspect` of a container (None when Dokploy answers an empty body)."""
        body = await self.call("docker.getConfig", only_set(containerId=container_id, serverId=server_id))
        return body if isinstance(body, dict) else None

    async def docker_restart_container(
        self: CallsDokploy, container_id: str, server_id: str | None = None
    ) -> None:
        """`docker container restart` (synchronous; waits for the stop timeout)."""
        await self.call("docker.restartContainer", only_set(containerId=container_id, serverId=server_id))

    async def docker_events(
        self: CallsDokploy, minutes: int = 15, server_id: str | None = None
    ) -> DockerEvents:
        body = await self.call("docker.getEvents", only_set(minutes=minutes, serverId=server_id))
        return DockerEvents.model_validate(body or {})

    async def docker_server_health(self: CallsDokploy, server_id: str | None = None) -> dict[str, Any]:
        return dict(await self.call("docker.getServerHealth", only_set(serverId=server_id)) or {})

    async def validate_domain(
        self: CallsDokploy, domain: str, server_ip: str | None = None
    ) -> dict[str, Any]:
        """DNS check of a domain as Dokploy sees it: `{isValid, resolvedIp?, error?, cdnProvider?}`."""
        return dict(
            await self.call("domain.validateDomain", only_set(domain=domain, serverIp=server_ip)) or {}
        )

    async def health(self: CallsDokploy) -> dict[str, Any]:
        """`{"status":"ok"}` when Dokploy and its database answer (needs the API key)."""
        return dict(await self.call("settings.health") or {})

    async def version(self: CallsDokploy) -> str:
        return str(await self.call("settings.getDokployVersion"))

    async def servers(self: CallsDokploy) -> list[Server]:
        """Remote servers Dokploy deploys to ([] when everything runs on the Dokploy host)."""
        return [Server.model_validate(r) for r in await self.call("server.all") or []]
