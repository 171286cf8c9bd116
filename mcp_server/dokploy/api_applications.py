"""Typed calls for applications (swarm services), their rollbacks, and the five database kinds."""

from __future__ import annotations

from typing import Any, TypeAlias

from mcp_server.dokploy._base import CallsDokploy, only_set
from mcp_server.dokploy.models import Application, Database, DatabaseKind, Deployment, Domain

# start/stop answer with the row Dokploy read BEFORE changing it: its status is the old one
# (stop on a running application says `done`, not `idle`); read `*_one` afterwards for the new one.
ApplicationBeforeChange: TypeAlias = Application
DatabaseBeforeChange: TypeAlias = Database


class ApplicationsAPI:
    async def application_one(self: CallsDokploy, application_id: str) -> Application:
        return Application.model_validate(await self.call("application.one", applicationId=application_id))

    async def application_deploy(
        self: CallsDokploy, application_id: str, title: str | None = None, description: str | None = None
    ) -> None:
        """Queue a deploy (clone or `docker pull`, build, update the swarm service)."""
        await self.call(
            "application.deploy", only_set(applicationId=application_id, title=title, description=description)
        )

    async def application_redeploy(
        self: CallsDokploy, application_id: str, title: str | None = None, description: str | None = None
    ) -> None:
        """Queue a rebuild from the existing code (no clone/pull) and update the service."""
        await self.call(
            "application.redeploy",
            only_set(applicationId=application_id, title=title, description=description),
        )

    async def application_start(self: CallsDokploy, application_id: str) -> ApplicationBeforeChange:
        """`docker service scale <appName>=1` (always 1). Returns the application AS IT WAS BEFORE the
        start (e.g. status still `idle`); call `application_one` for the status after it."""
        return Application.model_validate(await self.call("application.start", applicationId=application_id))

    async def application_stop(self: CallsDokploy, application_id: str) -> ApplicationBeforeChange:
        """`docker service scale <appName>=0`. Returns the application AS IT WAS BEFORE the stop
        (e.g. status still `done`); call `application_one` for the status after it."""
        return Application.model_validate(await self.call("application.stop", applicationId=application_id))

    async def application_reload(self: CallsDokploy, application_id: str, app_name: str) -> bool:
        """Re-apply the service spec from Dokploy's database (no build)."""
        return bool(await self.call("application.reload", applicationId=application_id, appName=app_name))

    async def application_update(self: CallsDokploy, application_id: str, **fields: Any) -> bool:
        """Change stored fields (memoryLimit, env, command, ...); applied at the next deploy/reload."""
        return bool(await self.call("application.update", {"applicationId": application_id, **fields}))

    async def application_read_logs(
        self: CallsDokploy,
        application_id: str,
        tail: int = 100,
        since: str = "all",
        search: str | None = None,
    ) -> str:
        body = await self.call(
            "application.readLogs",
            only_set(applicationId=application_id, tail=tail, since=since, search=search),
        )
        return str(body or "")

    async def deployments_by_application(self: CallsDokploy, application_id: str) -> list[Deployment]:
        """Deployment rows of an application, newest first."""
        return [
            Deployment.model_validate(r)
            for r in await self.call("deployment.all", applicationId=application_id) or []
        ]

    async def domains_by_application(self: CallsDokploy, application_id: str) -> list[Domain]:
        return [
            Domain.model_validate(r)
            for r in await self.call("domain.byApplicationId", applicationId=application_id) or []
        ]

    async def rollback_points(self: CallsDokploy, application_id: str) -> list[dict[str, Any]]:
        """Deployments of an application with their `rollback` row (None when no image was kept)."""
        return list(await self.call("deployment.allByType", id=application_id, type="application") or [])

    async def rollback(self: CallsDokploy, rollback_id: str) -> None:
        """Point the application's swarm service back at a stored image (applications only)."""
        await self.call("rollback.rollback", rollbackId=rollback_id)

    # -- databases: postgres, mysql, mariadb, mongo, redis -----------------------------------
    async def database_one(self: CallsDokploy, kind: DatabaseKind, database_id: str) -> Database:
        body = await self.call(f"{kind}.one", {f"{kind}Id": database_id})
        return Database.model_validate({**body, "kind": kind})

    async def database_start(
        self: CallsDokploy, kind: DatabaseKind, database_id: str
    ) -> DatabaseBeforeChange:
        """`docker service scale <appName>=1`. Returns the database AS IT WAS BEFORE the start;
        call `database_one` for the status after it."""
        body = await self.call(f"{kind}.start", {f"{kind}Id": database_id})
        return Database.model_validate({**body, "kind": kind})

    async def database_stop(self: CallsDokploy, kind: DatabaseKind, database_id: str) -> DatabaseBeforeChange:
        """`docker service scale <appName>=0`. Returns the database AS IT WAS BEFORE the stop (Dokploy
        answers 200 even when the service was never deployed); call `database_one` for the new status."""
        body = await self.call(f"{kind}.stop", {f"{kind}Id": database_id})
        return Database.model_validate({**body, "kind": kind})

    async def database_reload(
        self: CallsDokploy, kind: DatabaseKind, database_id: str, app_name: str
    ) -> bool:
        """Scale the database's service to 0 and back to 1."""
        return bool(await self.call(f"{kind}.reload", {f"{kind}Id": database_id, "appName": app_name}))
