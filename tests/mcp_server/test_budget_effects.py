"""Budgets count effects, over MCP on the real engine (issue 12 §6).

The attack: with a service's restart budget spent, stop_compose then start_compose restarted it at
once. Now every tool that restarts, stops, starts or recreates a service's containers meets that
service's disruption budget, and the refusal names the service and when it frees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error, started_at, state

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    return api.deployed_compose("budget-effects")


def containers(app: str) -> list[str]:
    return [f"{app}-api-1", f"{app}-db-1"]


def snapshot(engine: docker.DockerClient, app: str) -> list[tuple[str, str]]:
    """(state, start time) of every container: any restart or stop changes it."""
    return [(state(engine, name), started_at(engine, name)) for name in containers(app)]


async def test_stop_then_start_cannot_restart_a_service_whose_restarts_are_spent(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    settings = make_settings(act_standin, safety={"budgets": {"restart": fx.NO_BACKOFF}})
    asked: list[str] = []
    async with act_client(settings, human="accept", asked=asked) as client:
        for _ in range(3):
            await call(client, "restart_service", {"app_name": app, "service": "api"})
        before = snapshot(engine, app)
        stop = await call_error(client, "stop_compose", {"app_name": app})
        start = await call_error(client, "start_compose", {"app_name": app})
        deploy = await call_error(client, "deploy", {"app_name": app})
        rows = await audit_rows(client)
    service = f"compose service api of project {app} on host local"
    for refused in (stop, start, deploy):
        assert "refused by policy" in refused and service in refused, refused
        assert "disrupted 3 times in the last 30 min" in refused and "frees at" in refused
        assert "Do not retry" in refused
    assert snapshot(engine, app) == before
    assert [state(engine, name) for name in containers(app)] == ["running", "running"]
    assert asked == []  # nobody is asked to approve what the budget refuses anyway
    assert [(r["tool"], r["result"], r["code"]) for r in rows[-3:]] == [
        ("stop_compose", "refused", "budget_exhausted"),
        ("start_compose", "refused", "budget_exhausted"),
        ("deploy", "refused", "budget_exhausted"),
    ]


async def test_dokploy_call_stopping_the_compose_meets_the_same_budget(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    compose_id, app = shop
    settings = make_settings(act_standin, safety={"mode": "admin", "budgets": {"restart": fx.NO_BACKOFF}})
    async with act_client(settings, human="accept") as client:
        for _ in range(3):
            await call(client, "restart_service", {"app_name": app, "service": "db"})
        before = snapshot(engine, app)
        refused = await call_error(
            client, "dokploy_call", {"operation": "compose.stop", "input": {"composeId": compose_id}}
        )
    assert "refused by policy" in refused and f"compose service db of project {app}" in refused
    assert "disrupted 3 times" in refused
    assert snapshot(engine, app) == before


async def test_a_stop_and_a_start_count_for_every_service_and_any_spent_one_refuses(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin), human="accept") as client:
        stopped = await call(client, "stop_compose", {"app_name": app})
        started = await call(client, "start_compose", {"app_name": app})
        restarted = await call(client, "restart_service", {"app_name": app, "service": "api"})
        before = snapshot(engine, app)
        refused = await call_error(client, "stop_compose", {"app_name": app})
    assert stopped["ok"] and started["ok"] and restarted["ok"]
    assert "disruptions of compose service" in stopped["policy"] and "1 of 3" in stopped["policy"]
    api_service = f"compose service api of project {app} on host local"
    assert f"disruptions of {api_service} 3 of 3" in restarted["policy"]
    # db has one disruption left, api none: the whole-project stop is refused, naming api
    assert api_service in refused and "disrupted 3 times" in refused
    assert f"compose service db of project {app}" not in refused
    assert snapshot(engine, app) == before
