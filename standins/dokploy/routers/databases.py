"""`postgres|mysql|mariadb|mongo|redis.*`: one row each, a swarm service `<appName>` when deployed.

`deploy` runs synchronously inside the request like Dokploy's: `docker pull` (fails offline), then
the service. Tests seed a running database with `StandIn.seed_database` instead.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .. import views
from ..errors import TRPCError, internal
from ..state import DB_KINDS, Row
from ..swarm import database_spec, deploy_service, pull_image, remove_service, scale_service, service_logs
from ..world import World
from .base import Input, procedure

_READ_ONLY_SUFFIX = ("Id",)


async def start_database_service(world: World, kind: str, row: Row) -> None:
    """Create or update the database's swarm service from its row and mark it `done`."""
    await world.in_thread(deploy_service, world, database_spec(world, kind, row))
    row["applicationStatus"] = "done"


def _register(kind: str) -> None:
    id_key = f"{kind}Id"

    @procedure(f"{kind}.create")
    async def create(world: World, inp: Input) -> Any:
        world.db.environment(inp["environmentId"])
        return dict(world.db.add_database(kind, inp))

    @procedure(f"{kind}.one")
    async def one(world: World, inp: Input) -> Any:
        return views.database_nested(world.db, kind, world.db.database(kind, inp[id_key]))

    @procedure(f"{kind}.deploy")
    async def deploy(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        before = dict(row)
        row["applicationStatus"] = "running"
        error = await world.in_thread(pull_image, world, row["dockerImage"])
        if error is not None:
            row["applicationStatus"] = "error"
            raise internal(f"Error on deploy {kind}Error: {error}")
        await start_database_service(world, kind, row)
        return before

    @procedure(f"{kind}.start")
    async def start(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        before = dict(row)
        await world.in_thread(scale_service, world, row["appName"], 1)
        row["applicationStatus"] = "done"
        return before

    @procedure(f"{kind}.stop")
    async def stop(world: World, inp: Input) -> Any:
        """The row as find<Db>ById read it; Dokploy's stopService logs a docker error and carries on."""
        row = world.db.database(kind, inp[id_key])
        before = views.database_nested(world.db, kind, row)
        with contextlib.suppress(TRPCError):  # e.g. never deployed: `service <appName> not found`
            await world.in_thread(scale_service, world, row["appName"], 0)
        row["applicationStatus"] = "idle"
        return before

    @procedure(f"{kind}.reload")
    async def reload(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        await world.in_thread(scale_service, world, row["appName"], 0)
        await world.in_thread(scale_service, world, row["appName"], 1)
        row["applicationStatus"] = "done"
        return True

    @procedure(f"{kind}.remove")
    async def remove(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        snapshot = views.database_nested(world.db, kind, row)  # find<Db>ById, read before the delete
        with contextlib.suppress(TRPCError):
            await world.in_thread(remove_service, world, row["appName"])
        world.db.delete_service(kind, row)
        return snapshot

    @procedure(f"{kind}.update")
    async def update(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        for key, value in inp.items():
            if key in row and key not in (id_key, "appName"):
                row[key] = value
        return True

    @procedure(f"{kind}.readLogs")
    async def read_logs(world: World, inp: Input) -> Any:
        row = world.db.database(kind, inp[id_key])
        return await world.in_thread(
            service_logs, world, row["appName"], int(inp.get("tail", 100)), inp.get("since", "all")
        )


for _kind in DB_KINDS:
    _register(_kind)
