"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector 2.12.0) as an independent client of
the stdio server: list, read, call a read tool, and see a destructive call refused by policy.

`.ci/setup` installs the Inspector (and Node 22) into ~/.cache/infraguardian-node."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.mcp_server.test_stdio_subprocess import REPO, SERVE_ARGV, pick_runbook, server_env

NODE_DIR = Path(os.environ.get("INFRAGUARDIAN_NODE_DIR", Path.home() / ".cache" / "infraguardian-node"))
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
INSPECTOR = NODE_BIN / "mcp-inspector"
TASK_LABEL = {"ig.test": "transports"}


@dataclass
class InspectorRun:
    code: int
    out: dict[str, Any]
    stderr: str


@pytest.fixture
def inspector(tmp_path: Path) -> Any:
    """inspector(*args, mode='operate') runs the Inspector CLI against a fresh stdio server."""
    assert INSPECTOR.exists(), f"{INSPECTOR} is missing: run `bash .ci/setup` (installs the MCP Inspector)"
    state = tmp_path / "state"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",  # Node 22 from the cache folder first
        "HOME": str(home),
        "MCP_INSPECTOR_SECRET_STORE": "memory",  # no keychain on CI machines
        "MCP_CATALOG_PATH": str(home / "catalog.json"),
    }

    def run(*args: str, mode: str = "operate") -> InspectorRun:
        server_vars = server_env(state, INFRAGUARDIAN_SAFETY__MODE=mode)
        argv = [str(INSPECTOR), "--cli", sys.executable, *SERVE_ARGV, "--no-detectors", "--cwd", str(REPO)]
        for key, value in server_vars.items():
            argv += ["-e", f"{key}={value}"]
        argv += [*args, "--format", "json", "-q"]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        # stdout: the one result object (none after a protocol error); stderr: the error envelope
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert len(lines) <= 1, f"expected at most one JSON object on stdout, got: {proc.stdout!r}"
        return InspectorRun(proc.returncode, json.loads(lines[0]) if lines else {}, proc.stderr)

    return run


@pytest.fixture
def compose_container() -> Iterator[tuple[str, str, docker.models.containers.Container]]:
    """(project, container name, container): one running container labelled as a compose service."""
    client = docker.from_env()
    project = f"ig-transports-{secrets.token_hex(4)}"
    name = f"{project}-web-1"
    container = client.containers.run(
        "ig/busybox:test",
        ["sleep", "600"],
        name=name,
        detach=True,
        labels={
            **TASK_LABEL,
            "com.docker.compose.project": project,
            "com.docker.compose.service": "web",
            "com.docker.compose.container-number": "1",
            "com.docker.compose.oneoff": "False",
        },
    )
    try:
        yield project, name, container
    finally:
        container.remove(force=True)
        client.close()


def test_inspector_lists_tools_resources_and_prompts(inspector: Any) -> None:
    # three independent clients at once (each starts its own server): the machine has 2 cores
    with ThreadPoolExecutor(max_workers=3) as pool:
        tools, resources, prompts = pool.map(
            lambda method: inspector("--method", method), ["tools/list", "resources/list", "prompts/list"]
        )
    assert tools.code == 0, tools.stderr
    by_name = {t["name"]: t for t in tools.out["result"]["tools"]}
    assert by_name["list_inventory"]["annotations"]["readOnlyHint"] is True
    assert "restart_service" in by_name
    assert by_name["restart_service"]["annotations"]["readOnlyHint"] is False

    assert resources.code == 0, resources.stderr
    uris = [r["uri"] for r in resources.out["result"]["resources"]]
    runbook_uri = pick_runbook(uris)

    read = inspector("--method", "resources/read", "--uri", runbook_uri)
    assert read.code == 0, read.stderr
    (content,) = read.out["result"]["contents"]
    assert content["uri"] == runbook_uri
    assert content["mimeType"] == "application/yaml"
    assert f"name: {runbook_uri.removeprefix('runbook://')}" in content["text"]

    assert prompts.code == 0, prompts.stderr
    listed = {p["name"]: p for p in prompts.out["result"]["prompts"]}
    assert "diagnose_service" in listed
    assert all(p.get("description") for p in listed.values()), "every prompt needs a description"


def test_inspector_reading_an_unknown_runbook_is_a_protocol_error(inspector: Any) -> None:
    missing = inspector("--method", "resources/read", "--uri", "runbook://no-such-runbook")
    assert missing.code == 1
    assert missing.out == {}
    envelope = json.loads(missing.stderr.strip().splitlines()[-1])
    assert envelope["error"]["message"].startswith("no runbook 'no-such-runbook'; known: ")


@pytest.mark.docker
def test_inspector_calls_a_read_tool_and_sees_a_destructive_call_refused(
    inspector: Any, compose_container: tuple[str, str, Any]
) -> None:
    project, name, container = compose_container
    container.reload()
    started_at = container.attrs["State"]["StartedAt"]

    inventory = inspector("--method", "tools/call", "--tool-name", "list_inventory", mode="read-only")
    assert inventory.code == 0, inventory.stderr
    result = inventory.out["result"]
    assert result.get("isError") is not True
    apps = {e["app_name"]: e for e in result["structuredContent"]["entries"]}
    assert [s["name"] for s in apps[project]["services"]] == ["web"]

    restart = inspector(
        "--method",
        "tools/call",
        "--tool-name",
        "restart_service",
        "--tool-arg",
        f"app_name={project}",
        "--tool-arg",
        f"container={name}",
        "--tool-arg",
        "dry_run=false",
        mode="read-only",
    )
    assert restart.code == 5, (restart.out, restart.stderr)  # 5: the tool returned isError
    assert restart.out["result"]["isError"] is True
    assert json.loads(restart.stderr.strip().splitlines()[-1])["error"]["code"] == "tool_is_error"
    text = restart.out["result"]["content"][0]["text"]
    assert "refused by policy" in text
    assert "read-only" in text
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started_at, "a refused restart must not restart"
    assert container.status == "running"
