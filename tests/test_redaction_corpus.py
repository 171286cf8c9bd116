"""The canary corpus (tests/data/canaries.yaml) through both redaction entry points and the CLI.

Every secret shape must lose its canaries and keep the names around them; every clean case must
come back unchanged. The text cases also go through `redact()` as a string field and as a list of
log lines (how signals carry `last_log_lines`), the structured cases as JSON-like values. The
`digest` and `graph` commands run as programs over the corpus; `status` and `dokploy call` run on a
real stack in tests/mcp_server/test_canaries_every_path.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_server.compose_graph.graph import ComposeGraph
from mcp_server.compose_graph.report import build_report, render_text
from mcp_server.docker_ops.models import ContainerSummary, GroupService, Inventory, InventoryGroup
from mcp_server.log_analysis.digest import digest_log
from mcp_server.log_analysis.render import render_digest
from mcp_server.redaction import redact, redact_lines, redact_text
from mcp_server.status import render

CORPUS_FILE = Path(__file__).parent / "data" / "canaries.yaml"
CORPUS: dict[str, list[dict[str, Any]]] = yaml.safe_load(CORPUS_FILE.read_text())


def _ids(section: str) -> list[str]:
    return [case["id"] for case in CORPUS[section]]


def all_canaries() -> list[str]:
    """Every canary value of the corpus (text and structured cases)."""
    return [c for section in ("secrets", "structured") for case in CORPUS[section] for c in case["canaries"]]


def corpus_log_lines() -> list[str]:
    """Every text case, secret and clean, as the lines a container would print."""
    return [
        line
        for section in ("secrets", "clean")
        for case in CORPUS[section]
        for line in case["text"].split("\n")
    ]


def corpus_log() -> list[str]:
    """The corpus as a container log in which each case is an ERROR event (so a digest shows it);
    key material is printed bare, as a process dumping a key would."""
    lines: list[str] = []
    for case in CORPUS["secrets"] + CORPUS["clean"]:
        text = case["text"] if case["id"].startswith("pem-") else f"ERROR {case['text']}"
        lines += text.split("\n")
    return lines


def leaks(output: str, case: dict[str, Any]) -> list[str]:
    return [c for c in case["canaries"] if c in output]


def test_corpus_is_well_formed() -> None:
    canaries = all_canaries()
    assert len(canaries) == len(set(canaries)), "canary values must be unique"
    assert all("CANARY" in c for c in canaries)
    for case in CORPUS["secrets"]:
        for canary in case["canaries"]:
            assert canary in case["text"], (case["id"], canary)
    for case in CORPUS["clean"] + CORPUS["clean_structured"]:
        assert "CANARY" not in json.dumps(case), case["id"]


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=_ids("secrets"))
def test_text_shape_loses_its_canaries_and_keeps_names(case: dict[str, Any]) -> None:
    out = redact_text(case["text"])
    assert not leaks(out, case), out
    assert "CANARY" not in out, out
    for kept in case["keep"]:
        assert kept in out, (kept, out)
    assert out.count("\n") == case["text"].count("\n")  # line breaks stay (redact_lines relies on it)
    assert redact_text(out) == out  # idempotent: redacting twice changes nothing


@pytest.mark.parametrize("case", CORPUS["secrets"], ids=_ids("secrets"))
def test_text_shape_through_structured_redact(case: dict[str, Any]) -> None:
    as_field = json.dumps(redact({"message": case["text"]}))
    as_lines = json.dumps(redact({"last_log_lines": case["text"].split("\n")}))
    assert not leaks(json.loads(as_field)["message"], case), as_field
    assert not leaks("\n".join(json.loads(as_lines)["last_log_lines"]), case), as_lines


# How log readers show a line: the server's raw logs, `docker logs --timestamps`, Dokploy's readLogs.
READER_PREFIXES = {
    "raw-logs": "2026-03-01T10:00:00.123456+00:00 stdout ",
    "docker-timestamps": "2026-03-01T10:00:00.123456789Z ",
    "no-timestamp": "- stderr ",
}


@pytest.mark.parametrize("prefix", READER_PREFIXES.values(), ids=READER_PREFIXES.keys())
def test_every_shape_behind_log_reader_prefixes(prefix: str) -> None:
    """Each line of each case behind a reader's timestamp and stream: multi-line shapes (pretty
    JSON, YAML, keys) are still recognised, clean text still comes back unchanged."""
    for case in CORPUS["secrets"]:
        text = "\n".join(prefix + line for line in case["text"].split("\n"))
        out = redact_text(text)
        assert not leaks(out, case), (case["id"], out)
        assert all(line.startswith(prefix) for line in out.split("\n")), (case["id"], out)
    for case in CORPUS["clean"]:
        text = "\n".join(prefix + line for line in case["text"].split("\n"))
        assert redact_text(text) == text, case["id"]


@pytest.mark.parametrize("case", CORPUS["structured"], ids=_ids("structured"))
def test_structured_shape_loses_its_canaries(case: dict[str, Any]) -> None:
    out = json.dumps(redact(case["value"]))
    assert not leaks(out, case), out
    for kept in case["keep"]:
        assert kept in out, (kept, out)


@pytest.mark.parametrize("case", CORPUS["clean"], ids=_ids("clean"))
def test_clean_text_is_unchanged(case: dict[str, Any]) -> None:
    assert redact_text(case["text"]) == case["text"]
    assert redact({"message": case["text"]}) == {"message": case["text"]}
    lines = case["text"].split("\n")
    assert redact_lines(lines) == lines


@pytest.mark.parametrize("case", CORPUS["clean_structured"], ids=_ids("clean_structured"))
def test_clean_structured_is_unchanged(case: dict[str, Any]) -> None:
    assert redact(case["value"]) == case["value"]


def test_the_whole_corpus_as_one_log() -> None:
    """All shapes in one text, as a container would print them: none leaks, and each clean line
    is still there word for word."""
    lines = corpus_log_lines()
    for out in (redact_text("\n".join(lines)), "\n".join(redact_lines(lines))):
        assert "CANARY" not in out
        for case in CORPUS["clean"]:
            if case["id"] != "compose-services":  # YAML shapes mean something else inside a log
                assert case["text"] in out, case["id"]


# -- the command line --------------------------------------------------------------------------------


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_digest_command_prints_no_canary(tmp_path: Path) -> None:
    log = corpus_log()
    unredacted = render_digest(digest_log(log, max_tokens=6000))
    assert sum(c in unredacted for c in all_canaries()) > 50  # the digest does show these lines
    path = tmp_path / "app.log"
    path.write_text("\n".join(log) + "\n")
    for args, stdin in (
        (["digest", "--max-tokens", "6000", str(path)], None),
        (["digest", "--json", "--max-tokens", "6000", str(path)], None),
        (["digest", "--max-tokens", "6000", "-"], path.read_text()),
    ):
        out = run_cli(*args, stdin=stdin)
        assert out.returncode == 0, out.stderr
        assert "LOG DIGEST" in out.stdout or '"max_tokens": 6000' in out.stdout
        assert "CANARY" not in out.stdout + out.stderr, [
            ln for ln in out.stdout.splitlines() if "CANARY" in ln
        ]
        assert "password changed for user bob" in out.stdout  # clean lines are still there


GRAPH_COMPOSE = """\
services:
  db:
    image: mysql:8
  api:
    image: ghcr.io/acme/api:1
    command: ["sh", "-c", "wait-for mysql://root:CANARY-graph-cmd@db/x && exec app --requirepass CANARY-graph-flag"]
    environment:
      DATABASE_URL: mysql://root:CANARY-graph-env@db/x
    healthcheck:
      test: ["CMD-SHELL", "curl -fsS -u admin:CANARY-graph-hc http://localhost/health"]
    labels:
      traefik.http.middlewares.a.basicauth.users: "admin:$$apr1$$CANARY-graph-lbl"
  shop-passwd:
    image: ghcr.io/acme/passwd:1
    depends_on: [api]
