"""A vector DB filling its data volume, on the real engine, runbook-only: the agent opens one
incident for the volume, diagnoses a filling data volume, and asks a person to grow it — the
volume, its use, its growth, who uses it, the blast radius and the exact command — and changes
nothing: the volume and its data stay, and the server's audit log holds only reads.

Docker cannot grow a volume in place, so the fix is a human step (runbooks/disk-filling.yaml,
agent_host/loop/human_steps.py). Denied, the incident is escalated and recorded. Approved, the
person runs the command the approval gave (here: the test, as root on the engine's host), and the
agent verifies the volume came down and records that it did not act itself.

The "vector DB" is busybox named like qdrant, with a 16 MiB tmpfs volume it fills to 15 MiB
(94 %, above the 85 % warning); a tmpfs volume is mounted, and measured, only while a container
uses it, so the service keeps running after it stops writing."""

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
from click.testing import CliRunner

from agent_host.approvals import ApprovalBook, ApprovalRequest
from agent_host.cli import main
from agent_host.incidents.model import Incident
from agent_host.runner import Agent, running_agent
from agent_host.settings import AgentSettings
from mcp_server.safety.reader import SafetyReader
from mcp_server.safety.settings import SafetySettings
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import MIB, Deciding, all_incidents, server_env, wait_for_incident

pytestmark = pytest.mark.anyio
SEGMENTS = 15  # MiB written into the 16 MiB volume: 93.75 % used
# `$$` is a `$` once compose has interpolated the file
FILLER = f"""
while [ ! -e /tmp/go ]; do sleep 0.2; done
i=0
while [ $$i -lt {SEGMENTS} ]; do
  dd if=/dev/zero of=/qdrant/storage/segment-$$i bs=1M count=1 2>/dev/null
  i=$$((i+1)); echo "indexed segment $$i"; sleep 0.7
done
echo "collection stored, serving queries"
exec sleep 3600
"""


