"""start_compose / stop_compose: through Dokploy, on Docker without it, the human's confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, state

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    return api.deployed_compose("power")


def containers(app: str) -> list[str]:
    return [f"{app}-api-1", f"{app}-db-1"]


async def test_stop_dry_run_shows_the_blast_radius_and_stops_nothing(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin)) as client:
        plan = await call(client, "stop_compose", {"app_name": app, "dry_run": True})
    assert plan["dry_run"] and plan["via"] == "dokploy" and plan["action"] == "stop"
    assert sorted(c["container"] for c in plan["containers"]) == containers(app)
    assert all(c["message"] == "would stop" for c in plan["containers"])
    assert plan["confirmation"].startswith(f"Stop compose project {app} on host local?")
    assert "2 services depend on it" in plan["confirmation"] and "api, db" in plan["confirmation"]
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]


async def test_stop_asks_a_human_and_a_no_stops_nothing(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    asked: list[str] = []
    async with act_client(make_settings(act_standin), human="decline", asked=asked) as client:
        refused = await call_error(client, "stop_compose", {"app_name": app})
        rows = await audit_rows(client)
    assert "a human declined stop" in refused and "Do not retry" in refused
    assert len(asked) == 1 and "depend on it" in asked[0] and "volumes and data are kept" in asked[0]
    assert [(r["tool"], r["result"], r["code"]) for r in rows] == [("stop_compose", "refused", "declined")]
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]


async def test_stop_then_start_through_dokploy(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    asked: list[str] = []
    async with act_client(make_settings(act_standin), human="accept", asked=asked) as client:
        stopped = await call(client, "stop_compose", {"app_name": app})
        assert api.compose(compose_id)["composeStatus"] == "idle"  # Dokploy did it
        assert [state(engine, n) for n in containers(app)] == ["exited", "exited"]
        started = await call(client, "start_compose", {"app_name": app})
        rows = await audit_rows(client)
    assert len(asked) == 1  # only stop is destructive
    assert stopped["ok"] and stopped["via"] == "dokploy"
    assert {(c["status_before"], c["status_after"]) for c in stopped["containers"]} == {("running", "exited")}
    assert started["ok"] and {c["status_after"] for c in started["containers"]} == {"running"}
    assert api.compose(compose_id)["composeStatus"] == "done"
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]
    assert [(r["tool"], r["action"], r["result"]) for r in rows] == [
        ("stop_compose", "stop", "ok"),
        ("start_compose", "start", "ok"),
    ]


async def test_without_dokploy_it_acts_on_docker(
    make_settings: Callable[..., Settings], shop: tuple[str, str], engine: docker.DockerClient
) -> None:
    _, app = shop
    async with act_client(make_settings(None), human="accept") as client:
        stopped = await call(client, "stop_compose", {"app_name": app})
        assert [state(engine, n) for n in containers(app)] == ["exited", "exited"]
        started = await call(client, "start_compose", {"app_name": app})
    assert stopped["via"] == "docker" and stopped["ok"] and started["ok"]
    assert [c["container"] for c in started["containers"]] == containers(app)
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]


async def test_read_only_mode_refuses(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin, safety={"mode": "read-only"})) as client:
        stop = await call_error(client, "stop_compose", {"app_name": app})
        start = await call_error(client, "start_compose", {"app_name": app})
    assert "stop needs operate mode" in stop and "start needs operate mode" in start
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]


async def test_protected_project_is_refused(
    make_settings: Callable[..., Settings], engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    project = f"{fx.PREFIX}-traefik-edge"
    name = f"{project}-proxy-1"
    make_container(
        name, labels={"com.docker.compose.project": project, "com.docker.compose.service": "proxy"}
    )
    async with act_client(make_settings(None, safety={"mode": "admin"})) as client:
        refused = await call_error(client, "stop_compose", {"app_name": project})
    assert "protected" in refused and "Traefik" in refused
    assert state(engine, name) == "running"


async def test_not_a_compose(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    app = api.create_application("power-app")["appName"]
    async with act_client(make_settings(act_standin)) as client:
        error = await call_error(client, "stop_compose", {"app_name": app})
    assert f"{app!r} is not a compose (type: application)" in error
