"""rollback: compose rollback from InfraGuardian's snapshots (and its undo); application rollback
points; dry-run diffs without secrets; policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
FAST = {"deploy": fx.NO_BACKOFF, "rollback": fx.NO_BACKOFF}
V1_ENV = "A=1\nSECRET_TOKEN=abc123xyz\n"
V2_ENV = "A=2\nB=3\n"


def command_of(engine: docker.DockerClient, name: str) -> list[str]:
    return list(engine.containers.get(name).attrs["Config"]["Cmd"])


async def test_compose_rollback_restores_the_previous_version_and_can_be_undone(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    engine: docker.DockerClient,
) -> None:
    v1, v2 = fx.compose_yaml(command="sleep 3600"), fx.compose_yaml(command="sleep 3601")
    compose_id, app = api.create_compose("rollback", v1, env=V1_ENV)
    settings = make_settings(act_standin, safety={"budgets": FAST})
    async with act_client(settings) as client:
        await call(client, "deploy", {"app_name": app})  # snapshot of v1, then v1 runs
        api.post("compose.update", {"composeId": compose_id, "composeFile": v2, "env": V2_ENV})
        await call(client, "deploy", {"app_name": app})  # snapshot of v2, then v2 runs
        assert command_of(engine, f"{app}-api-1") == ["sh", "-c", "sleep 3601"]

        plan = await call(client, "rollback", {"app_name": app, "dry_run": True})
        assert api.compose(compose_id)["composeFile"] == v2  # the dry run changed nothing
        async with act_client(make_settings(act_standin, safety={"mode": "read-only"})) as read_only:
            refused = await call_error(read_only, "rollback", {"app_name": app})

        done = await call(client, "rollback", {"app_name": app})
        back = api.compose(compose_id)
        assert (back["composeFile"], back["env"]) == (v1, V1_ENV)
        assert command_of(engine, f"{app}-api-1") == ["sh", "-c", "sleep 3600"]

        undone = await call(client, "rollback", {"app_name": app})
        rows = await audit_rows(client)
    assert plan["dry_run"] and plan["kind"] == "compose" and plan["rollback_to"].startswith("snapshot 1 ")
    diff = plan["compose_diff"]
    assert "-    - sleep 3601\n" in diff and "+    - sleep 3600\n" in diff
    assert plan["env_changes"] == {"added": ["SECRET_TOKEN"], "removed": ["B"], "changed": ["A"]}
    assert "abc123xyz" not in json.dumps(plan) and "hunter2" not in json.dumps(plan)
    assert "rollback needs operate mode" in refused
    assert done["ok"] and done["status"] == "done" and isinstance(done["undo_snapshot_id"], int)
    assert undone["ok"] and undone["rollback_to"].startswith(f"snapshot {done['undo_snapshot_id']} from ")
    assert (api.compose(compose_id)["composeFile"], api.compose(compose_id)["env"]) == (v2, V2_ENV)
    assert [(r["tool"], r["result"]) for r in rows] == [
        ("deploy", "ok"),
        ("deploy", "ok"),
        ("rollback", "dry_run"),
        ("rollback", "refused"),  # the read-only server shares the state dir, so the audit log
        ("rollback", "ok"),
        ("rollback", "ok"),
    ]


async def test_compose_without_an_earlier_version(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    _, app = api.deployed_compose("rollback-none")
    async with act_client(make_settings(act_standin)) as client:
        error = await call_error(client, "rollback", {"app_name": app, "dry_run": True})
        rows = await audit_rows(client)
    assert f"no earlier version of {app!r} is stored" in error
    # nothing was attempted, and the failed call is still audited
    assert [(r["tool"], r["result"], r["allowed"]) for r in rows] == [("rollback", "error", False)]


async def test_application_without_a_rollback_point(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    app = api.create_application("rollback-app")["appName"]
    async with act_client(make_settings(act_standin)) as client:
        error = await call_error(client, "rollback", {"app_name": app})
    assert f"no rollback point for {app!r}" in error and "rollback registry" in error