"""


def test_graph_command_masks_credentials_and_keeps_service_names(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(GRAPH_COMPOSE)
    report = build_report(ComposeGraph.from_file(path))
    assert "CANARY" in render_text(report, str(path))  # the command's URL is shown as evidence
    text = run_cli("graph", str(path))
    as_json = run_cli("graph", "--json", str(path))
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    for out in (text.stdout, as_json.stdout):
        assert "CANARY" not in out
        assert "mysql://root:[REDACTED]@db/x" in out
    assert "shop-passwd (app, image ghcr.io/acme/passwd:1)" in text.stdout
    services = json.loads(as_json.stdout)["services"]
    assert services["shop-passwd"]["depends_on"] == ["api"] and services["api"]["line"] == 4


def test_graph_errors_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  api:\n    image: x\n    depends_on: [mysql://root:CANARY-graph-err@db/x]\n")
    out = run_cli("graph", str(path))
    assert out.returncode == 1 and out.stderr.startswith("error: ")
    assert "CANARY" not in out.stderr, out.stderr


def test_status_text_keeps_names_that_look_secret() -> None:
    """The false positive of issue 12: a container named `…-passwd` printed as [REDACTED]."""
    now = datetime.now(UTC)
    container = ContainerSummary(
        id="c1", name="shop-passwd", image="busybox", status="running", health_status=None, restart_count=0,
        exit_code=None, oom_killed=False, started_at=now, finished_at=None,
    )  # fmt: skip
    group = InventoryGroup(
        kind="compose",
        app_name="secret-santa",
        services=[GroupService(name="passwd-api", containers=[container])],
    )
    inv = Inventory(
        base_url="unix:///var/run/docker.sock", collected_at=now, swarm_active=False, groups=[group],
        unmanaged=[container.model_copy(update={"name": "db-passwd"})], dokploy_refs_without_objects=[],
        notes=["DATABASE_URL mysql://root:CANARY-status-note@db/x"],
    )  # fmt: skip
    text = render(inv, None, [])
    assert "shop-passwd: running" in text and "db-passwd: running" in text
    assert "secret-santa" in text and "passwd-api" in text
    assert "CANARY" not in text and "mysql://root:[REDACTED]@db/x" in text
