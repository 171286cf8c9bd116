"""The `graph` command: JSON shape, readable summary, one-line errors with exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcp_server.compose_graph.cli import graph
from tests.conftest import SHARED

COMPOSE = """services:
  web:
    image: nginx
    depends_on: [api]
  api:
    image: acme/api
    links: ["db:database"]
    environment:
      REDIS_URL: redis://cache:6379
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD in .env}
  cache:
    image: redis:7
    mem_limit: 128m
  db:
    image: postgres:16
    healthcheck: {test: [CMD, pg_isready]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / ".env").write_text("DB_PASSWORD=secret\n")
    return tmp_path / "docker-compose.yml"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(graph, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_shape(project: Path) -> None:
    code, out, err = _run(str(project), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["start_order"] == ["cache", "db", "api", "web"]
    api = data["services"]["api"]
    assert api["depends_on"] == ["db"]
    assert api["implicit"] == [{"service": "cache", "evidence": "REDIS_URL", "source": "environment"}]
    assert api["dependants"] == ["web"]
    assert data["services"]["cache"]["dependants"] == ["api"]  # implicit users count as dependants
    assert data["services"]["db"]["blast_radius"] == ["api", "web"]
    assert data["services"]["web"]["upstream"] == ["cache", "db", "api"]
    assert api["explicit"][0] == {
        "service": "db",
        "via": "links",
        "condition": "service_started",
        "required": True,
        "restart": True,
        "line": 7,
    }
    assert data["services"]["db"]["kind"] == "database"
    codes = {(f["code"], f["service"]) for f in data["findings"]}
    assert ("no-memory-limit", "cache") not in codes and ("no-memory-limit", "db") in codes
    assert ("no-healthcheck", "db") not in codes and ("no-healthcheck", "cache") in codes


def test_text_summary(project: Path) -> None:
    code, out, _ = _run(str(project))
    assert code == 0
    assert "Start order: cache, db, api, web" in out
    assert "api (app, image acme/api)" in out
    assert "  implicit:     cache (named in environment REDIS_URL)" in out
    assert "  blast radius: api, web" in out
    assert "db (database: postgres, image postgres:16)" in out
    assert "no-memory-limit" in out and "(line 2)" in out


def test_env_file_option(project: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").unlink()
    code, _, err = _run(str(project), "--json")
    assert code == 1
    reason = 'required variable "DB_PASSWORD" is missing a value: set DB_PASSWORD in .env'
    assert err == f"error: {project}:10: {reason}\n"
    other = tmp_path / "prod.env"
    other.write_text("DB_PASSWORD=x\n")
    code, out, _ = _run(str(project), "--env-file", str(other), "--json")
    assert code == 0 and json.loads(out)["start_order"]


def test_dokploy_template_option(tmp_path: Path) -> None:
    corpus = SHARED / "corpora" / "dokploy-templates" / "ackee"
    code, out, err = _run(
        str(corpus / "docker-compose.yml"), "--dokploy-template", str(corpus / "template.toml"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["services"]["ackee"]["implicit"] == [
        {"service": "mongo", "evidence": "ACKEE_MONGODB", "source": "environment"}
    ]
    code, _, err = _run(str(corpus / "docker-compose.yml"), "--dokploy-template", "x", "--env-file", "y")
    assert code == 1 and err == "error: use either --env-file or --dokploy-template, not both\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  a: [\n", ":3: invalid YAML"),
        (
            "services:\n  a:\n    image: x\n    depends_on: [ghost]\n",
            ':4: service "a" depends on undefined service "ghost"',
        ),
        (
            "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
            "cycle detected: a -> b -> a",
        ),
        ("volumes: {}\n", "no `services` section"),
    ],
)
def test_errors_are_one_line_on_stderr(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    code, out, err = _run(str(path), "--json")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert expected in err


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = _run(str(tmp_path / "nope.yml"))
    assert code == 1
    assert err.startswith("error: cannot read compose file") and err.count("\n") == 1


def test_runs_as_a_program(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_server.compose_graph.cli", str(project), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["start_order"] == ["cache", "db", "api", "web"]
    bad = project.parent / "bad.yml"
    bad.write_text("services: [")
    proc = subprocess.run(
        [sys.executable, "-m", "mcp_server.compose_graph.cli", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
