"""The vector-DB case on the real engine, runbook-only: a vector DB fills its data volume and its
queries slow down. The disk_pressure detector sees the volume, a latency rule on the service sees
the queries: ONE incident holds both signals and asks a person for a bigger volume (Docker cannot
grow one; nothing is pruned or deleted). Approved, the person grows it with the command the
approval gave, the queries are fast again, and the agent verifies and records that it did not act.

"qdrant" is busybox: `httpd` answers a search CGI on a port published on 127.0.0.1 (the server runs
on the host here), slowly (2 s) once its 16 MiB tmpfs volume is 90 % full. It indexes 14 MiB
(87.5 %: the disk warning) when the test says go, and the last MiB (93.75 %: slow queries) when the
test says more — once the agent has asked about the volume, so the order of the two signals is
fixed and the test shows the slow queries joining the volume's incident."""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.runner import Agent, running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn
from tests.conftest import free_port
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import MIB, all_incidents, server_env, wait_for_incident

pytestmark = pytest.mark.anyio
# a search answers in 2 s once the volume is 90 % full (the rule's threshold is 1 s)
SEARCH_CGI = """#!/bin/sh
set -- $(df -P /qdrant/storage | tail -n 1)
used=${5%\\%}
[ "$used" -ge 90 ] && sleep 2
echo "Content-Type: application/json"
echo
echo "{\\"result\\": [], \\"volume_used_percent\\": $used}"
"""
QDRANT = """
mkdir -p /www/cgi-bin
cat > /www/cgi-bin/search <<'CGI'
{cgi}CGI
chmod +x /www/cgi-bin/search
httpd -p 6333 -h /www
segment() { dd if=/dev/zero of=/qdrant/storage/segment-$1 bs=1M count=1 2>/dev/null; echo "indexed segment $1"; }
while [ ! -e /tmp/go ]; do sleep 0.2; done
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13; do segment $i; sleep 0.1; done
while [ ! -e /tmp/more ]; do sleep 0.2; done
segment 14
echo "collection stored, serving queries"
exec sleep 3600
"""


