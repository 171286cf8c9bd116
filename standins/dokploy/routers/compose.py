"""`compose.*` procedures: rows in memory, deployments through the queue, the rest on Docker."""

from __future__ import annotations

import shutil
from typing import Any

from .. import views
from ..compose_files import ComposeFileError, convert_compose, load_compose, service_names
from ..compose_runner import box_command, remove_compose, start_compose, stop_compose
from ..docker_views import container_logs, mounts_of_service
from ..errors import internal, not_found
from ..world import World
from .base import VOID, Input, procedure, service_path

# columns compose.update may change (appName is dropped silently, as in Dokploy)
_READ_ONLY = {"composeId", "appName"}


@procedure("compose.create")
async def compose_create(world: World, inp: Input) -> Any:
    world.db.environment(inp["environmentId"])
    return dict(world.db.add_compose(inp))


@procedure("compose.one")
async def compose_one(world: World, inp: Input) -> Any:
    return views.compose_one(world.db, world.db.compose_row(inp["composeId"]))


@procedure("compose.update")
async def compose_update(world: World, inp: Input) -> Any:
    row = world.db.compose.get(inp["composeId"])
    if row is None:
        return VOID  # Dokploy updates zero rows and returns undefined: 200 with an empty body
    for key, value in inp.items():
        if key in row and key not in _READ_ONLY:
            row[key] = value
    return dict(row)


@procedure("compose.delete")
async def compose_delete(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    snapshot = views.compose_nested(world.db, row)
    await remove_compose(world, row, bool(inp["deleteVolumes"]))
    world.queue.clean(row["composeId"])
    await world.in_thread(shutil.rmtree, world.logs_dir(row["appName"]), True)
    world.db.delete_service("compose", row)
    return snapshot


def _enqueue(world: World, inp: Input, type_: str) -> dict[str, Any]:
    row = world.db.compose_row(inp["composeId"])
    default_title = "Manual deployment" if type_ == "deploy" else "Rebuild deployment"
    world.queue.add(
        "compose",
        row["composeId"],
        type_,
        inp.get("title") or default_title,
        inp.get("description") or "",
        service_path(world, "compose", row),
    )
    message = "Deployment queued" if type_ == "deploy" else "Redeployment queued"
    return {"success": True, "message": message, "composeId": row["composeId"]}


@procedure("compose.deploy")
async def compose_deploy(world: World, inp: Input) -> Any:
    return _enqueue(world, inp, "deploy")


@procedure("compose.redeploy")
async def compose_redeploy(world: World, inp: Input) -> Any:
    return _enqueue(world, inp, "redeploy")


@procedure("compose.stop")
async def compose_stop(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    await stop_compose(world, row)
    row["composeStatus"] = "idle"
    return True


@procedure("compose.start")
async def compose_start(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    await start_compose(world, row)
    row["composeStatus"] = "done"
    return True


@procedure("compose.loadServices")
async def compose_load_services(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    compose_file = world.code_dir(row["appName"]) / "docker-compose.yml"
    if inp.get("type") == "fetch" and row["sourceType"] == "raw":
        compose_file.parent.mkdir(parents=True, exist_ok=True)
        compose_file.write_text(row["composeFile"] or "", encoding="utf-8")
    if not compose_file.is_file():
        raise not_found("Services not found")
    try:
        names = service_names(compose_file.read_text(encoding="utf-8"))
    except ComposeFileError as exc:
        raise internal(str(exc)) from exc
    if not names:
        raise not_found("Services not found")
    return names


@procedure("compose.getConvertedCompose")
async def compose_converted(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    try:
        if load_compose(row["composeFile"] or "") is None:
            return "null\n"  # addDomainToCompose returns null for an empty file; YAML-stringified
        return convert_compose(row, world.db.domains_of(compose_id=row["composeId"]))
    except ComposeFileError as exc:
        raise internal(str(exc)) from exc


@procedure("compose.getDefaultCommand")
async def compose_default_command(world: World, inp: Input) -> Any:
    """Dokploy's `docker ${createCommand(compose)}`: the custom command, else compose up / stack deploy."""
    return f"docker {box_command(world.db.compose_row(inp['composeId']))}"


@procedure("compose.readLogs")
async def compose_read_logs(world: World, inp: Input) -> Any:
    world.db.compose_row(inp["composeId"])
    return await world.in_thread(
        container_logs,
        world,
        inp["containerId"],
        int(inp.get("tail", 100)),
        inp.get("since", "all"),
        inp.get("search"),
    )


@procedure("compose.loadMountsByService")
async def compose_mounts(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    return await world.in_thread(mounts_of_service, world, row["appName"], inp["serviceName"])


@procedure("compose.cleanQueues")
async def compose_clean_queues(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    world.queue.clean(row["composeId"])
    return {"success": True, "message": "Queues cleaned successfully"}


@procedure("compose.clearDeployments")
async def compose_clear_deployments(world: World, inp: Input) -> Any:
    row = world.db.compose_row(inp["composeId"])
    await world.in_thread(shutil.rmtree, world.logs_dir(row["appName"]), True)
    return True
