"""`kill -9` of the agent process in the middle of an action, then a restart: the incident resumes
and nothing is done twice.

The real `infraguardian-agent run --json` runs as a child process (runbook-only), and spawns the real
server over stdio, wired to a Dokploy stand-in. The API is OOM-killed under 32 MiB; the agent raises
the limit with `set_memory_limit` (live `docker update`, then the compose file saved in Dokploy). The
stand-in holds its answer to that `compose.update` for a few seconds, and the agent is killed with
SIGKILL the moment the update arrives: the server is mid-action, the agent never hears the answer.
The server, its client gone, still finishes the action (a client going away never cuts an action in
half), records its answer under the call's idempotency key, and exits.

A second agent resumes the incident from its checkpoint, sends the same call with the same
idempotency key (`<incident>:act:0`), and the server answers from its record instead of acting again.
Checked on every side: the incident (resolved, its action marked replayed), the engine (64 MiB: twice
the limit the incident saw, in case another agent on a shared engine raised it first), the
compose Dokploy keeps, the server's audit log and idempotency record, and the requests the stand-in saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml

from agent_host.incidents.model import Incident
from agent_host.settings import AgentSettings
from standins.dokploy.app import DokployApp
from standins.dokploy.server import StandIn
from tests.mcp_server.act_fixtures import LABELS, StandInAPI

from .conftest import MIB, Deciding, all_incidents, server_env, watch_only
from .test_oom_raise import oom_compose

pytestmark = pytest.mark.anyio

AGENT = Path(sys.executable).with_name("infraguardian-agent")
HOLD_UPDATE_S = 3.0  # how long the stand-in holds its answer to the limit's compose.update


@dataclass
class SeenRequest:
    procedure: str  # e.g. "compose.update"
    compose_id: str | None


class RecordingDokploy:
    """ASGI middleware in front of the stand-in: notes every `compose.*` POST once it has been
    handled, and holds the answer to a `compose.update` of `hold_compose_id` (the change is made,
    the caller waits), setting `update_arrived` at that moment."""

    def __init__(self, app: DokployApp) -> None:
        self.app = app
        self.seen: list[SeenRequest] = []
        self.hold_compose_id: str | None = None
        self.update_arrived = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith("/api/compose."):
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def receive_noting_body() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def send_after_noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                seen = SeenRequest(path.removeprefix("/api/"), _compose_id(bytes(body)))
                self.seen.append(seen)
                if seen.procedure == "compose.update" and seen.compose_id == self.hold_compose_id:
                    self.update_arrived.set()
                    await asyncio.sleep(HOLD_UPDATE_S)
            await send(message)

        await self.app(scope, receive_noting_body, send_after_noting)


def _compose_id(body: bytes) -> str | None:
    with contextlib.suppress(ValueError):
        data = json.loads(body or b"{}")
        if isinstance(data, dict):
            found = data.get("composeId") or (data.get("json") or {}).get("composeId")
            return str(found) if found else None
    return None


class RecordingStandIn(StandIn):
    """The Dokploy stand-in behind `RecordingDokploy` (`.recorder`)."""

    recorder: RecordingDokploy

    def _asgi(self) -> Any:
        self.recorder = RecordingDokploy(super()._asgi())
        return self.recorder


@pytest.fixture
def recording_standin() -> Iterator[RecordingStandIn]:
    made = RecordingStandIn(service_labels=LABELS)
    with made.serving():
        yield made


# -- processes -------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (state is [0], ppid [1], start time [19])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


@dataclass(frozen=True)
class Proc:
    pid: int
    started: str  # start time in ticks: tells this process from a later one with the same pid

    def alive(self) -> bool:
        fields = _stat(self.pid)
        return fields is not None and fields[19] == self.started and fields[0] != "Z"


def spawned_server(agent_pid: int) -> Proc | None:
    """The MCP server the agent spawned over stdio (its child running `-m mcp_server`)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or int(fields[1]) != agent_pid:
            continue
        with contextlib.suppress(OSError):
            if b"mcp_server" in (entry / "cmdline").read_bytes():
                return Proc(int(entry.name), fields[19])
    return None