def slow_vectordb_compose(scope: dict[str, str], port: int) -> str:
    rule = f"http://127.0.0.1:{port}/cgi-bin/search p95 > 1000ms for 3s"
    script = QDRANT.replace("{cgi}", SEARCH_CGI).replace(
        "$", "$$"
    )  # `$$` is `$` after compose's interpolation
    qdrant = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", script],
        "init": True,
        "labels": {**LABELS, **scope, "infraguardian.metric.search": rule},
        "ports": [f"127.0.0.1:{port}:6333"],
        "volumes": ["qdrant_data:/qdrant/storage"],
    }
    api = {
        "image": "ig/busybox:test",
        "command": ["sleep", "3600"],
        "init": True,
        "labels": {**LABELS, **scope},
        "depends_on": ["qdrant"],
    }
    volume = {"driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}, "labels": scope}
    return yaml.safe_dump(
        {"services": {"qdrant": qdrant, "api": api}, "volumes": {"qdrant_data": volume}}, sort_keys=False
    )


class SlowVectorDB:
    """The deployed stack, and the settings of its agent and of the server that agent spawns."""

    def __init__(self, standin: StandIn, tmp_path: Path) -> None:
        self.api = StandInAPI(standin)
        self.engine = docker.from_env()
        # only this test's containers and volume are watched: the engine is shared with the suite
        self.scope = {"ig.e2e": f"slow-{secrets.token_hex(4)}"}
        compose = slow_vectordb_compose(self.scope, free_port())
        _, self.app_name = self.api.deployed_compose("volslow", compose)
        self.volume = f"{self.app_name}_qdrant_data"
        self.server_state = tmp_path / "server"
        self.settings = AgentSettings(
            state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=8, verify_interval_s=1
        )
        self.env = server_env(
            standin,
            self.server_state,
            INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=f'{{"ig.e2e": "{self.scope["ig.e2e"]}"}}',
            INFRAGUARDIAN_DETECTORS__DISK_INTERVAL_S="1",
            # judged on its use alone (85 % warning), as in test_volume_filling
            INFRAGUARDIAN_DETECTORS__DISK_FILL_WARNING_S="1",
            INFRAGUARDIAN_DETECTORS__DISK_FILL_CRITICAL_S="1",
            INFRAGUARDIAN_DETECTORS__DISK_PROJECTION_WINDOW_S="120",
            INFRAGUARDIAN_DETECTORS__METRICS__INTERVAL_S="1",
        )

    def qdrant(self, *command: str) -> bytes:
        label = [f"com.docker.compose.project={self.app_name}", "com.docker.compose.service=qdrant"]
        (qdrant,) = self.engine.containers.list(filters={"label": label})
        done = qdrant.exec_run(list(command))
        assert done.exit_code == 0, done.output
        return bytes(done.output)

    async def watched(self, agent: Agent) -> None:
        """Once the server's detectors watch, the vector DB may write: they see it grow from empty."""
        with anyio.fail_after(60):
            while True:
                answer = await agent.link.call_tool("active_signals", {})
                if (answer.structured or {}).get("detectors_running"):
                    return
                await anyio.sleep(0.5)

    def close(self) -> None:
        self.api.close()
        with contextlib.suppress(Exception):
            self.engine.close()


@contextlib.asynccontextmanager
async def agent_running(settings: AgentSettings, env: dict[str, str]) -> AsyncIterator[Agent]:
    async with running_agent(settings, env=env) as agent, anyio.create_task_group() as tasks:
        tasks.start_soon(agent.monitor.run)
        yield agent
        tasks.cancel_scope.cancel()


async def incident_where(agent: Agent, app_name: str, holds: Any) -> Incident:
    return await wait_for_incident(agent.deps.store, app_name, holds, timeout_s=60)


async def test_slow_queries_and_a_filling_volume_are_one_incident_asking_for_a_bigger_volume(
    standin: StandIn, tmp_path: Path
) -> None:
    stack = SlowVectorDB(standin, tmp_path)
    try:
        async with agent_running(stack.settings, stack.env) as agent:
            await stack.watched(agent)
            stack.qdrant("touch", "/tmp/go")  # 14 MiB: the disk warning; the agent asks for room
            incident = await incident_where(
                agent, stack.app_name, lambda i: i.status == "awaiting_approval" or i.closed
            )
            assert incident.status == "awaiting_approval", [e.message for e in incident.events]
            assert incident.runbook == "disk-filling" and incident.kind == "disk_pressure"
            assert agent.deps.approvals is not None
            (request,) = await agent.deps.approvals.pending()
            (change,) = request.changes
            assert f"Volume {stack.volume} (used by qdrant)" in change and "Grow it to 32m" in change
            assert request.blast_radius == ["qdrant", "api"]
            # the last MiB: the searches slow down, and their signal joins the volume's incident
            stack.qdrant("touch", "/tmp/more")
            joined = await incident_where(
                agent, stack.app_name, lambda i: any(s.get("kind") == "metric_rule" for s in i.signals)
            )
            assert joined.id == incident.id and joined.status == "awaiting_approval", joined.events
            assert [s["kind"] for s in joined.signals] == ["disk_pressure", "metric_rule"]
            latency = joined.signals[1]
            assert latency["runbook"] == "slow-responses" and latency["target"]["service"] == "qdrant"
            evidence = latency["evidence"]
            assert evidence["source_kind"] == "latency" and evidence["metric"] == "p95"
            assert evidence["value"] > 1000 and evidence["unit"] == "ms"
            assert [r.id for r in await agent.deps.approvals.pending()] == [request.id]
            # the owner approves and grows the volume with the command the approval gave
            mountpoint = stack.engine.volumes.get(stack.volume).attrs["Mountpoint"]
            command = re.search(r"`(mount -o remount,size=32m [^`]+)`", change)
            assert command is not None and command.group(1).endswith(f" {mountpoint}"), change
            await agent.deps.approvals.answer(request.id, approve=True, by="e2e:owner")
            await incident_where(agent, stack.app_name, lambda i: i.status == "verifying" or i.closed)
            grow = shlex.split(command.group(1))
            ran = await anyio.to_thread.run_sync(
                lambda: subprocess.run(grow, capture_output=True, text=True, check=False)
            )
            assert ran.returncode == 0, ran.stderr
            closed = await wait_for_incident(agent.deps.store, stack.app_name)
            # the searches are fast again: the latency signal resolves, and opens nothing new
            with anyio.fail_after(30):
                while True:
                    answer = await agent.link.call_tool("active_signals", {"app_name": stack.app_name})
                    kinds = [s["kind"] for s in (answer.structured or {}).get("signals") or []]
                    if "metric_rule" not in kinds:
                        break
                    await anyio.sleep(0.5)
            await anyio.sleep(2)  # a few rounds of the monitor after it went
        assert closed.id == incident.id and closed.status == "resolved", [e.message for e in closed.events]
        assert closed.verification is not None and closed.verification["verdict"] == "healthy"
        assert closed.actions == [] and closed.approved_by == "e2e:owner"
        assert [s["kind"] for s in closed.signals] == ["disk_pressure", "metric_rule"]  # both, in the record
        # grown in place, every segment kept, searches answered at the new size
        listed = stack.qdrant("ls", "/qdrant/storage").decode().split()
        assert sorted(listed) == sorted(f"segment-{i}" for i in range(15))
        total_k = int(stack.qdrant("df", "-k", "/qdrant/storage").decode().split()[-5])
        assert total_k * 1024 == 32 * MIB
        answered = stack.qdrant("wget", "-qO-", "http://127.0.0.1:6333/cgi-bin/search").decode()
        used = re.search(r'"volume_used_percent": (\d+)', answered)
        assert used is not None and int(used.group(1)) < 50, answered
        mine = [i for i in await all_incidents(stack.settings) if i.target.get("app_name") == stack.app_name]
        assert [i.id for i in mine] == [incident.id]
    finally:
        stack.close()
