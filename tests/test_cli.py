"""The command lines as a user runs them (subprocesses), against the stand-in and the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import httpx
import pytest

from mcp_server.cli import FEATURE_COMMANDS, main
from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE


def run(
    *args: str, env: dict[str, str] | None = None, module: str = "mcp_server"
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
        check=False,
    )


def test_help_lists_every_command() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("status", "serve", "graph", "digest", "dokploy", "watch"):
        assert f"  {command} " in out.stdout, command
    agent = run("--help", module="agent_host")
    assert agent.returncode == 0 and "monitor" in agent.stdout


# Modules that `--help` must not load: each costs tenths of a second (the MCP SDK, pydantic, the
# Docker client, drain3, the tokenizer) or belongs to one sub-command only.
HEAVY_MODULES = (
    "mcp",
    "docker",
    "pydantic",
    "drain3",
    "bpe_openai",
    "httpx",
    "anyio",
    "yaml",
    "mcp_server.settings",
    "mcp_server.status",
    "mcp_server.server",
    "mcp_server.watcher",
    "mcp_server.detectors",
    "mcp_server.docker_ops",
    "mcp_server.dokploy",
    "mcp_server.compose_graph",
    "mcp_server.log_analysis",
    "mcp_server.redaction",
)

HELP_AND_MODULES = """
import json, sys
from mcp_server.cli import main
try:
    main(["--help"])
except SystemExit as stop:
    assert stop.code == 0, stop.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_help_imports_no_sub_command_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", HELP_AND_MODULES], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stderr)
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES)]
    assert heavy == []
    listed = {line.split()[0]: line for line in out.stdout.split("Commands:")[1].splitlines() if line}
    assert set(listed) == {"dokploy", *FEATURE_COMMANDS}
    for name, (_, help_text) in FEATURE_COMMANDS.items():
        assert help_text[:30] in listed[name], name


def test_help_table_matches_each_command() -> None:
    """The one-line help kept in the table is the command's own, and each name loads its command."""
    for name, (target, help_text) in FEATURE_COMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert isinstance(command, click.Command), target
        assert command.name == name or name in main.commands
        stand_in = click.Command(name, help=help_text)
        assert stand_in.get_short_help_str(limit=500) == command.get_short_help_str(limit=500), name
    assert set(main.list_commands(click.Context(main))) == {"dokploy", *FEATURE_COMMANDS}


def test_sub_command_help_and_unknown_command() -> None:
    digest = run("digest", "--help")
    assert digest.returncode == 0 and "--max-tokens" in digest.stdout
    unknown = run("nope")
    assert unknown.returncode == 2 and "No such command 'nope'" in unknown.stderr


def test_operations_listing() -> None:
    out = run("dokploy", "operations", "--openapi", str(OPENAPI_FILE), "--router", "compose")
    assert out.returncode == 0
    assert any(line.startswith("GET  compose.one ") for line in out.stdout.splitlines())
    assert all(" compose." in line for line in out.stdout.splitlines())


@pytest.mark.docker
def test_status_and_call_against_the_stand_in(dokploy_standin: StandIn, tmp_path: Path) -> None:
    h = dokploy_standin.headers
    with httpx.Client(base_url=dokploy_standin.url, headers=h, timeout=60) as api:
        env_id = api.post("/api/project.create", json={"name": "cli"}).json()["environment"]["environmentId"]
        compose = api.post(
            "/api/compose.create",
            json={
                "name": "clidemo",
                "appName": "clidemo",
                "environmentId": env_id,
                "sourceType": "raw",
                "composeFile": "services:\n  web:\n    image: ig/busybox:test\n    command: sleep 3600\n"
                "    init: true\n    labels: {ig.test: cli}\n",
            },
        ).json()
        api.post(
            "/api/compose.update", json={"composeId": compose["composeId"], "env": "API_TOKEN=canary-cli-123"}
        )
        api.post("/api/compose.deploy", json={"composeId": compose["composeId"]})
    dokploy_standin.wait_idle()
    env = {
        "DOKPLOY_URL": dokploy_standin.url,
        "DOKPLOY_API_KEY": dokploy_standin.api_key,
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path),
        "INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE": str(OPENAPI_FILE),
    }
    status = run("status", env=env)
    assert status.returncode == 0, status.stderr
    app = compose["appName"]
    line = next(ln for ln in status.stdout.splitlines() if app in ln)
    assert "[compose 'clidemo' in cli/production]" in line and "1/1 running" in line

    one = run("dokploy", "call", "compose.one", f"composeId={compose['composeId']}", env=env)
    assert one.returncode == 0, one.stderr
    body = json.loads(one.stdout)
    assert body["appName"] == app and "canary-cli-123" not in one.stdout  # env redacted by default
    bad = run("dokploy", "call", "compose.onee", "composeId=x", env=env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "did you mean compose.one" in bad.stderr


def test_status_without_dokploy_says_so(tmp_path: Path) -> None:
    out = run("status", env={"INFRAGUARDIAN_STATE_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "Dokploy not configured" in out.stdout
    broken = run("status", env={"DOCKER_HOST": "tcp://127.0.0.1:1", "INFRAGUARDIAN_STATE_DIR": str(tmp_path)})
    assert broken.returncode == 1 and broken.stderr.startswith("error: Docker engine at tcp://127.0.0.1:1")


def test_missing_api_key_and_unreachable_url_are_one_line(tmp_path: Path) -> None:
    no_key = run(
        "dokploy",
        "call",
        "project.all",
        env={"DOKPLOY_URL": "http://127.0.0.1:9", "INFRAGUARDIAN_STATE_DIR": str(tmp_path)},
    )
    assert no_key.returncode == 1 and no_key.stderr.count("\n") == 1
    assert "DOKPLOY_API_KEY is not set" in no_key.stderr
    down = run(
        "dokploy",
        "call",
        "project.all",
        env={
            "DOKPLOY_URL": "http://127.0.0.1:9",
            "DOKPLOY_API_KEY": "k",
            "INFRAGUARDIAN_STATE_DIR": str(tmp_path),
            "INFRAGUARDIAN_DOKPLOY_MAX_RETRIES": "0",
        },
    )
    assert (
        down.returncode == 1 and down.stderr.count("\n") == 1 and "cannot connect to Dokploy" in down.stderr
    )


@pytest.mark.docker
def test_status_reports_a_recent_oom_kill(tmp_path: Path) -> None:
    """The main job shows what the detectors see: an OOM kill from a minute ago is listed."""
    import docker

    engine = docker.from_env()
    name = "ig-cli-status-oom"
    try:
        c = engine.containers.run(
            "ig/busybox:test",
            ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M"],
            name=name,
            detach=True,
            mem_limit="32m",
            memswap_limit="32m",
            labels={"ig.test": "cli"},
        )
        assert c.wait(timeout=60)["StatusCode"] == 137
        out = run("status", env={"INFRAGUARDIAN_STATE_DIR": str(tmp_path)})
        assert out.returncode == 0, out.stderr
        line = next(ln for ln in out.stdout.splitlines() if name in ln and "[critical]" in ln)
        assert "OOM-killed" in line and "memory limit 32.0 MiB" in line and "(runbook oom-killed)" in line
        quiet = run("status", "--no-signals", env={"INFRAGUARDIAN_STATE_DIR": str(tmp_path)})
        assert quiet.returncode == 0 and "signals" not in quiet.stdout and name in quiet.stdout
    finally:
        engine.containers.get(name).remove(force=True)
        engine.close()
