"""deploy/docker-compose.yml as Docker Compose reads it (`docker compose config`, no engine needed)
with the variables of deploy/.env.example filled in, and the image's health check script.

What a Dokploy user relies on without reading the file: every service, the optional one too, is
marked as InfraGuardian itself; only the MCP server holds the Docker socket; nothing publishes a
port (the dashboard is reached through Traefik); a missing secret stops the deploy naming it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from mcp_server.docker_ops.compose_binary import compose_command

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SOCKET = "/var/run/docker.sock"
FILLED = {
    "DOKPLOY_API_KEY": "key-from-dokploy",
    "INFRAGUARDIAN_TOKEN": "t" * 43,
    "POSTGRES_PASSWORD": "0123abcd",
    "DOCKER_SOCKET_GID": "988",
}


def example_env(**changes: str) -> str:
    """deploy/.env.example with the empty required values filled in, then `changes` applied."""
    lines = []
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            value = changes.get(key, value or FILLED.get(key, ""))
        lines.append(f"{key}{sep}{value}" if sep else line)
    return "\n".join(lines) + "\n"


def compose_config(tmp_path: Path, env_text: str, *profiles: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "docker-compose.yml").write_bytes((DEPLOY / "docker-compose.yml").read_bytes())
    (tmp_path / ".env").write_text(env_text, encoding="utf-8")
    argv = [*compose_command(), *(f"--profile={p}" for p in profiles), "config", "--format", "yaml"]
    # Dokploy runs compose as `env -i PATH="$PATH" HOME="$HOME"`: the variables come from .env only
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
    return subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False, env=env
    )


@pytest.fixture
def services(tmp_path: Path) -> dict[str, Any]:
    result = compose_config(tmp_path, example_env(), "chroma")
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout)["services"])


def test_every_service_is_marked_as_infraguardian_itself(services: dict[str, Any]) -> None:
    assert set(services) == {"mcp", "agent", "postgres", "chroma"}
    for name, service in services.items():
        assert service["labels"]["io.infraguardian.self"] == "true", name


def test_only_the_mcp_server_holds_the_docker_socket_and_nothing_publishes_a_port(
    services: dict[str, Any],
) -> None:
    holders = {n for n, s in services.items() if any(v.get("source") == SOCKET for v in s.get("volumes", []))}
    assert holders == {"mcp"}
    assert services["mcp"]["group_add"] == ["988"], "the socket's group, from DOCKER_SOCKET_GID"
    assert all("ports" not in s for s in services.values())
    routed = {n for n, s in services.items() if s["labels"].get("traefik.enable") == "true"}
    assert routed == {"agent"}
    assert "Host(`guardian.example.com`)" in services["agent"]["labels"].values()


def test_the_agent_uses_the_stacks_server_database_and_token(services: dict[str, Any]) -> None:
    agent = services["agent"]["environment"]
    assert agent["INFRAGUARDIAN_AGENT__SERVER_URL"] == "http://mcp:8765/mcp"
    assert (
        agent["INFRAGUARDIAN_AGENT__SERVER_TOKEN"]
        == services["mcp"]["environment"]["INFRAGUARDIAN_MCP_TOKEN"]
    )
    assert (
        agent["INFRAGUARDIAN_AGENT__DATABASE_URL"]
        == "postgresql://infraguardian:0123abcd@postgres:5432/infraguardian"
    )
    assert agent["INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_CHAT_IDS"] == "[]", (
        "Telegram off until a chat is set"
    )
    assert services["mcp"]["environment"]["INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS"] == "{}"


def test_chroma_starts_only_with_its_profile(tmp_path: Path) -> None:
    result = compose_config(tmp_path, example_env())
    assert result.returncode == 0, result.stderr
    assert set(yaml.safe_load(result.stdout)["services"]) == {"mcp", "agent", "postgres"}


@pytest.mark.parametrize(
    "missing", ["DOKPLOY_API_KEY", "INFRAGUARDIAN_TOKEN", "POSTGRES_PASSWORD", "DOCKER_SOCKET_GID"]
)
def test_a_missing_secret_stops_the_deploy_naming_it(tmp_path: Path, missing: str) -> None:
    result = compose_config(tmp_path, example_env(**{missing: ""}))
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value: set {missing}" in result.stderr


def healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("infraguardian_healthcheck", DEPLOY / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("kind", "env", "url"),
    [
        ("server", {}, None),  # stdio: nothing listens
        ("server", {"INFRAGUARDIAN_MCP_TRANSPORT": "streamable-http", "INFRAGUARDIAN_MCP_HOST": "0.0.0.0"},
         "http://127.0.0.1:8765/healthz"),
        ("server", {"INFRAGUARDIAN_MCP_TRANSPORT": "sse", "INFRAGUARDIAN_MCP_HOST": "::", "INFRAGUARDIAN_MCP_PORT": "9000"},
         "http://[::1]:9000/healthz"),
        ("agent", {}, "http://127.0.0.1:8766/healthz"),
        ("agent", {"INFRAGUARDIAN_AGENT__DASHBOARD__HOST": "10.0.0.5"}, "http://10.0.0.5:8766/healthz"),
        ("agent", {"INFRAGUARDIAN_AGENT__DASHBOARD__ENABLED": "false"}, None),
    ],
)  # fmt: skip
def test_the_health_check_asks_where_the_program_listens(
    kind: str, env: dict[str, str], url: str | None
) -> None:
    assert healthcheck_module().health_url(kind, env) == url


def test_the_health_check_fails_when_nothing_answers() -> None:
    module = healthcheck_module()
    problem = module.check("http://127.0.0.1:9/healthz")
    assert problem is not None and "did not answer" in problem


def test_the_server_health_check_names_a_missing_docker_socket(tmp_path: Path) -> None:
    module = healthcheck_module()
    missing = tmp_path / "docker.sock"
    problem = module.socket_problem({"DOCKER_HOST": f"unix://{missing}"})
    assert problem is not None and f"no Docker socket at {missing}" in problem
    missing.touch()
    assert module.socket_problem({"DOCKER_HOST": f"unix://{missing}"}) is None
    assert module.socket_problem({"DOCKER_HOST": "tcp://10.0.0.2:2376"}) is None
