"""A flapping service: it runs 12 s, crashes with exit 1, and Docker's restart policy brings it back,
forever. Each restart by the agent looks fine for the verification window and then the service
falls over again. Flap protection (shortened here, same rules) paces the restarts, spends its
budget — incidents 1 and 2 restart it, the third is escalated by the recurrence rule — and then
stays quiet: while the service keeps flapping, no other incident is opened or escalated and
nothing more is touched (runbook-only mode)."""

from __future__ import annotations

import contextlib
import json
import secrets
from datetime import datetime
from pathlib import Path

import anyio
import docker
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import Deciding, all_incidents, server_env

pytestmark = pytest.mark.anyio
LIFE_S = 12  # how long the service runs after each start before it crashes
# the second fix waits this long after the first (the 12 s life is shorter). The server's own
# restart budget (shortened too) waits SERVER_WAIT_S after a restart of a service; the agent stays
# above it, as its defaults do (5 min cooldown vs 30 s), so the server never refuses its fix
BACKOFF_S = 20
SERVER_WAIT_S = 10
RECURRENCES = 3  # the third incident on the target within the window escalates
WATCH_AFTER_S = 30  # how long the agent keeps watching the still-flapping service after escalating


def flapping_compose(scope_label: dict[str, str]) -> str:
    api = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", f"echo serving; sleep {LIFE_S}; echo 'fatal: lost state'; exit 1"],
        "restart": "unless-stopped",
        "init": True,
        "labels": {**LABELS, **scope_label},
    }
    return yaml.safe_dump({"services": {"api": api}}, sort_keys=False)


def mine(incidents: list[Incident], app_name: str) -> list[Incident]:
    return sorted((i for i in incidents if i.target.get("app_name") == app_name), key=lambda i: i.opened_at)


async def test_a_flapping_service_gets_the_budgeted_restarts_then_one_escalation(
    standin: StandIn, tmp_path: Path, deciding: Deciding
) -> None:
    api = StandInAPI(standin)
    scope = {"ig.e2e": f"flap-{secrets.token_hex(4)}"}
    _, app_name = api.deployed_compose("flapagent", flapping_compose(scope))
    engine = docker.from_env()
    deciding.script(app_name, "restart-once", "it exited with code 1 and stays down")
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=5, verify_interval_s=1,
        model=deciding.model_settings(),
        flap={
            "cooldown_s": 2, "backoff_base_s": BACKOFF_S, "backoff_max_s": 60,
            "recurrences_to_escalate": RECURRENCES, "escalation_hold_s": 600,
        },
    )  # fmt: skip
    env = server_env(
        standin,
        tmp_path / "server",
        # only this test's containers are watched: the engine is shared with the rest of the suite
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps(scope),
        # the agent's own restart stops the container; a crash 12 s later is not that stop
        INFRAGUARDIAN_DETECTORS__REQUESTED_STOP_WINDOW_S="3",
        INFRAGUARDIAN_SAFETY__BUDGETS=json.dumps(
            {"restart": {"max_actions": 3, "window_s": 1800, "backoff_initial_s": SERVER_WAIT_S}}
        ),
    )
    escalated: Incident | None = None
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            tasks.start_soon(agent.monitor.run)
            with anyio.fail_after(150):
                while escalated is None:
                    await anyio.sleep(1)
                    closed = [i for i in mine(await agent.deps.store.recent(50), app_name) if i.closed]
                    escalated = next((i for i in closed if i.status == "escalated"), None)
            (container,) = engine.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={app_name}"}
            )
            restarts_at_escalation = container.attrs["RestartCount"]
            # the service keeps flapping; the agent keeps watching it
            await anyio.sleep(WATCH_AFTER_S)
            # the server still reports it, seen after the escalation: the agent had every chance
            still = [
                s for s in await agent.link.active_signals()
                if (s.get("target") or {}).get("app_name") == app_name
            ]  # fmt: skip
            tasks.cancel_scope.cancel()
        container.reload()
        assert container.attrs["RestartCount"] > restarts_at_escalation  # it did keep flapping

        incidents = mine(await all_incidents(settings), app_name)
        timelines = {i.id: [f"{e.step}: {e.message}" for e in i.events] for i in incidents}
        # the budget: the first two incidents were fixed by a restart that held for the window
        *fixed, last = incidents
        assert len(fixed) == RECURRENCES - 1, timelines
        assert all(i.status == "resolved" for i in fixed), timelines
        assert all(i.decision and i.decision.solution == "restart-once" for i in fixed), timelines
        for incident in fixed:
            deciding.check(incident.decision)
        # then exactly one escalation, by the recurrence rule, with nothing changed
        assert last.id == escalated.id and last.status == "escalated", timelines
        assert last.decision is not None and last.decision.solution is None
        assert any(
            f"{RECURRENCES} incidents on this target" in r and f"limit {RECURRENCES}" in r
            for r in last.decision.escalation
        ), last.decision.escalation
        assert f"limit {RECURRENCES}" in (last.outcome or "")
        # mutating actions, over every incident of the target: the budgeted restarts, no more
        acted = [a for i in incidents for a in i.actions if not a.dry_run]
        assert [a.tool for a in acted] == ["restart_service"] * (RECURRENCES - 1)
        assert all(a.ok for a in acted)
        # flap protection paced them: the second waited for its backoff after the first
        first, second = sorted(a.at for a in acted)
        assert (second - first).total_seconds() >= BACKOFF_S
        assert any("waiting" in line and "backoff" in line for line in timelines[fixed[1].id])
        # it kept raising signals after the escalation; they joined the escalated incident
        assert escalated.closed_at is not None
        assert any(datetime.fromisoformat(s["last_seen"]) > escalated.closed_at for s in still), still
        assert last.closed_at == escalated.closed_at  # closed once, never re-escalated
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()
