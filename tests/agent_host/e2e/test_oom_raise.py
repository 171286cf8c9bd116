"""An API OOM-killed under a 32 MiB limit: the agent opens one incident, raises the limit to 64 MiB
(live, and persisted in the compose Dokploy keeps), verifies it stays up, and records it all."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import all_incidents, server_env, watch_only

pytestmark = pytest.mark.anyio
MIB = 1024 * 1024


def oom_compose(scope: dict[str, str] | None = None) -> str:
    api = {
        "image": "ig/busybox:test",
        # a 40 MiB buffer does not fit 32 MiB; once the limit is 64 MiB it does, then it idles
        "command": ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=40M count=1 && sleep 3600"],
        "mem_limit": "32m",
        "memswap_limit": "32m",
        "restart": "unless-stopped",
        "init": True,
        "labels": {**LABELS, **(scope or {})},
    }
    return yaml.safe_dump({"services": {"api": api}}, sort_keys=False)


async def test_an_oom_killed_api_gets_more_memory_verified_and_recorded(
    standin: StandIn, tmp_path: Path
) -> None:
    api = StandInAPI(standin)
    scope, watch = watch_only("oom")
    compose_id, app_name = api.deployed_compose("oomagent", oom_compose(scope))
    engine = docker.from_env()
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1
    )
    seen: list[tuple[str, str]] = []
    resolved: Incident | None = None
    try:
        async with (
            running_agent(
                settings,
                env=server_env(standin, tmp_path / "server", **watch),
                listeners=[lambda i, s: seen.append((i.id, s))],
            ) as agent,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(agent.monitor.run)
            with anyio.fail_after(150):
                while resolved is None:
                    await anyio.sleep(1)
                    for incident in await agent.deps.store.recent(20):
                        if incident.target.get("app_name") == app_name and incident.closed:
                            resolved = incident
            tasks.cancel_scope.cancel()
        assert resolved.status == "resolved", resolved.events
        assert resolved.kind in ("oom", "crash_loop")
        assert resolved.decision is not None and resolved.decision.solution == "raise-memory-limit"
        assert resolved.decision.mode == "runbook" and "runbook-only" in resolved.decision.mode_note
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        assert action.ok and action.arguments["memory"] == "64m" and action.key == f"{resolved.id}:act:0"
        containers = engine.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={app_name}"}
        )
        assert containers and all(c.attrs["HostConfig"]["Memory"] == 64 * MIB for c in containers)
        assert all(c.status == "running" for c in containers)
        persisted = yaml.safe_load(api.compose(compose_id)["composeFile"])
        assert persisted["services"]["api"]["mem_limit"] in ("64m", "64M", 64 * MIB, "67108864")
        # one incident for this stack, and each of its steps was announced
        mine = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        assert len(mine) == 1
        assert {s for i, s in seen if i == resolved.id} >= {
            "detect_incident",
            "diagnose",
            "execute_action",
            "learn",
        }
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()


async def test_with_the_scripted_model_the_same_oom_is_decided_by_the_model(
    standin: StandIn, tmp_path: Path, ollama_standin: Any
) -> None:
    """The real `ollama` client against the Ollama stand-in: the model reads the evidence, picks the
    runbook's candidate, and the policy lets it act; the decision record says so."""
    api = StandInAPI(standin)
    decision = {
        "thinking": "Exit 137 with OOMKilled: the limit is too low for its 40 MiB buffer.",
        "json": {
            "root_cause": "out of memory under a 32 MiB limit",
            "confidence": 0.9,
            "solution": "raise-memory-limit",
            "reasons": ["OOMKilled=true, exit 137", "the dry run allows 64m"],
        },
    }
    # this stack's incident gets the decision; anything else on the shared engine gets "none"
    ollama_standin.script([{"match": "oommodel", "reply": decision}])
    ollama_standin.set_default(
        {"json": {"root_cause": "not this test's", "confidence": 0.1, "solution": "none", "reasons": []}}
    )
    scope, watch = watch_only("oommodel")
    _, app_name = api.deployed_compose("oommodel", oom_compose(scope))
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
        model={"ollama_host": ollama_standin.url},
    )  # fmt: skip
    resolved: Incident | None = None
    try:
        env = server_env(standin, tmp_path / "server", **watch)
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            assert "gpt-oss:20b" in agent.deps.mode_note()
            tasks.start_soon(agent.monitor.run)
            with anyio.fail_after(150):
                while resolved is None:
                    await anyio.sleep(1)
                    for incident in await agent.deps.store.recent(20):
                        if incident.target.get("app_name") == app_name and incident.closed:
                            resolved = incident
            tasks.cancel_scope.cancel()
        assert resolved.status == "resolved", resolved.events
        assert resolved.decision is not None and resolved.decision.mode == "model"
        assert resolved.decision.solution == "raise-memory-limit"
        assert any("out of memory under a 32 MiB limit" in r for r in resolved.decision.reasons)
        chats = ollama_standin.chats
        assert chats and chats[0].think in ("medium", "high") and (chats[0].num_ctx or 0) >= 32768
    finally:
        api.close()
