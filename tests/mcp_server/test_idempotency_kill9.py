"""`kill -9` of the stdio server in the middle of a restart, then a new server and the same call
with the same idempotency key: the container was restarted once, and the repeat answers that the
outcome is unknown instead of restarting it again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from mcp_server.server.idempotent_calls import IDEMPOTENCY_KEY_META, UNKNOWN_OUTCOME
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.test_stdio_subprocess import REPO, SERVE_ARGV, server_env

pytestmark = pytest.mark.docker
engine, make_container = fx.engine, fx.make_container

# ignores SIGTERM, so `docker restart` waits its 10 s grace before SIGKILL: time to kill the server
STUBBORN = "trap '' TERM; while :; do sleep 1; done"


class RawServer:
    """`python -m mcp_server serve` over stdio, spoken to in raw JSON-RPC (so it can be killed)."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.errlog = (tmp_path / f"{name}.stderr.log").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, *SERVE_ARGV, "--no-detectors"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
            text=True,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **server_env(tmp_path / "state")},
            cwd=REPO,
        )
        self.next_id = 1
        init = self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "agent", "version": "0"},
            },
        )
        assert init["result"]["serverInfo"]["name"] == "infraguardian"
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def call(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        sent = self.call(method, params)
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed stdout; stderr: " + Path(self.errlog.name).read_text()
            message: dict[str, Any] = json.loads(line)
            if message.get("id") == sent:
                return message

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.errlog.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[[str], RawServer]]:
    started: list[RawServer] = []

    def start(name: str) -> RawServer:
        started.append(RawServer(tmp_path, name))
        return started[-1]

    yield start
    for server in started:
        server.close()


def key_state(state_dir: Path, key: str) -> str | None:
    with sqlite3.connect(state_dir / "safety.sqlite3") as conn:
        row = conn.execute("SELECT state FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def term_sent(engine: docker.DockerClient, container: str, since: int) -> bool:
    events = engine.events(
        since=since,
        until=int(time.time()) + 1,
        decode=True,
        filters={"container": container, "event": "kill"},
    )
    return any((e.get("Actor") or {}).get("Attributes", {}).get("signal") == "15" for e in events)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_mid_restart_then_the_same_key_restarts_nothing_more(
    tmp_path: Path,
    servers: Callable[[str], RawServer],
    engine: docker.DockerClient,
    make_container: Callable[..., Container],
) -> None:
    container = make_container(command=STUBBORN)
    name = str(container.name)
    before = fx.started_at(engine, name)
    since = int(time.time()) - 1
    call = {
        "name": "restart_service",
        "arguments": {"app_name": name, "container": name},
        "_meta": {IDEMPOTENCY_KEY_META: "inc-kill9:step-1"},
    }
    first = servers("first")
    first.call("tools/call", call)
    wait_for(lambda: key_state(tmp_path / "state", "inc-kill9:step-1") == "authorized", 30, "the policy")
    # the engine got the restart: it sent SIGTERM and now waits out the grace period
    wait_for(lambda: term_sent(engine, name, since), 30, "the engine's SIGTERM")
    assert fx.started_at(engine, name) == before, "the restart ended before the kill: test timing broke"
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    # the engine finishes the restart it was asked for: one restart
    wait_for(lambda: fx.started_at(engine, name) != before, 30, "the engine's restart")
    restarted = fx.started_at(engine, name)

    second = servers("second")
    answer = second.request("tools/call", call)["result"]
    again = second.request("tools/call", call)["result"]
    time.sleep(2)  # a wrongly repeated restart would have begun by now
    assert fx.started_at(engine, name) == restarted and fx.state(engine, name) == "running"
    for result in (answer, again):
        assert result["isError"] is True
        assert result["structuredContent"]["outcome"] == UNKNOWN_OUTCOME
        assert "check the target before retrying" in result["content"][0]["text"]
    assert key_state(tmp_path / "state", "inc-kill9:step-1") == "authorized"
