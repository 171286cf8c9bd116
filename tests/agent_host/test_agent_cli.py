"""`infraguardian-agent incidents | approvals | approve | deny | graph` on a real state directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from agent_host.approvals import ApprovalBook, ApprovalRequest
from agent_host.cli import main
from agent_host.incidents.database import Database
from agent_host.incidents.model import Decision, Incident
from agent_host.incidents.store import IncidentStore

SECRET = "postgres://app:S3cr3tPassw0rd@db:5432/shop"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__STATE_DIR", str(tmp_path))
    return tmp_path


def seed(state_dir: Path) -> None:
    db = Database(sqlite_path=state_dir / "incidents.sqlite3")
    store, book = IncidentStore(db), ApprovalBook(db)
    incident = Incident(
        id="inc-1", fingerprint="service:local/shop/api", target={"app_name": "shop", "service": "api"},
        target_key="service:local/shop/api", kind="oom", severity="critical", summary="api OOM-killed",
        decision=Decision(runbook="oom-killed", solution="raise-memory-limit", route="approval", reasons=["oom_killed equals True: yes"]),
    )  # fmt: skip
    incident.note("gather_context", f"api logged DATABASE_URL={SECRET}")
    anyio.run(store.save, incident)
    request = ApprovalRequest(
        id="ab12cd34", incident_id="inc-1", title="raise-memory-limit on service:local/shop/api",
        changes=["set_memory_limit api: memory 256m → 512m (1 container(s))"], blast_radius=["web"],
        plan_hash="x", expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )  # fmt: skip
    anyio.run(book.ask, request)
    db.close()


def test_incidents_list_and_post_mortem_are_redacted(state_dir: Path) -> None:
    seed(state_dir)
    runner = CliRunner()
    listed = runner.invoke(main, ["incidents"])
    assert listed.exit_code == 0, listed.output
    assert "inc-1" in listed.output and "oom" in listed.output
    shown = runner.invoke(main, ["incidents", "show", "inc-1"])
    assert shown.exit_code == 0, shown.output
    assert "Decision (runbook" in shown.output and "raise-memory-limit → approval" in shown.output
    assert "S3cr3tPassw0rd" not in shown.output and "DATABASE_URL=" in shown.output
    as_json = runner.invoke(main, ["incidents", "show", "inc-1", "--json"])
    assert json.loads(as_json.output)["id"] == "inc-1" and "S3cr3tPassw0rd" not in as_json.output
    missing = runner.invoke(main, ["incidents", "show", "nope"])
    assert missing.exit_code == 1 and "no incident 'nope'" in missing.output


def test_approvals_are_listed_and_answered_once(state_dir: Path) -> None:
    seed(state_dir)
    runner = CliRunner()
    listed = runner.invoke(main, ["approvals"])
    assert (
        "ab12cd34" in listed.output
        and "memory 256m → 512m" in listed.output
        and "blast radius: web" in listed.output
    )
    approved = runner.invoke(main, ["approve", "ab12cd34", "--note", "go"])
    assert approved.exit_code == 0 and approved.output.startswith("approved:")
    again = runner.invoke(main, ["deny", "ab12cd34"])
    assert again.exit_code == 1 and "already approved; nothing changed" in again.output
    unknown = runner.invoke(main, ["approve", "zzzz"])
    assert unknown.exit_code == 1 and "no approval request 'zzzz'" in unknown.output
    assert "no pending approvals" in runner.invoke(main, ["approvals"]).output


def test_an_expired_request_cannot_be_approved(state_dir: Path) -> None:
    db = Database(sqlite_path=state_dir / "incidents.sqlite3")
    book = ApprovalBook(db)
    anyio.run(
        book.ask,
        ApprovalRequest(
            id="old1", incident_id="inc-9", title="t", changes=["c"], plan_hash="x",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        ),
    )  # fmt: skip
    db.close()
    result = CliRunner().invoke(main, ["approve", "old1"])
    assert result.exit_code == 1 and "expired" in result.output and "expiry = deny" in result.output


def test_graph_prints_every_node() -> None:
    result = CliRunner().invoke(main, ["graph"])
    assert result.exit_code == 0
    for node in ("detect_incident", "gather_context", "analyze_compose", "diagnose", "plan_solution",
                 "execute_action", "verify_fix", "rollback", "escalate", "learn"):  # fmt: skip
        assert f"{node}({node})" in result.output
    assert "verify_fix -. &nbsp;unhealthy&nbsp; .-> rollback" in result.output


def test_approving_a_human_step_says_the_change_is_yours(state_dir: Path) -> None:
    from agent_host.loop.human_steps import describe_human

    db = Database(sqlite_path=state_dir / "incidents.sqlite3")
    step = {"tool": "human", "arguments": {"instruction": "grow volume qdrant_data to 32m"}}
    anyio.run(
        ApprovalBook(db).ask,
        ApprovalRequest(
            id="vol1", incident_id="inc-5", title="grow-tmpfs-volume", changes=[describe_human(step)],
            plan_hash="x", expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ),
    )  # fmt: skip
    db.close()
    result = CliRunner().invoke(main, ["approve", "vol1"])
    assert result.exit_code == 0, result.output
    assert "the change is yours to make now" in result.output and "applies exactly" not in result.output
