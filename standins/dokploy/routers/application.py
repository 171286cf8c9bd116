"""`application.*` and `rollback.*` procedures. An application runs as swarm service `<appName>`."""

from __future__ import annotations

import contextlib
import shutil
from typing import Any

from .. import views
from ..errors import TRPCError, bad_request
from ..swarm import application_spec, deploy_service, remove_service, scale_service, service_logs
from ..world import World
from .base import VOID, Input, procedure, service_path

_READ_ONLY = {"applicationId", "appName"}


@procedure("application.create")
async def application_create(world: World, inp: Input) -> Any:
    world.db.environment(inp["environmentId"])
    return dict(world.db.add_application(inp))


@procedure("application.one")
async def application_one(world: World, inp: Input) -> Any:
    return views.application_one(world.db, world.db.application(inp["applicationId"]))


@procedure("application.update")
async def application_update(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    for key, value in inp.items():
        if key in row and key not in _READ_ONLY:
            row[key] = value
    return True


@procedure("application.saveDockerProvider")
async def application_save_docker(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    row.update(
        {
            "sourceType": "docker",
            "dockerImage": inp["dockerImage"],
            "username": inp["username"],
            "password": inp["password"],
            "registryUrl": inp["registryUrl"],
        }
    )
    return True


def _enqueue(world: World, inp: Input, type_: str) -> None:
    row = world.db.application(inp["applicationId"])
    default_title = "Manual deployment" if type_ == "deploy" else "Rebuild deployment"
    world.queue.add(
        "application",
        row["applicationId"],
        type_,
        inp.get("title") or default_title,
        inp.get("description") or "",
        service_path(world, "application", row),
    )


@procedure("application.deploy")
async def application_deploy(world: World, inp: Input) -> Any:
    _enqueue(world, inp, "deploy")
    return VOID


@procedure("application.redeploy")
async def application_redeploy(world: World, inp: Input) -> Any:
    _enqueue(world, inp, "redeploy")
    return VOID


@procedure("application.reload")
async def application_reload(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    await world.in_thread(deploy_service, world, application_spec(world, row))
    row["applicationStatus"] = "done"
    return True


@procedure("application.start")
async def application_start(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    before = views.application_nested(world.db, row)
    await world.in_thread(scale_service, world, row["appName"], 1)
    row["applicationStatus"] = "done"
    return before


@procedure("application.stop")
async def application_stop(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    before = views.application_nested(world.db, row)
    with contextlib.suppress(TRPCError):  # Dokploy's stop ignores a service that does not exist
        await world.in_thread(scale_service, world, row["appName"], 0)
    row["applicationStatus"] = "idle"
    return before


@procedure("application.readLogs")
async def application_read_logs(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    text = await world.in_thread(
        service_logs, world, row["appName"], int(inp.get("tail", 100)), inp.get("since", "all")
    )
    if inp.get("search"):
        text = "".join(
            line for line in text.splitlines(keepends=True) if inp["search"].lower() in line.lower()
        )
    return text


@procedure("application.delete")
async def application_delete(world: World, inp: Input) -> Any:
    row = world.db.application(inp["applicationId"])
    snapshot = views.application_nested(world.db, row)
    await world.in_thread(remove_service, world, row["appName"])
    world.queue.clean(row["applicationId"])
    await world.in_thread(shutil.rmtree, world.logs_dir(row["appName"]), True)
    world.db.delete_service("application", row)
    return snapshot


@procedure("application.cleanQueues")
async def application_clean_queues(world: World, inp: Input) -> Any:
    world.queue.clean(world.db.application(inp["applicationId"])["applicationId"])
    return VOID


@procedure("rollback.rollback")
async def rollback_rollback(world: World, inp: Input) -> Any:
    # rollbacks need a rollback registry; the stand-in has none, so every id is unknown
    raise bad_request("Error input: Rolling back")
