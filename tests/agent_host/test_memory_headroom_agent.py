"""The agent and the server's host-headroom refusal, on the real engine: the oom-killed runbook's
raise-plan step is a set_memory_limit dry run; when the server refuses it because the host has no
room, the agent's facts must say proposed_memory_fits = false, which holds the runbook's escalation
rule and not the raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from agent_host.diagnosis.facts import compute_facts
from agent_host.loop.deps import bounded_answer
from agent_host.server_link.outcome import outcome_from_result
from mcp_server.runbooks import RunbookLibrary, all_hold
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, memory_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
MIB = 1024**2
HUGE_RESERVE = 2**40  # 1 TiB: no test machine has that much available


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_refused_raise_plan_means_no_room_and_escalates(
    tmp_path: Path, act_standin: StandIn, api: fx.StandInAPI, engine: docker.DockerClient
) -> None:
    _, app = api.deployed_compose("headroom-agent")
    settings = Settings(
        state_dir=tmp_path / "state",
        dokploy_openapi_file=OPENAPI_FILE,
        dokploy_url=act_standin.url,
        dokploy_api_key=act_standin.api_key,
        safety={"memory_headroom_reserve_bytes": HUGE_RESERVE},
    )
    args = {"app_name": app, "service": "db", "memory": "64m", "dry_run": True}
    async with act_client(settings) as client:
        result = await client.call_tool("set_memory_limit", args)
    answer = outcome_from_result("set_memory_limit", args, result, idempotency_key=None, duration_ms=0)
    assert answer.refused and "below the 1024 GiB reserve" in (answer.error or "")
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    signal = {"kind": "oom", "severity": "critical", "evidence": {"exit_code": 137, "oom_killed": True}}
    facts = compute_facts(
        signals=[signal],
        target={"app_name": app, "service": "db"},
        context={"raise-plan": bounded_answer("set_memory_limit", args, answer)},
        graph=None,
        health=None,
        history={},
        now=datetime.now(UTC),
    )
    assert facts["oom_killed"] is True and facts["proposed_memory_fits"] is False
    book = RunbookLibrary.load().get("oom-killed")
    assert book is not None
    held = [rule.reason for rule in book.escalate_when if rule.when and all_hold(rule.when, facts)]
    assert held == ["the host has no room for a bigger limit (or the ceiling is reached)"]
    raise_limit = next(s for s in book.solutions if s.id == "raise-memory-limit")
    assert not all_hold(raise_limit.when, facts)
