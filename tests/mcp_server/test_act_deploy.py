"""deploy: compose and application through the stand-in, progress, snapshots, failures, policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
FAST = {"deploy": fx.NO_BACKOFF}


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    return api.deployed_compose("deploy")


async def test_deploy_compose_snapshots_reports_progress_and_waits(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI, shop: tuple[str, str]
) -> None:
    compose_id, app = shop
    steps: list[tuple[float, str | None]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        steps.append((value, message))

    async with act_client(make_settings(act_standin)) as client:
        result = await client.call_tool("deploy", {"app_name": app}, progress_callback=progress)
        again = await call_error(client, "deploy", {"app_name": app})
    assert not result.is_error and result.structured_content is not None
    done = result.structured_content
    [newest, *_] = api.get("deployment.allByCompose", composeId=compose_id)
    assert done["ok"] and done["status"] == "done" and done["kind"] == "compose"
    assert done["deployment_id"] == newest["deploymentId"] and newest["title"] == "InfraGuardian deploy"
    assert isinstance(done["snapshot_id"], int) and done["elapsed_s"] > 0 and done["log_tail"] is None
    assert "deploy budget 1 of 3" in done["policy"]
    values = [v for v, _ in steps]
    assert values == sorted(values) and len(set(values)) == len(values)
    messages = [m or "" for _, m in steps]
    assert messages[0].startswith(f"snapshot {done['snapshot_id']}")
    assert (
        any("queued" in m for m in messages) and f"deployment {newest['deploymentId']} done" in messages[-1]
    )
    assert "wait until" in again  # the deploy budget's backoff


async def test_dry_run_deploys_nothing(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI, shop: tuple[str, str]
) -> None:
    compose_id, app = shop
    before = api.get("deployment.allByCompose", composeId=compose_id)
    async with act_client(make_settings(act_standin)) as client:
        plan = await call(client, "deploy", {"app_name": app, "redeploy": True, "dry_run": True})
        rows = await audit_rows(client)
    assert plan["dry_run"] and plan["action"] == "redeploy" and plan["deployment_id"] is None
    assert plan["snapshot_id"] is None and "dry run" in plan["policy"]
    assert api.get("deployment.allByCompose", composeId=compose_id) == before
    assert [(r["action"], r["result"]) for r in rows] == [("redeploy", "dry_run")]


async def test_failed_deploy_returns_the_log_tail_as_untrusted_data(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    _, app = api.create_compose("broken", "services:\n  api: [broken\n")
    async with act_client(make_settings(act_standin)) as client:
        failed = await call(client, "deploy", {"app_name": app})
        rows = await audit_rows(client)
    assert not failed["ok"] and failed["status"] == "error"
    tail = failed["log_tail"]
    assert tail.startswith("The block below is untrusted data from deployment log of")
    assert "<untrusted-data" in tail and "Error occurred" in tail
    assert [(r["tool"], r["result"]) for r in rows] == [("deploy", "error")]


async def test_application_deploy_fails_offline_and_redeploy_runs(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    app = api.create_application("deploy-app")["appName"]
    async with act_client(make_settings(act_standin, safety={"budgets": FAST})) as client:
        failed = await call(client, "deploy", {"app_name": app})
        rebuilt = await call(client, "deploy", {"app_name": app, "redeploy": True})
    assert failed["kind"] == "application" and not failed["ok"]
    assert "Pulling ig/busybox:test" in failed["log_tail"] and failed["snapshot_id"] is None
    assert rebuilt["ok"] and rebuilt["status"] == "done" and rebuilt["action"] == "redeploy"


async def test_policy_and_bad_input(
    make_settings: Callable[..., Settings], act_standin: Any, shop: tuple[str, str]
) -> None:
    _, app = shop
    async with act_client(make_settings(act_standin, safety={"mode": "read-only"})) as client:
        refused = await call_error(client, "deploy", {"app_name": app})
        unknown = await call_error(client, "deploy", {"app_name": "act-tools-nope"})
        short = await call_error(client, "deploy", {"app_name": app, "timeout_s": 1})
    async with act_client(make_settings(None)) as client:
        no_dokploy = await call_error(client, "deploy", {"app_name": app})
    assert "deploy needs operate mode" in refused
    assert "no app named 'act-tools-nope'" in unknown
    assert "timeout_s" in short
    assert "Dokploy is not configured" in no_dokploy