class AgentProcess:
    """`infraguardian-agent run --json` as a child process; its lines go to `<log>.out`/`.err`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.out_path, self.err_path = log.with_suffix(".out"), log.with_suffix(".err")
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            # the dashboard on any free port: two of these agents (or a real one) never collide on 8766
            env = {**env, "INFRAGUARDIAN_AGENT__DASHBOARD__PORT": "0"}
            self.process = subprocess.Popen([str(AGENT), "run", "--json"], env=env, stdout=out, stderr=err)
        self.server: Proc | None = None

    def lines(self) -> list[dict[str, Any]]:
        text = self.out_path.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    async def wait_for_server(self, timeout_s: float = 90) -> Proc:
        with anyio.fail_after(timeout_s):
            while self.server is None:
                assert self.process.poll() is None, f"the agent exited early: {self.stderr()}"
                self.server = spawned_server(self.process.pid)
                await anyio.sleep(0.1)
        return self.server

    async def wait_gone(self, timeout_s: float = 60) -> None:
        """The agent and the server it spawned have both ended."""
        with anyio.fail_after(timeout_s):
            while True:
                server_alive = self.server is not None and self.server.alive()
                if self.process.poll() is not None and not server_alive:
                    return
                await anyio.sleep(0.2)

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)


# -- the server's records --------------------------------------------------------------------------


def server_rows(server_state: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    conn = sqlite3.connect(server_state / "safety.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


async def test_kill_9_mid_action_then_a_restart_resumes_and_repeats_nothing(
    recording_standin: RecordingStandIn, tmp_path: Path, deciding: Deciding
) -> None:
    standin = recording_standin
    api = StandInAPI(standin)
    engine = docker.from_env()
    scope, watch = watch_only("kill")
    compose_id, app_name = api.deployed_compose("killresume", oom_compose(scope))
    standin.recorder.hold_compose_id = compose_id
    standin.recorder.seen.clear()  # from here on: only what the agent's server asks
    agent_state, server_state = tmp_path / "agent", tmp_path / "server"
    env = server_env(standin, server_state, **watch)
    for name in ("OLLAMA_HOST", "INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST"):
        env.pop(name, None)
    if deciding.ollama is not None:  # the agent processes ask the scripted model
        env["INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST"] = deciding.ollama.url
    deciding.script(app_name, "raise-memory-limit", "out of memory under a 32 MiB limit")
    env.update(
        INFRAGUARDIAN_AGENT__STATE_DIR=str(agent_state),
        INFRAGUARDIAN_AGENT__POLL_S="0.5",
        INFRAGUARDIAN_AGENT__VERIFY_WINDOW_MAX_S="8",
        INFRAGUARDIAN_AGENT__VERIFY_INTERVAL_S="1",
    )
    settings = AgentSettings(state_dir=agent_state)
    agents: list[AgentProcess] = []
    try:
        # 1. the first agent acts; killed -9 while the server is saving the new limit in Dokploy
        first = AgentProcess(env, tmp_path / "agent-1")
        agents.append(first)
        await first.wait_for_server()
        with anyio.fail_after(150):
            while not standin.recorder.update_arrived.is_set():
                assert first.process.poll() is None, f"the agent exited early: {first.stderr()}"
                await anyio.sleep(0.02)
        first.kill()
        await first.wait_gone()  # its server must not outlive it (it ends when its stdin closes)
        (mid,) = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        key = f"{mid.id}:act:0"
        assert not mid.closed and not any(a.key == key for a in mid.actions), mid.events
        assert any(line.get("step") == "plan_solution" for line in first.lines())

        # 2. a new agent resumes it from the checkpoint
        second = AgentProcess(env, tmp_path / "agent-2")
        agents.append(second)
        await second.wait_for_server()
        resolved = await _closed_incident(settings, mid.id, second)
        with anyio.fail_after(30):  # the store is written first, the printed line a moment later
            while True:
                steps = {(line.get("incident"), line.get("step")) for line in second.lines()}
                if (mid.id, "learn") in steps:
                    break
                await anyio.sleep(0.1)
        second.process.send_signal(signal.SIGINT)  # a clean stop: it closes its server too
        await second.wait_gone()
        assert second.process.returncode == 0, second.stderr()

        assert resolved.status == "resolved", resolved.events
        assert resolved.decision is not None and resolved.decision.solution == "raise-memory-limit"
        deciding.check(resolved.decision)  # decided once, before the kill; never asked again
        (action,) = [a for a in resolved.actions if ":act:" in a.key]
        # the answer the first agent never heard came from the server's record
        assert action.key == key and action.ok and action.replayed, action
        raised = 2 * int(resolved.facts["memory_limit_bytes"])  # 64 MiB, unless raised by another agent
        assert action.arguments["memory"] == resolved.facts["proposed_memory"] == f"{raised // MIB}m"
        assert any("replayed from the server's record" in e.message for e in resolved.events)
        resumed_steps = {line.get("step") for line in second.lines() if line.get("incident") == mid.id}
        assert {"execute_action", "verify_fix", "learn"} <= resumed_steps
        assert "detect_incident" not in resumed_steps  # resumed, not opened again
        mine = [i for i in await all_incidents(settings) if i.target.get("app_name") == app_name]
        assert len(mine) == 1

        # the engine and Dokploy: the new limit live and persisted. Live, "at least": other agents
        # watching a shared engine (other tests' servers) may raise an OOM-killed container further;
        # this agent's single change is proven by the server's records below
        containers = engine.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={app_name}"}
        )
        limits = [c.attrs["HostConfig"]["Memory"] for c in containers]
        assert limits and all(limit >= raised for limit in limits), (limits, raised)
        persisted = yaml.safe_load(api.compose(compose_id)["composeFile"])
        assert persisted["services"]["api"]["mem_limit"] in (f"{raised // MIB}m", raised, str(raised))

        # the server acted once for the key, and answered the repeat from its record
        (record,) = server_rows(server_state, "SELECT * FROM idempotency_keys WHERE key = ?", key)
        assert record["state"] == "finished" and not record["is_error"], dict(record)
        # (this stack's rows only: the agent also handles whatever else breaks on a shared engine)
        acted = server_rows(
            server_state,
            "SELECT * FROM audit_log WHERE tool = 'set_memory_limit' AND dry_run = 0 "
            "AND action != 'replay' AND target_key LIKE ?",
            f"%{app_name}%",
        )
        assert [(r["decision_id"], r["result"]) for r in acted] == [(record["decision_id"], "ok")]
        replays = [
            r
            for r in server_rows(server_state, "SELECT * FROM audit_log WHERE action = 'replay'")
            if json.loads(r["arguments"]).get("_idempotency_key") == key
        ]
        assert [(r["tool"], r["code"], r["result"]) for r in replays] == [
            ("set_memory_limit", "replayed", "ok")
        ]

        # and Dokploy was asked to save the new compose file exactly once (and nothing redeployed it)
        mine_seen = [s.procedure for s in standin.recorder.seen if s.compose_id == compose_id]
        assert mine_seen.count("compose.update") == 1, mine_seen
        assert not {"compose.deploy", "compose.redeploy"} & set(mine_seen), mine_seen
    finally:
        for agent in agents:
            agent.kill()
            agent.process.wait(30)
            if agent.server is not None and agent.server.alive():
                os.kill(agent.server.pid, signal.SIGKILL)
        api.close()
        with contextlib.suppress(Exception):
            engine.close()


async def _closed_incident(settings: AgentSettings, incident_id: str, agent: AgentProcess) -> Incident:
    with anyio.fail_after(150):
        while True:
            assert agent.process.poll() is None, f"the agent exited: {agent.stderr()}"
            for incident in await all_incidents(settings):
                if incident.id == incident_id and incident.closed:
                    return incident
            await anyio.sleep(1)
