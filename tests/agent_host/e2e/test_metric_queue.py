"""The n8n case on the real engine, runbook-only: the queue metric says work piles up while every
container looks healthy. A metric rule on the worker (a compose label) raises a metric_rule signal,
the agent opens one incident (runbook queue-stuck), restarts the worker, sees the metric come back
under its threshold, and closes the incident as verified.

"n8n" is busybox `httpd` serving the queue's Prometheus metrics file from a volume it shares with
"n8n-worker". The worker drains the queue (writes `n8n_queue_waiting 0`) whenever it starts — except
the first time: then it gets stuck on an execution and lets the queue grow to 45, staying up. It
remembers its first start in its own filesystem, which `docker restart` keeps. The rule reads the
metrics through the port n8n publishes on 127.0.0.1 (the server runs on the host here)."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path

import anyio
import docker
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.conftest import free_port
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import all_incidents, server_env, wait_for_incident

pytestmark = pytest.mark.anyio
# the metrics file is replaced whole (mv), so httpd never serves half a line
WORKER_SCRIPT = """
publish() { echo "n8n_queue_waiting $$1" > /queue/metrics.tmp && mv /queue/metrics.tmp /queue/metrics; }
if [ -e /tmp/ran-before ]; then
  publish 0; echo "queue drained, waiting for executions"; exec sleep 3600
fi
touch /tmp/ran-before
echo "processing execution 42"
for waiting in 5 15 30 45; do publish $$waiting; sleep 0.5; done
exec sleep 3600
"""


def n8n_compose(scope: dict[str, str], port: int) -> str:
    rule = f"http://127.0.0.1:{port}/metrics n8n_queue_waiting > 10 for 2s"
    n8n = {
        "image": "ig/busybox:test",
        "command": ["httpd", "-f", "-p", "8080", "-h", "/queue"],
        "init": True,
        "labels": {**LABELS, **scope},
        "ports": [f"127.0.0.1:{port}:8080"],
        "volumes": ["queue:/queue"],
    }
    worker = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", WORKER_SCRIPT],
        "init": True,  # `docker restart` stops it at once instead of after the 10 s timeout
        "labels": {**LABELS, **scope, "infraguardian.metric.queue": rule},
        "volumes": ["queue:/queue"],
    }
    return yaml.safe_dump(
        {"services": {"n8n": n8n, "n8n-worker": worker}, "volumes": {"queue": {"labels": scope}}},
        sort_keys=False,
    )


async def test_a_stuck_queue_is_restarted_and_verified_once_it_drains(
    standin: StandIn, tmp_path: Path
) -> None:
    api = StandInAPI(standin)
    # only this test's containers are watched: the engine is shared with the rest of the suite
    scope = {"ig.e2e": f"queue-{secrets.token_hex(4)}"}
    _, app_name = api.deployed_compose("n8nqueue", n8n_compose(scope, free_port()))
    engine = docker.from_env()
    label = [f"com.docker.compose.project={app_name}", "com.docker.compose.service=n8n-worker"]
    (worker,) = engine.containers.list(filters={"label": label})
    started_before = worker.attrs["State"]["StartedAt"]
    settings = AgentSettings(
        state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1
    )
    env = server_env(
        standin,
        tmp_path / "server",
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=f'{{"ig.e2e": "{scope["ig.e2e"]}"}}',
        INFRAGUARDIAN_DETECTORS__METRICS__INTERVAL_S="1",
        INFRAGUARDIAN_DETECTORS__METRICS__TIMEOUT_S="3",
    )
    try:
        async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
            tasks.start_soon(agent.monitor.run)
            resolved: Incident = await wait_for_incident(agent.deps.store, app_name, timeout_s=90)
            tasks.cancel_scope.cancel()
        assert resolved.status == "resolved", [e.message for e in resolved.events]
        assert resolved.kind == "metric_rule" and resolved.runbook == "queue-stuck"
        assert resolved.target == {"host": "local", "app_name": app_name, "service": "n8n-worker"}
        (signal,) = resolved.signals
        evidence = signal["evidence"]
        assert evidence["rule"] == "queue" and evidence["metric"] == "n8n_queue_waiting"
        assert evidence["value"] > 10 and evidence["source_kind"] == "prometheus"
        assert resolved.facts["metric_value"] == evidence["value"] and resolved.facts["running"] is True
        assert resolved.decision is not None and resolved.decision.solution == "restart-worker"
        assert resolved.decision.mode == "runbook"
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        assert action.tool == "restart_service" and action.ok
        assert action.arguments == {"app_name": app_name, "service": "n8n-worker"}
        assert resolved.verification is not None and resolved.verification["verdict"] == "healthy"
        assert resolved.verification["checks"]["signal_cleared"]["last"] is True
        # the worker was really restarted, and the queue it publishes is empty now
        worker.reload()
        assert worker.status == "running" and worker.attrs["State"]["StartedAt"] != started_before
        assert b"queue drained" in worker.logs(tail=5)
        assert worker.exec_run(["cat", "/queue/metrics"]).output.strip() == b"n8n_queue_waiting 0"
        mine = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        assert [i.id for i in mine] == [resolved.id]
    finally:
        api.close()
        with contextlib.suppress(Exception):
            engine.close()
