"""The agent's rollback node undoes its own memory raise on the real engine, through the real server
in its default operate mode: the oom-killed runbook's raise (32m → 64m, made with the runbook's
action and the facts the agent computed) and then its `undo` (the old limit back) are both allowed,
because the server sees in its audit log that the lowering undoes its own raise (revert_memory).
The container's limit and the compose file in Dokploy are 32m again, and the incident says the
undo was done. Before revert_memory, that undo was lower_memory (admin mode and a human) and always
failed, so every made-worse raise stayed in place."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import docker
import pytest
from mcp import Client
from mcp.types import RequestParamsMeta

from agent_host.diagnosis.facts import compute_facts
from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.incidents.store import IncidentStore
from agent_host.loop.deps import LoopDeps, bounded_answer
from agent_host.loop.nodes import rollback
from agent_host.loop.nodes.execute_action import action_key
from agent_host.server_link.outcome import IDEMPOTENCY_KEY_META, ToolOutcome, outcome_from_result
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary, fill
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, memory_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine
MIB = 1024**2


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class InProcessLink:
    """The loop's ToolCaller over an in-process MCP client of the real server: the same answers
    (`outcome_from_result`) and idempotency keys as `ServerLink`, without its reconnects."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        confirmed: bool = False,
    ) -> ToolOutcome:
        meta = cast(RequestParamsMeta, {IDEMPOTENCY_KEY_META: idempotency_key}) if idempotency_key else None
        started = time.monotonic()
        result = await self.client.call_tool(name, arguments, meta=meta)
        took = int((time.monotonic() - started) * 1000)
        return outcome_from_result(name, arguments, result, idempotency_key=idempotency_key, duration_ms=took)


async def test_the_rollback_node_restores_the_limit_its_raise_replaced(
    tmp_path: Path, act_standin: StandIn, api: fx.StandInAPI, engine: docker.DockerClient
) -> None:
    compose_id, app = api.deployed_compose("undo-agent")
    before = api.compose(compose_id)["composeFile"]
    settings = Settings(  # the server's defaults: operate mode, 24 h revert window
        state_dir=tmp_path / "server",
        dokploy_openapi_file=OPENAPI_FILE,
        dokploy_url=act_standin.url,
        dokploy_api_key=act_standin.api_key,
    )
    agent = AgentSettings(state_dir=tmp_path / "agent")
    database = agent.open_database()
    library = RunbookLibrary.load()
    book = library.get("oom-killed")
    assert book is not None
    solution = next(s for s in book.solutions if s.id == "raise-memory-limit")
    target = {"app_name": app, "service": "db", "host": "local"}
    incident_id = "inc-undo-1"
    try:
        async with act_client(settings) as client:
            link = InProcessLink(client)
            status_args = {"app_name": app, "service": "db"}
            status = await link.call_tool("service_status", status_args)
            signal = {
                "kind": "oom",
                "severity": "critical",
                "evidence": {"exit_code": 137, "oom_killed": True},
            }
            facts = compute_facts(
                signals=[signal],
                target=target,
                context={"status": bounded_answer("service_status", status_args, status)},
                graph=None,
                health=None,
                history={},
                now=datetime.now(UTC),
            )
            assert (facts["memory_limit"], facts["proposed_memory"]) == ("32m", "64m")
            # the fix, as execute_action runs it: the runbook's action with the agent's facts
            [action] = solution.actions
            raise_args = fill(action.arguments, target, facts)
            raise_key = action_key(incident_id, "act", 0)
            raised = await link.call_tool(action.tool, raise_args, idempotency_key=raise_key)
            assert raised.ok, raised.error
            assert memory_of(engine, f"{app}-db-1") == 64 * MIB
            incident = Incident(
                id=incident_id,
                fingerprint=f"oom:{app}/db",
                target=target,
                target_key=f"compose_service:local/{app}/db",
                kind="oom",
                severity="critical",
                summary="db OOM-killed",
                runbook="oom-killed",
                status="verifying",
                facts=facts,
                decision=Decision(runbook="oom-killed", solution=solution.id, route="auto"),
                actions=[ActionRecord.from_answer(raise_key, action.tool, raise_args, raised)],
                verification={"verdict": "unhealthy"},  # verify_fix saw it worse than before
            )
            deps = LoopDeps(link=link, library=library, store=IncidentStore(database), settings=agent)
            out = await rollback.run(
                {"incident": incident.model_dump(mode="json"), "route": "unhealthy"}, deps
            )
            rows = await audit_rows(client)
    finally:
        database.close()
    done = Incident.model_validate(out["incident"])
    notes = [e.message for e in done.events if e.step == "rollback"]
    assert notes == ["undo set_memory_limit: done"], notes
    undo = done.actions[-1]
    assert undo.key == f"{incident_id}:undo:0" and undo.ok and not undo.refused
    assert undo.arguments == {"app_name": app, "service": "db", "memory": "32m"}
    assert memory_of(engine, f"{app}-db-1") == 32 * MIB
    assert api.compose(compose_id)["composeFile"] == before  # mem_limit: 32m again, nothing else changed
    changes = [(r["action"], r["result"]) for r in rows if r["tool"] == "set_memory_limit"]
    assert changes == [("raise_memory", "ok"), ("revert_memory", "ok")]
