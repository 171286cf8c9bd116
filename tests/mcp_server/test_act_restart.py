"""restart_service against the stand-in and the real engine: plan, restart, budgets, policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, started_at, state

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> str:
    return api.deployed_compose("restart")[1]


async def test_dry_run_returns_the_exact_plan_and_changes_nothing(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    names = [f"{shop}-db-1"]
    before = [started_at(engine, n) for n in names]
    async with act_client(make_settings(act_standin)) as client:
        plan = await call(client, "restart_service", {"app_name": shop, "service": "db", "dry_run": True})
        rows = await audit_rows(client)
    assert plan["dry_run"] and plan["ok"]
    assert [c["container"] for c in plan["containers"]] == names
    assert (
        plan["containers"][0]["status_before"] == "running" and plan["containers"][0]["status_after"] is None
    )
    assert (
        "dry run" in plan["policy"]
        and plan["target"] == f"compose service db of project {shop} on host local"
    )
    assert [started_at(engine, n) for n in names] == before
    assert [(r["tool"], r["result"], r["dry_run"]) for r in rows] == [("restart_service", "dry_run", True)]


async def test_restart_service_restarts_each_container(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    name = f"{shop}-api-1"
    before = started_at(engine, name)
    async with act_client(make_settings(act_standin)) as client:
        done = await call(client, "restart_service", {"app_name": shop, "service": "api"})
    assert done["ok"] and not done["dry_run"]
    [row] = done["containers"]
    assert (row["container"], row["status_before"], row["status_after"]) == (name, "running", "running")
    assert "restart budget 1 of 3" in done["policy"]
    assert started_at(engine, name) != before and state(engine, name) == "running"


async def test_fourth_restart_is_refused_by_budget_and_dry_runs_do_not_count(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    settings = make_settings(act_standin, safety={"budgets": {"restart": fx.NO_BACKOFF}})
    args = {"app_name": shop, "service": "api"}
    async with act_client(settings) as client:
        for _ in range(2):
            await call(client, "restart_service", {**args, "dry_run": True})
        for i in range(1, 4):
            done = await call(client, "restart_service", args)
            assert f"restart budget {i} of 3" in done["policy"]
        before = started_at(engine, f"{shop}-api-1")
        refused = await call_error(client, "restart_service", args)
        # the same service by container name shares the budget
        by_container = await call_error(
            client, "restart_service", {"app_name": shop, "container": f"{shop}-api-1"}
        )
        rows = await audit_rows(client)
    assert "refused by policy" in refused and "budget" in refused and "used up" in refused
    assert "Do not retry" in refused
    assert "used up" in by_container
    assert started_at(engine, f"{shop}-api-1") == before
    assert [r["result"] for r in rows] == ["dry_run", "dry_run", "ok", "ok", "ok", "refused", "refused"]
    assert rows[-2]["code"] == "budget_exhausted"


async def test_default_budget_makes_the_second_restart_wait(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str
) -> None:
    async with act_client(make_settings(act_standin)) as client:
        await call(client, "restart_service", {"app_name": shop, "service": "db"})
        refused = await call_error(client, "restart_service", {"app_name": shop, "service": "db"})
    assert "refused by policy" in refused and "wait until" in refused


async def test_read_only_mode_refuses_and_restarts_nothing(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str, engine: docker.DockerClient
) -> None:
    before = started_at(engine, f"{shop}-db-1")
    async with act_client(make_settings(act_standin, safety={"mode": "read-only"})) as client:
        refused = await call_error(client, "restart_service", {"app_name": shop, "service": "db"})
        dry = await call_error(
            client, "restart_service", {"app_name": shop, "service": "db", "dry_run": True}
        )
        rows = await audit_rows(client)
    assert "restart needs operate mode but this server runs in read-only mode" in refused
    assert "needs operate mode" in dry
    assert started_at(engine, f"{shop}-db-1") == before
    assert [(r["result"], r["code"]) for r in rows] == [("refused", "mode"), ("refused", "mode")]


async def test_protected_container_is_refused(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    engine: docker.DockerClient,
    make_container: Callable[..., Any],
) -> None:
    name = fx.protected_name(engine)
    make_container(name)
    before = started_at(engine, name)
    async with act_client(make_settings(act_standin, safety={"mode": "admin"})) as client:
        refused = await call_error(client, "restart_service", {"app_name": name, "container": name})
    assert "protected" in refused and "Dokploy itself" in refused
    assert started_at(engine, name) == before


async def test_arguments_are_checked(
    make_settings: Callable[..., Settings], act_standin: Any, shop: str
) -> None:
    async with act_client(make_settings(act_standin)) as client:
        neither = await call_error(client, "restart_service", {"app_name": shop})
        both = await call_error(
            client, "restart_service", {"app_name": shop, "service": "db", "container": "x"}
        )
        unknown = await call_error(client, "restart_service", {"app_name": shop, "service": "nope"})
        other = await call_error(
            client, "restart_service", {"app_name": "other", "container": f"{shop}-db-1"}
        )
        missing = await call_error(client, "restart_service", {"app_name": "nope-app", "service": "db"})
    assert "give either service" in neither and "give either service" in both
    assert "has no service 'nope'; its services: " in unknown and "db" in unknown
    assert f"belongs to {shop!r}, not 'other'" in other
    assert "no app named 'nope-app'" in missing and shop in missing
