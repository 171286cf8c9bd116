"""A worker hung with no output: it wrote "processing job 42 step 3/5" and then went silent and
idle. The agent (runbook-only) opens one incident, restarts the worker, verifies that it stays up
and is not hung again, and keeps the last lines it wrote (the stuck step) in the incident.

The worker remembers (a file in its own filesystem, which `docker restart` keeps) that it ran
before: the second time it starts it writes a heartbeat every second, as a worker that reconnected
to its queue would. So the verification's `no_new_signal` check judges a real recovery, and a
restart that did not happen would leave the worker silent and flagged again."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import anyio
import docker
import pytest
import yaml
from click.testing import CliRunner

from agent_host.cli import main
from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from mcp_server.detectors.log_files import HUNG_LABEL
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import Deciding, all_incidents, server_env, wait_for_incident

pytestmark = pytest.mark.anyio
STUCK_LINE = "processing job 42 step 3/5"
# first start: three lines, then stuck forever; every later start: a heartbeat each second
WORKER_SCRIPT = f"""
if [ -e /tmp/ran-before ]; then
  while :; do echo "heartbeat: queue connected, idle"; sleep 1; done
fi
touch /tmp/ran-before
echo "processing job 42 step 1/5"
echo "processing job 42 step 2/5"
echo "{STUCK_LINE}"
exec sleep 3600
"""


def hung_compose(scope_label: dict[str, str]) -> str:
    worker = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", WORKER_SCRIPT],
        "restart": "unless-stopped",
        "init": True,  # `docker restart` stops it at once instead of after the 10 s timeout
        "labels": {**LABELS, **scope_label, HUNG_LABEL: "4s"},
    }
    return yaml.safe_dump({"services": {"worker": worker}}, sort_keys=False)


async def test_a_hung_worker_is_restarted_verified_and_its_stuck_step_kept(
    standin: StandIn, tmp_path: Path, deciding: Deciding
) -> None:
    api = StandInAPI(standin)
    # only this test's containers are watched: the engine is shared with the rest of the suite
    scope = {"ig.e2e": f"hung-{secrets.token_hex(4)}"}
    _, app_name = api.deployed_compose("hungagent", hung_compose(scope))
    engine = docker.from_env()
    (worker,) = engine.containers.list(filters={"label": f"com.docker.compose.project={app_name}"})
    started_before = worker.attrs["State"]["StartedAt"]
    deciding.script(app_name, "restart-worker", "the worker is stuck on a job and writes nothing")
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1,
        model=deciding.model_settings(),
    )  # fmt: skip
    env = server_env(
        standin,
        tmp_path / "server",
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=f'{{"ig.e2e": "{scope["ig.e2e"]}"}}',
        INFRAGUARDIAN_DETECTORS__HUNG_INTERVAL_S="1",
        INFRAGUARDIAN_DETECTORS__STATS_INTERVAL_S="1",
        INFRAGUARDIAN_DETECTORS__HUNG_CPU_IDLE_PERCENT="5",
    )
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            tasks.start_soon(agent.monitor.run)
            resolved: Incident = await wait_for_incident(agent.deps.store, app_name)
            # a restarted worker that behaves stays clean: watch a while longer for a second incident
            await anyio.sleep(6)
            tasks.cancel_scope.cancel()
        assert resolved.status == "resolved", [e.message for e in resolved.events]
        assert resolved.kind == "hung" and resolved.runbook == "hung-worker"
        assert resolved.decision is not None and resolved.decision.solution == "restart-worker"
        deciding.check(resolved.decision)
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        assert action.tool == "restart_service" and action.ok
        assert action.arguments == {"app_name": app_name, "service": "worker"}
        assert resolved.verification is not None and resolved.verification["verdict"] == "healthy"
        # the container was really restarted, and now writes its heartbeat
        worker.reload()
        assert worker.status == "running" and worker.attrs["State"]["StartedAt"] != started_before
        assert b"heartbeat: queue connected" in worker.logs(tail=5)
        # the stuck step is in the post-mortem `infraguardian-agent incidents show` prints
        # (the command runs its own event loop, so it runs in a thread here)
        shown = await anyio.to_thread.run_sync(
            lambda: CliRunner().invoke(
                main,
                ["incidents", "show", resolved.id],
                env={"INFRAGUARDIAN_AGENT__STATE_DIR": str(settings.state_dir)},
            )
        )
        assert shown.exit_code == 0, shown.output
        assert STUCK_LINE in shown.output
        assert any(STUCK_LINE in e.message for e in resolved.events)
        # one incident for this worker: after the restart it was not flagged hung again
        mine = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        assert [i.id for i in mine] == [resolved.id]
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()
