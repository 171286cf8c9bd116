"""An outside monitor's alert is an incident like an OOM, on the main job's setup: the agent spawns
its server over stdio with INFRAGUARDIAN_HOOKS__PORT, so that server also listens for webhooks.
Uptime Kuma (played by the test with its recorded JSON body) says the web service is down — it
was stopped, which Docker alone calls a requested stop, not a fault. The agent opens one
external_alert incident, finds the service not running, restarts it, and verifies it only once
Kuma reports it up again (`signal_cleared`): runbook-only, on the real engine."""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import docker
import httpx
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.conftest import free_port
from tests.hooks.recordings import UPTIME_KUMA, load
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import all_incidents, server_env, wait_for_incident

pytestmark = pytest.mark.anyio
TOKEN = "kuma-" + secrets.token_urlsafe(24)


def web_compose(scope: dict[str, str]) -> str:
    service = {"image": "ig/busybox:test", "init": True, "labels": {**LABELS, **scope}}
    return yaml.safe_dump(
        {
            "services": {
                "web": {**service, "command": ["httpd", "-f", "-p", "8080", "-h", "/"]},
                "db": {**service, "command": ["sleep", "3600"]},
            }
        },
        sort_keys=False,
    )


def kuma_request(recording: str, url: str, at: datetime) -> bytes:
    """Uptime Kuma's recorded JSON notification, about a monitor of `url`, beating at `at`."""
    payload: dict[str, Any] = json.loads(load(UPTIME_KUMA / recording).body)
    payload["monitor"].update(id=7001, name="shop web", url=url)
    payload["heartbeat"].update(
        monitorID=7001,
        time=at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}",
        localDateTime=at.strftime("%Y-%m-%d %H:%M:%S"),
    )
    return json.dumps(payload).encode()


async def post(port: int, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            f"http://127.0.0.1:{port}/hooks/uptime-kuma",
            content=body,
            headers={"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
        )


async def test_uptime_kuma_says_down_the_agent_restarts_it_and_kumas_up_verifies_it(
    standin: StandIn, tmp_path: Path
) -> None:
    api = StandInAPI(standin)
    scope = {"ig.e2e": f"kuma-{secrets.token_hex(4)}"}
    _, app_name = api.deployed_compose("kumaweb", web_compose(scope))
    engine = docker.from_env()
    (web,) = engine.containers.list(
        filters={"label": [f"com.docker.compose.project={app_name}", "com.docker.compose.service=web"]}
    )
    web.stop(timeout=1)  # a requested stop: no detector of ours calls it a fault
    hooks_port = free_port()
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1
    )
    env = server_env(
        standin,
        tmp_path / "server",
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps(scope),
        INFRAGUARDIAN_MCP_TOKEN=TOKEN,
        INFRAGUARDIAN_HOOKS__PORT=str(hooks_port),
    )
    url = f"http://{web.name}:8080/"  # Kuma watches the container by its name: that maps the alert
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            tasks.start_soon(agent.monitor.run)
            with anyio.fail_after(60):
                while True:  # the spawned stdio server listens for webhooks once it has started
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await post(
                            hooks_port, kuma_request("http_down__json.json", url, datetime.now(UTC))
                        )
                        break
                    await anyio.sleep(0.3)
            assert answer.status_code == 200 and answer.json()["accepted"] == 1

            async def kuma_sees_it_up() -> None:
                with anyio.fail_after(90):
                    while True:
                        web.reload()
                        if web.status == "running":
                            break
                        await anyio.sleep(0.5)
                up = await post(hooks_port, kuma_request("http_up__json.json", url, datetime.now(UTC)))
                assert up.status_code == 200 and up.json()["accepted"] == 1

            tasks.start_soon(kuma_sees_it_up)
            resolved: Incident = await wait_for_incident(agent.deps.store, app_name, timeout_s=120)
            tasks.cancel_scope.cancel()
        assert resolved.status == "resolved", [e.message for e in resolved.events]
        assert resolved.kind == "external_alert" and resolved.runbook == "external-alert"
        assert resolved.target == {"host": "local", "app_name": app_name, "service": "web"}
        (signal,) = resolved.signals
        assert signal["evidence"]["sources"] == ["uptime-kuma"] and signal["evidence"]["mapped_by"]
        assert resolved.facts["running"] is False
        assert resolved.decision is not None and resolved.decision.mode == "runbook"
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        assert action.ok and action.arguments["app_name"] == app_name
        assert resolved.verification is not None and resolved.verification["verdict"] == "healthy"
        web.reload()
        assert web.status == "running"
        mine = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        assert [i.id for i in mine] == [resolved.id]
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()
