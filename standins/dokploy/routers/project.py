"""`project.*` and `environment.*` procedures."""

from __future__ import annotations

from typing import Any

from .. import views
from ..errors import bad_request
from ..state import DB_KINDS
from ..world import World
from .base import Input, procedure


@procedure("project.create")
async def project_create(world: World, inp: Input) -> Any:
    project, environment = world.db.add_project(inp["name"], inp.get("description"), inp.get("env", ""))
    return {"project": dict(project), "environment": dict(environment)}


@procedure("project.one")
async def project_one(world: World, inp: Input) -> Any:
    return views.project_one(world.db, world.db.project(inp["projectId"]))


@procedure("project.all")
async def project_all(world: World, inp: Input) -> Any:
    return views.project_all(world.db)


@procedure("project.remove")
async def project_remove(world: World, inp: Input) -> Any:
    # DB only: containers, swarm services and files are orphaned, exactly like Dokploy
    project = dict(world.db.project(inp["projectId"]))
    world.db.delete_project(project["projectId"])
    return project


@procedure("project.update")
async def project_update(world: World, inp: Input) -> Any:
    project = world.db.project(inp["projectId"])
    for key in ("name", "description", "env"):
        if key in inp:
            project[key] = inp[key]
    return dict(project)


@procedure("project.search")
async def project_search(world: World, inp: Input) -> Any:
    def matches(row: dict[str, Any]) -> bool:
        text_q = (inp.get("q") or "").lower()
        if text_q and text_q not in row["name"].lower() and text_q not in (row["description"] or "").lower():
            return False
        if inp.get("name") and inp["name"].lower() not in row["name"].lower():
            return False
        return not (
            inp.get("description") and inp["description"].lower() not in (row["description"] or "").lower()
        )

    found = [dict(p) for p in reversed(list(world.db.projects.values())) if matches(p)]
    offset, limit = int(inp.get("offset", 0)), int(inp.get("limit", 20))
    return {"items": found[offset : offset + limit], "total": len(found)}


@procedure("project.homeStats")
async def project_home_stats(world: World, inp: Input) -> Any:
    db = world.db
    statuses = [a["applicationStatus"] for a in db.applications.values()]
    statuses += [c["composeStatus"] for c in db.compose.values()]
    databases = sum(len(db.databases[k]) for k in DB_KINDS)
    statuses += [r["applicationStatus"] for k in DB_KINDS for r in db.databases[k].values()]
    return {
        "projects": len(db.projects),
        "environments": len(db.environments),
        "applications": len(db.applications),
        "compose": len(db.compose),
        "databases": databases,
        "services": len(statuses),
        "status": {
            "running": statuses.count("done"),
            "error": statuses.count("error"),
            "idle": statuses.count("idle"),
        },
    }


@procedure("environment.create")
async def environment_create(world: World, inp: Input) -> Any:
    if inp["name"].strip().lower() == "production":
        raise bad_request("You cannot create a environment with the name 'production'")
    world.db.project(inp["projectId"])
    return dict(world.db.add_environment(inp["projectId"], inp["name"], inp.get("description"), False))


@procedure("environment.one")
async def environment_one(world: World, inp: Input) -> Any:
    return views.environment_one(world.db, world.db.environment(inp["environmentId"]))


@procedure("environment.byProjectId")
async def environment_by_project(world: World, inp: Input) -> Any:
    return views.environments_by_project(world.db, inp["projectId"])


@procedure("environment.remove")
async def environment_remove(world: World, inp: Input) -> Any:
    env = world.db.environment(inp["environmentId"])
    if env["isDefault"]:
        raise bad_request("You cannot delete the default environment")
    if any(world.db.services_in(env["environmentId"]).values()):
        raise bad_request("Cannot delete environment: it has active services. Delete all services first")
    world.db.delete_environment(env["environmentId"])
    return dict(env)