def vectordb_compose(scope: dict[str, str]) -> str:
    labels = {**LABELS, **scope}
    qdrant = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", FILLER],
        "init": True,
        "labels": labels,
        "volumes": ["qdrant_data:/qdrant/storage"],
    }
    api = {
        "image": "ig/busybox:test",
        "command": ["sleep", "3600"],
        "init": True,
        "labels": labels,
        "depends_on": ["qdrant"],
    }
    volume = {"driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}, "labels": scope}
    return yaml.safe_dump(
        {"services": {"qdrant": qdrant, "api": api}, "volumes": {"qdrant_data": volume}}, sort_keys=False
    )


class Scenario:
    """One deployed vector DB stack with its agent running, until the approval is asked."""

    def __init__(self, standin: StandIn, tmp_path: Path, name: str, deciding: Deciding | None = None) -> None:
        self.deciding = deciding or Deciding("runbook", None)
        self.api = StandInAPI(standin)
        self.engine = docker.from_env()
        # only this test's containers and volume are watched: the engine is shared with the suite
        self.scope = {"ig.e2e": f"vol-{secrets.token_hex(4)}"}
        _, self.app_name = self.api.deployed_compose(name, vectordb_compose(self.scope))
        self.volume = f"{self.app_name}_qdrant_data"
        self.server_state = tmp_path / "server"
        self.deciding.script(self.app_name, "grow-tmpfs-volume", "the vector DB's tmpfs volume is filling")
        self.settings = AgentSettings(
            state_dir=tmp_path / "agent", poll_s=0.5, verify_window_max_s=10, verify_interval_s=1,
            model=self.deciding.model_settings(),
        )  # fmt: skip
        self.env = server_env(
            standin,
            self.server_state,
            INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=f'{{"ig.e2e": "{self.scope["ig.e2e"]}"}}',
            INFRAGUARDIAN_DETECTORS__DISK_INTERVAL_S="1",
            # judged on its use alone (85 % warning), with the fill rate over the last 2 minutes
            INFRAGUARDIAN_DETECTORS__DISK_FILL_WARNING_S="1",
            INFRAGUARDIAN_DETECTORS__DISK_FILL_CRITICAL_S="1",
            INFRAGUARDIAN_DETECTORS__DISK_PROJECTION_WINDOW_S="120",
        )

    async def start_filling(self, agent: Agent) -> None:
        """Once the server's detectors watch, let the vector DB write: they see it grow from empty."""
        with anyio.fail_after(60):
            while True:
                answer = await agent.link.call_tool("active_signals", {})
                if (answer.structured or {}).get("detectors_running"):
                    break
                await anyio.sleep(0.5)
        (qdrant,) = self.engine.containers.list(filters={"label": self.service_label("qdrant")})
        assert qdrant.exec_run(["touch", "/tmp/go"]).exit_code == 0

    def service_label(self, service: str) -> list[str]:
        return [f"com.docker.compose.project={self.app_name}", f"com.docker.compose.service={service}"]

    def close(self) -> None:
        self.api.close()
        with contextlib.suppress(Exception):
            self.engine.close()

    async def asked(self, agent: Agent) -> tuple[Incident, ApprovalRequest]:
        """The incident once it awaits approval, and its one pending request."""
        await self.start_filling(agent)
        incident = await wait_for_incident(
            agent.deps.store, self.app_name, lambda i: i.status == "awaiting_approval" or i.closed
        )
        assert incident.status == "awaiting_approval", [e.message for e in incident.events]
        assert agent.deps.approvals is not None
        pending = [r for r in await agent.deps.approvals.pending() if r.incident_id == incident.id]
        assert len(pending) == 1, pending
        return incident, pending[0]

    def check_the_question(self, incident: Incident, request: ApprovalRequest) -> str:
        """The request carries the evidence and the exact change; returns that change's text."""
        assert incident.kind == "disk_pressure" and incident.runbook == "disk-filling"
        assert incident.target_key == f"volume:local/{self.volume}"
        assert incident.decision is not None and incident.decision.solution == "grow-tmpfs-volume"
        self.deciding.check(incident.decision)
        assert incident.facts["filling_is_data_volume"] is True
        (change,) = request.changes
        assert change.startswith(
            f"for you to do, the agent will not do it: Volume {self.volume} (used by qdrant)"
        )
        used = re.search(r": (\d+(?:\.\d+)?)% of its 16m used, growing [\d.]+ [KM]iB/min", change)
        assert used is not None and 85 <= float(used.group(1)) < 100, change
        assert "Grow it to 32m" in change and "o: size=32m" in change
        assert "Do not prune or remove the volume." in change
        assert request.blast_radius == ["qdrant", "api"]
        assert "a human step" in request.title
        return change

    def volume_and_data_intact(self) -> dict[str, Any]:
        """The volume exists, still holds every segment, and its filesystem as `df` inside sees it."""
        self.engine.volumes.get(self.volume)  # raises NotFound if it was removed
        (qdrant,) = self.engine.containers.list(filters={"label": self.service_label("qdrant")})
        listed = qdrant.exec_run(["ls", "/qdrant/storage"]).output.decode().split()
        assert sorted(listed) == sorted(f"segment-{i}" for i in range(SEGMENTS))
        total_k = int(qdrant.exec_run(["df", "-k", "/qdrant/storage"]).output.decode().split()[-5])
        return {"size_bytes": total_k * 1024, "container": qdrant.name}

    def audit_holds_only_reads(self) -> None:
        """The server audited every call the agent made: reads only — no prune (not even its dry run),
        no removal, no change of any kind."""
        reader = SafetyReader(SafetySettings(), self.server_state)
        try:
            rows = reader.audit_entries(limit=1000)
        finally:
            reader.close()
        tools = {row.tool for row in rows}
        assert {"active_signals", "disk_usage", "compose_graph"} <= tools, tools
        assert [(r.tool, r.action, r.dry_run) for r in rows if r.action != "read" or r.dry_run] == []
        assert "prune" not in tools


async def pending_after(settings: AgentSettings) -> list[ApprovalRequest]:
    """The pending approvals in the agent's database, read through a fresh connection."""
    db = settings.open_database()
    try:
        return await ApprovalBook(db).pending()
    finally:
        db.close()


@contextlib.asynccontextmanager
async def agent_running(scenario: Scenario) -> AsyncIterator[Agent]:
    async with (
        running_agent(scenario.settings, env=scenario.env) as agent,
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(agent.monitor.run)
        yield agent
        tasks.cancel_scope.cancel()


async def test_a_filling_vector_db_volume_is_asked_for_and_a_denial_escalates(
    standin: StandIn, tmp_path: Path, deciding: Deciding
) -> None:
    scenario = Scenario(standin, tmp_path, "voldeny", deciding)
    try:
        async with agent_running(scenario) as agent:
            incident, request = await scenario.asked(agent)
            scenario.check_the_question(incident, request)
            assert scenario.volume_and_data_intact()["size_bytes"] == 16 * MIB
            # denied from the command line (its own event loop, so in a thread)
            denied = await anyio.to_thread.run_sync(
                lambda: CliRunner().invoke(
                    main,
                    ["deny", request.id, "--note", "will move it to the big disk"],
                    env={"INFRAGUARDIAN_AGENT__STATE_DIR": str(scenario.settings.state_dir)},
                )
            )
            assert denied.exit_code == 0, denied.output
            closed = await wait_for_incident(agent.deps.store, scenario.app_name)
        assert closed.id == incident.id and closed.status == "escalated", closed.events
        assert f"approval {request.id} denied by cli:" in (closed.outcome or "")
        assert "nothing was changed" in (closed.outcome or "")
        assert closed.actions == []
        assert await pending_after(scenario.settings) == []
        assert scenario.volume_and_data_intact()["size_bytes"] == 16 * MIB
        scenario.audit_holds_only_reads()
        mine = [
            i for i in await all_incidents(scenario.settings) if i.target.get("app_name") == scenario.app_name
        ]
        assert [i.id for i in mine] == [incident.id]
    finally:
        scenario.close()


async def test_approved_the_owner_runs_the_given_command_and_the_agent_verifies(
    standin: StandIn, tmp_path: Path
) -> None:
    scenario = Scenario(standin, tmp_path, "volgrow")
    try:
        async with agent_running(scenario) as agent:
            incident, request = await scenario.asked(agent)
            change = scenario.check_the_question(incident, request)
            mountpoint = scenario.engine.volumes.get(scenario.volume).attrs["Mountpoint"]
            command = re.search(r"`(mount -o remount,size=32m [^`]+)`", change)
            assert command is not None and command.group(1).endswith(f" {mountpoint}"), change
            assert agent.deps.approvals is not None
            await agent.deps.approvals.answer(request.id, approve=True, by="e2e:owner")
            handed = await wait_for_incident(
                agent.deps.store, scenario.app_name, lambda i: i.status == "verifying" or i.closed
            )
            assert handed.status == "verifying", handed.events
            # the owner, as root on the engine's host, runs exactly the command the approval gave
            ran = await anyio.to_thread.run_sync(
                lambda: subprocess.run(
                    shlex.split(command.group(1)), capture_output=True, text=True, check=False
                )
            )
            assert ran.returncode == 0, ran.stderr
            closed = await wait_for_incident(agent.deps.store, scenario.app_name)
        assert closed.id == incident.id and closed.status == "resolved", [e.message for e in closed.events]
        assert closed.verification is not None and closed.verification["verdict"] == "healthy"
        assert closed.approved_by == "e2e:owner"
        # the agent did not act, and its record says so
        assert closed.actions == []
        assert closed.decision is not None
        assert any("the agent did not act: e2e:owner approved" in r for r in closed.decision.reasons)
        assert any(e.message.startswith("handed to e2e:owner; the agent did not act") for e in closed.events)
        # grown in place, the data kept, and nothing but reads in the audit log
        assert scenario.volume_and_data_intact()["size_bytes"] == 32 * MIB
        scenario.audit_holds_only_reads()
    finally:
        scenario.close()
