"""set_memory_limit on the real engine: live change + compose file / Dokploy setting, the gate's
raise/lower decision and bounds, the human's confirmation for lowering."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, memory_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
MIB = 1024**2


@pytest.fixture
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    """A fresh compose per test: each one changes limits."""
    return api.deployed_compose("memory")


async def test_dry_run_shows_old_and_new_limits_and_the_diff(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    before = api.compose(compose_id)["composeFile"]
    async with act_client(make_settings(act_standin)) as client:
        plan = await call(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "48m", "dry_run": True}
        )
    assert plan["dry_run"] and plan["action"] == "raise_memory" and plan["new_limit_bytes"] == 48 * MIB
    [row] = plan["containers"]
    assert (row["container"], row["old_limit"], row["new_limit"]) == (f"{app}-db-1", "32 MiB", "48 MiB")
    assert row["usage"] is not None and row["usage"].endswith(("KiB", "MiB"))
    assert plan["persisted"] and plan["persist_note"].startswith("compose file: mem_limit changed")
    assert "-    mem_limit: 32m\n" in plan["compose_diff"] and "+    mem_limit: 48m\n" in plan["compose_diff"]
    assert "hunter2" not in plan["compose_diff"]
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    assert api.compose(compose_id)["composeFile"] == before


async def test_raise_changes_the_container_now_and_the_compose_file(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    before = api.compose(compose_id)["composeFile"]
    started = engine.containers.get(f"{app}-db-1").attrs["State"]["StartedAt"]
    async with act_client(make_settings(act_standin)) as client:
        done = await call(client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "48m"})
        # the file was snapshotted first, so the change can be rolled back
        back = await call(client, "rollback", {"app_name": app, "dry_run": True})
    assert done["ok"] and done["persisted"] and "memory budget 1 of 3" in done["policy"]
    assert memory_of(engine, f"{app}-db-1") == 48 * MIB
    assert engine.containers.get(f"{app}-db-1").attrs["State"]["StartedAt"] == started  # no restart
    assert api.compose(compose_id)["composeFile"] == before.replace("mem_limit: 32m", "mem_limit: 48m")
    assert before.startswith("# act-tools test stack: keep this comment\n")
    assert "+    mem_limit: 32m\n" in back["compose_diff"]


async def test_operate_mode_bounds_and_lowering(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    before = api.compose(compose_id)["composeFile"]
    async with act_client(make_settings(act_standin)) as client:
        too_much = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "128m"}
        )
        lower = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "24m"}
        )
        first = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "api", "memory": "64m"}
        )
        same = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "32m"}
        )
        bad = await call_error(
            client, "set_memory_limit", {"app_name": app, "service": "db", "memory": "lots"}
        )
    assert "operate mode raises a limit to at most 64 MiB" in too_much
    # lowering a limit this server never raised is no undo (revert_memory, test_act_memory_revert.py)
    assert "no raise of db from 24 MiB to 32 MiB by this server" in lower
    assert "lower_memory, which needs admin mode and a human" in lower
    assert "lower_memory needs admin mode" in first  # a first limit is never an undo
    assert "already 32 MiB" in same and "is not a size" in bad
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB and memory_of(engine, f"{app}-api-1") == 0
    assert api.compose(compose_id)["composeFile"] == before


async def test_lowering_needs_a_human(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    args = {"app_name": app, "service": "db", "memory": "24m"}
    settings = make_settings(act_standin, safety={"mode": "admin"})
    asked: list[str] = []
    async with act_client(settings, human="decline", asked=asked) as client:
        declined = await call_error(client, "set_memory_limit", args)
    assert "a human declined lower_memory" in declined
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    async with act_client(settings, human="accept", asked=asked) as client:
        done = await call(client, "set_memory_limit", args)
        rows = await audit_rows(client)
    assert done["action"] == "lower_memory" and done["ok"]
    assert memory_of(engine, f"{app}-db-1") == 24 * MIB
    assert len(asked) == 2 and asked[0].startswith(f"Lower memory compose service db of project {app}")
    assert "1 service depends on it" in asked[0] and "api" in asked[0] and "32 MiB → 24 MiB" in asked[0]
    assert [(r["result"], r["code"]) for r in rows] == [("refused", "declined"), ("ok", "allowed")]
    assert rows[1]["arguments"]["new_limit_bytes"] == 24 * MIB


def task_container(engine: docker.DockerClient, service: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = engine.containers.list(filters={"label": f"com.docker.swarm.service.name={service}"})
        if found:
            return str(found[0].name)
        time.sleep(0.3)
    raise AssertionError(f"no running task of {service}")


async def test_application_live_limit_and_dokploy_memory_limit(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    engine: docker.DockerClient,
) -> None:
    app = api.create_application("memory-app", memory=str(64 * MIB), start=True)
    name = task_container(engine, app["appName"])
    assert memory_of(engine, name) == 64 * MIB
    args = {"app_name": app["appName"], "service": app["appName"], "memory": "96m"}
    async with act_client(make_settings(act_standin)) as client:
        done = await call(client, "set_memory_limit", args)
    assert done["ok"] and done["persisted"] and "next deploy" in done["persist_note"]
    assert memory_of(engine, name) == 96 * MIB
    one = api.get("application.one", applicationId=app["applicationId"])
    assert one["memoryLimit"] == str(96 * MIB)
