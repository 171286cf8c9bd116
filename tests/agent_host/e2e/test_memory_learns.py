"""Incident memory changes what the agent does: the same OOM three times on the real engine.

The user's runbook offers two fixes for an OOM, a restart first (a one-off spike) and a memory
raise second. The API needs 40 MiB under a 32 MiB limit, so:
1. the first incident restarts it; it is OOM-killed again, the fix is recorded as failed;
2. the second avoids the restart that failed here and raises the limit, which works;
3. after the limit is put back to 32 MiB, the third applies the remembered raise directly and its
   decision says so, with the past incidents memory found beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio
import docker
import pytest

from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.memory import KnowledgeBase
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings, FlapSettings
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import StandInAPI

from .conftest import server_env, watch_only
from .test_oom_raise import MIB, oom_compose

pytestmark = pytest.mark.anyio
REPO_RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"

TWO_FIXES = """
name: oom-killed
title: Container killed for running out of memory (restart first, then more memory)
description: A user's runbook with two fixes for one problem, the cheaper first.
severity: critical
trigger:
  signals: [oom]
context:
  - id: status
    do: Confirm the kill.
    tool: service_status
    arguments: {app_name: "{app_name}", service: "{service}"}
  - id: raise-plan
    do: Ask whether twice the current limit is allowed (dry run).
    tool: set_memory_limit
    arguments: {app_name: "{app_name}", service: "{service}", memory: "{facts.proposed_memory}", dry_run: true}
solutions:
  - id: restart-first
    title: Restart it (a one-off spike clears)
    when: [{fact: oom_killed, equals: true}]
    confidence: 0.8
    threshold: 0.7
    risk: low
    actions:
      - do: Restart the service.
        tool: restart_service
        arguments: {app_name: "{app_name}", service: "{service}"}
  - id: raise-memory-limit
    title: Raise the memory limit to twice the current one
    when:
      - {fact: oom_killed, equals: true}
      - {fact: proposed_memory_fits, equals: true}
    confidence: 0.75
    threshold: 0.7
    risk: low
    actions:
      - do: Raise the limit.
        tool: set_memory_limit
        arguments: {app_name: "{app_name}", service: "{service}", memory: "{facts.proposed_memory}"}
        dry_run_first: true
verify:
  window_s: 600
  checks:
    - {check: running}
    - {check: no_new_signal, kinds: [oom]}
escalate_when:
  - reason: the host has no room for a bigger limit
    when: [{fact: proposed_memory_fits, equals: false}]
  - the policy refuses the fix
"""


async def closed(store: IncidentStore, app_name: str, count: int, *, timeout_s: float) -> list[Incident]:
    """The stack's closed incidents with a decision, oldest first, once there are `count`; on a
    timeout, the error tells each incident's story."""
    mine: list[Incident] = []
    with anyio.move_on_after(timeout_s):
        while True:
            mine = [i for i in await store.recent(50) if i.target.get("app_name") == app_name]
            done = sorted((i for i in mine if i.closed and i.decision), key=lambda i: i.opened_at)
            if len(done) >= count:
                return done
            await anyio.sleep(1)
    stories = "\n\n".join(f"{i.id} ({i.status}):\n{story(i)}" for i in mine)
    raise AssertionError(f"not {count} closed incidents of {app_name} in {timeout_s:g} s:\n{stories}")


def story(incident: Incident) -> str:
    """An incident's events one per line, for an assertion message that shows why it ended so."""
    return "\n".join(f"{e.step}: {e.message}" for e in incident.events)


async def test_the_same_oom_three_times_fails_then_learns_then_remembers(
    standin: StandIn, tmp_path: Path
) -> None:
    runbooks = tmp_path / "runbooks"
    shutil.copytree(REPO_RUNBOOKS, runbooks)
    (runbooks / "oom-killed.yaml").write_text(TWO_FIXES)
    api = StandInAPI(standin)
    scope, watch = watch_only("memlearn")
    _, app_name = api.deployed_compose("memlearn", oom_compose(scope))
    engine = docker.from_env()
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
        flap=FlapSettings(cooldown_s=0, backoff_base_s=0, backoff_max_s=0, escalation_hold_s=0,
              recurrences_to_escalate=10),
    )  # fmt: skip
    # the server's own memory budget waits 10 min between two raises of one service: not here
    no_wait = {"INFRAGUARDIAN_SAFETY__BUDGETS__MEMORY": '{"max_actions": 5, "window_s": 3600}'}
    env = server_env(
        standin, tmp_path / "server", INFRAGUARDIAN_RUNBOOKS_DIR=str(runbooks), **watch, **no_wait
    )
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            assert agent.deps.memory is not None and "wordllama" in agent.memory_status
            tasks.start_soon(agent.monitor.run)
            store = agent.deps.store
            first, second = (await closed(store, app_name, 2, timeout_s=240))[:2]
            # 3rd: the limit goes back to 32 MiB (live) and the API starts over: OOM again
            (container,) = engine.containers.list(filters={"label": f"com.docker.compose.project={app_name}"})
            container.update(mem_limit="32m", memswap_limit="32m")
            container.restart(timeout=1)
            third = (await closed(store, app_name, 3, timeout_s=180))[2]
            tasks.cancel_scope.cancel()

        assert first.decision is not None and second.decision is not None and third.decision is not None
        # 1. the runbook's first fix, tried and failed (the API is OOM-killed again)
        assert first.decision.solution == "restart-first" and first.status == "escalated", story(first)
        assert first.decision.similar == [] and "memory: no similar past incident" in first.decision.reasons
        # 2. the restart that failed here is not tried again: the raise is, and works
        assert second.decision.solution == "raise-memory-limit" and second.status == "resolved", story(second)
        reasons = " | ".join(second.decision.reasons)
        assert f"restart-first failed for this target 1× (last {first.id})" in reasons, reasons
        # 3. the remembered fix first, and the record says so, with what memory found
        assert third.decision.solution == "raise-memory-limit" and third.status == "resolved", story(third)
        reasons = " | ".join(third.decision.reasons)
        assert f"memory: raise-memory-limit worked for this problem here 1× (last {second.id})" in reasons, (
            reasons
        )
        assert {s["incident_id"] for s in third.decision.similar} >= {first.id, second.id}
        by_id = {s["incident_id"]: s for s in third.decision.similar}
        assert by_id[second.id]["outcome_kind"] == "worked" and by_id[first.id]["outcome_kind"] == "failed"
        assert third.decision.route == "auto"
        (raised,) = [a for a in third.actions if ":act:" in a.key]
        assert raised.ok and raised.arguments["memory"] == "64m"
        (container,) = engine.containers.list(filters={"label": f"com.docker.compose.project={app_name}"})
        assert container.attrs["HostConfig"]["Memory"] == 64 * MIB
        # the three are in the knowledge base, each with how it ended
        kb = await KnowledgeBase.open(settings.memory, settings.state_dir)
        try:
            entries = {e.incident_id: e for e in await kb.entries(20)}
        finally:
            await kb.close()
        assert entries[first.id].outcome_kind == "failed" and entries[third.id].outcome_kind == "worked"
    finally:
        api.close()
        engine.close()
