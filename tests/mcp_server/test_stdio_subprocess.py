"""`python -m mcp_server serve` over stdio, as a real child process driven by the SDK's client.

The child gets a minimal environment (as Claude Desktop gives it): PATH, HOME and what we pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import TextResourceContents

from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE

REPO = Path(__file__).resolve().parents[2]
SERVE_ARGV = ["-m", "mcp_server", "serve"]


def server_env(state_dir: Path, standin: StandIn | None = None, **extra: str) -> dict[str, str]:
    """The variables a client config would set for the server (no inherited environment)."""
    env = {"INFRAGUARDIAN_STATE_DIR": str(state_dir), **extra}
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    if standin is not None:
        env.update(
            DOKPLOY_URL=standin.url,
            DOKPLOY_API_KEY=standin.api_key,
            INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE=str(OPENAPI_FILE),
        )
    return env


def pick_runbook(uris: list[str]) -> str:
    """runbook://oom-killed, or any listed runbook if that one is not written yet."""
    books = [u for u in uris if u.startswith("runbook://") and u != "runbook://index"]
    assert books, f"no runbook resource listed: {uris}"
    return "runbook://oom-killed" if "runbook://oom-killed" in books else books[0]


@pytest.mark.docker
@pytest.mark.anyio
async def test_stdio_server_lists_reads_and_calls(tmp_path: Path, dokploy_standin: StandIn) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[*SERVE_ARGV, "--no-detectors"],
        env=server_env(tmp_path / "state", dokploy_standin),
        cwd=str(REPO),
    )
    errlog_path = tmp_path / "stderr.log"
    with errlog_path.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            assert init.server_info.name == "infraguardian"

            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert "list_inventory" in tools
            assert tools["list_inventory"].annotations is not None
            assert tools["list_inventory"].annotations.read_only_hint is True

            uris = [str(r.uri) for r in (await session.list_resources()).resources]
            runbook_uri = pick_runbook(uris)
            contents = (await session.read_resource(runbook_uri)).contents
            assert len(contents) == 1
            assert isinstance(contents[0], TextResourceContents)
            assert contents[0].mime_type == "application/yaml"
            assert f"name: {runbook_uri.removeprefix('runbook://')}" in contents[0].text

            prompts = {p.name for p in (await session.list_prompts()).prompts}
            assert "diagnose_service" in prompts

            result = await session.call_tool("list_inventory", {})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["dokploy_connected"] is True
            assert result.structured_content["host"] == "local"
    # the Dokploy API key reached the child through env only, and is never logged
    assert dokploy_standin.api_key not in errlog_path.read_text()


def test_stdout_carries_only_json_rpc(tmp_path: Path) -> None:
    """Raw protocol check: every stdout line is one JSON-RPC message; logs went to stderr."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "prompts/list"},
    ]
    # Keep stdin open until both answers are in: closing it at once races the server's shutdown
    # against its last reply (a clean-clone CI run lost the prompts/list answer that way).
    errlog = (tmp_path / "stderr.log").open("w+")  # a file: a full stderr pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, *SERVE_ARGV, "--no-detectors", "--log-level", "debug"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errlog,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **server_env(tmp_path / "state")},
        cwd=REPO,
    )
    assert proc.stdin is not None and proc.stdout is not None
    messages: list[dict[str, Any]] = []
    try:
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            if "id" in request:
                line = proc.stdout.readline()  # the server answers each request before the next
                assert line, (tmp_path / "stderr.log").read_text()
                messages.append(json.loads(line))
        proc.stdin.close()
        rest = proc.stdout.read()
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        errlog.close()
    stderr = (tmp_path / "stderr.log").read_text()
    assert proc.returncode == 0, stderr
    assert rest == "", f"unexpected stdout after the replies: {rest!r}"
    assert [m.get("id") for m in messages] == [1, 2]
    assert all(m["jsonrpc"] == "2.0" and "result" in m for m in messages)
    assert messages[0]["result"]["serverInfo"]["name"] == "infraguardian"
    assert stderr.strip(), "debug logging should have written to stderr"


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("bad-setting", 2, "error: invalid setting INFRAGUARDIAN_MCP_TRANSPORT"),
        ("bad-state-dir", 2, "error: cannot create the state directory"),
        ("bad-runbook", 2, "error: invalid runbook in "),
        (
            "broken-state",
            1,
            "error: the MCP server stopped: SafetyStoreError: cannot create the safety database",
        ),
    ],
)
def test_start_up_errors_are_one_line_on_stderr(tmp_path: Path, case: str, code: int, message: str) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path / "state"),
    }
    if case == "bad-setting":
        env["INFRAGUARDIAN_MCP_TRANSPORT"] = "carrier-pigeon"
    elif case == "bad-state-dir":
        (tmp_path / "file").write_text("")
        env["INFRAGUARDIAN_STATE_DIR"] = str(tmp_path / "file" / "state")
    elif case == "bad-runbook":
        (tmp_path / "runbooks").mkdir()
        (tmp_path / "runbooks" / "x.yaml").write_text("name: Not A Valid Name\n")
        env["INFRAGUARDIAN_RUNBOOKS_DIR"] = str(tmp_path / "runbooks")
    else:  # the server starts, then its lifespan fails opening the safety database
        (tmp_path / "state" / "safety.sqlite3").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, *SERVE_ARGV, "--no-detectors"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(message), lines[0]
