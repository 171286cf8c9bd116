"""`deployment.*` procedures (rows, logs, the in-memory queue)."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

from .. import views
from ..errors import bad_request
from ..world import World
from .base import Input, procedure


@procedure("deployment.all")
async def deployment_all(world: World, inp: Input) -> Any:
    return [dict(d) for d in reversed(world.db.deployments_of(application_id=inp["applicationId"]))]


@procedure("deployment.allByCompose")
async def deployment_all_by_compose(world: World, inp: Input) -> Any:
    return [dict(d) for d in reversed(world.db.deployments_of(compose_id=inp["composeId"]))]


@procedure("deployment.allByType")
async def deployment_all_by_type(world: World, inp: Input) -> Any:
    key = {"application": "applicationId", "compose": "composeId"}.get(inp["type"])
    rows = [d for d in world.db.deployments.values() if key and d[key] == inp["id"]]
    return [{**d, "rollback": None} for d in reversed(rows)]


@procedure("deployment.allCentralized")
async def deployment_all_centralized(world: World, inp: Input) -> Any:
    rows = [d for d in world.db.deployments.values() if d["composeId"] or d["applicationId"]]
    return [views.deployment_centralized(world.db, d) for d in reversed(rows)]


@procedure("deployment.queueList")
async def deployment_queue_list(world: World, inp: Input) -> Any:
    return world.queue.items()


def _tail(path: Path, lines: int) -> str:
    """`tail -n <lines> <file>` ("" when the file is gone)."""
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError:
        return ""


@procedure("deployment.readLogs")
async def deployment_read_logs(world: World, inp: Input) -> Any:
    deployment = world.db.deployment(inp["deploymentId"])
    if not deployment["logPath"]:
        return ""
    return await world.in_thread(_tail, Path(deployment["logPath"]), int(inp.get("tail", 100)))


@procedure("deployment.removeDeployment")
async def deployment_remove(world: World, inp: Input) -> Any:
    deployment = world.db.deployment(inp["deploymentId"])
    del world.db.deployments[deployment["deploymentId"]]
    if deployment["logPath"]:
        await world.in_thread(Path(deployment["logPath"]).unlink, missing_ok=True)
    return dict(deployment)


@procedure("deployment.killProcess")
async def deployment_kill_process(world: World, inp: Input) -> Any:
    world.db.deployment(inp["deploymentId"])
    # only schedule runs record a pid; compose/application deployments never do, so Dokploy refuses
    # even while they run (the stand-in has no schedules)
    raise bad_request("Deployment is not running")
