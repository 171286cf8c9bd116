"""`settings.*`, `server.*`, `overview.*`, `user.get` and the other small read-only procedures."""

from __future__ import annotations

from typing import Any

from .. import views
from ..state import template
from ..world import World
from .base import Input, procedure


@procedure("settings.health")
async def health(world: World, inp: Input) -> Any:
    return {"status": "ok"}


@procedure("settings.getDokployVersion")
async def version(world: World, inp: Input) -> Any:
    return world.config.version


@procedure("settings.getOpenApiDocument")
async def openapi_document(world: World, inp: Input) -> Any:
    return world.openapi_document()


@procedure("settings.isCloud")
async def is_cloud(world: World, inp: Input) -> Any:
    return False


@procedure("settings.getWebServerSettings")
async def web_server_settings(world: World, inp: Input) -> Any:
    row = template("web_server_settings")
    row["createdAt"] = row["updatedAt"] = world.db.created_at
    return row


@procedure("server.all")
async def server_all(world: World, inp: Input) -> Any:
    return []  # the stand-in has no remote servers


@procedure("overview.services")
async def overview_services(world: World, inp: Input) -> Any:
    return views.overview_services(world.db)


@procedure("overview.domains")
async def overview_domains(world: World, inp: Input) -> Any:
    return views.overview_domains(world.db)


@procedure("overview.backups")
async def overview_backups(world: World, inp: Input) -> Any:
    return []


@procedure("notification.all")
async def notification_all(world: World, inp: Input) -> Any:
    return []


def _member(world: World) -> dict[str, Any]:
    db = world.db
    member = {key: value for key, value in template("user_get").items() if key != "user"}
    member.update(
        {
            "id": db.member_id,
            "organizationId": db.organization_id,
            "userId": db.user_id,
            "createdAt": db.created_at,
            "accessedProjects": list(db.projects),
            "accessedEnvironments": list(db.environments),
            "accessedServices": [*db.compose, *db.applications],
        }
    )
    return member


@procedure("user.get")
async def user_get(world: World, inp: Input) -> Any:
    user = template("user_get")["user"]
    user.update(
        {
            "id": world.db.user_id,
            "apiKeys": [
                {
                    "id": "standin-api-key",
                    "name": "agent",
                    "prefix": None,
                    "enabled": True,
                    "expiresAt": None,
                    "createdAt": world.db.created_at,
                }
            ],
        }
    )
    return {**_member(world), "user": user}


@procedure("organization.all")
async def organization_all(world: World, inp: Input) -> Any:
    org = template("organization")
    org.update(
        {
            "id": world.db.organization_id,
            "createdAt": world.db.created_at,
            "ownerId": world.db.user_id,
            "members": [_member(world)],
        }
    )
    return [org]
