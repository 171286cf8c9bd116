"""The audit log: every call recorded (reads, changes, refusals, failures), redacted, append-only."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from mcp_server.safety import ActionRequest, Decision, Safety, Target
from mcp_server.safety.gate import ConfirmAnswer
from tests.safety.conftest import FakeClock, MakeSafety, request, service

pytestmark = pytest.mark.anyio

CANARY = "hunter2-audit-canary"


async def test_allowed_call_is_recorded_with_redacted_arguments(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    details = {"reason": "crash loop", "env": f"DB_PASSWORD={CANARY}", "token": CANARY, "tail": 200}
    decision = await gate.authorize(request("restart", details=details, client="claude-desktop"))
    row_id = await gate.record(decision, "ok", summary=f"restarted api (password={CANARY})", duration_s=1.5)
    [entry] = await gate.audit_entries()
    assert entry.id == row_id and entry.decision_id == decision.id
    assert entry.client == "claude-desktop" and entry.tool == "restart_tool" and entry.action == "restart"
    assert entry.target_key == "compose_service:local/shop-a1b2c3/api"
    assert entry.target == {"kind": "compose_service", "project": "shop-a1b2c3", "service": "api"}
    assert entry.allowed and entry.code == "allowed" and entry.result == "ok" and entry.duration_s == 1.5
    assert entry.arguments["reason"] == "crash loop" and entry.arguments["tail"] == 200
    assert entry.ts == "2026-05-28T20:26:40.000Z" and entry.mode == "operate"
    assert CANARY not in entry.model_dump_json()
    raw = sqlite3.connect(gate.db.path).execute("SELECT * FROM audit_log").fetchall()
    assert CANARY not in repr(raw)  # not in the file either


async def test_refused_calls_are_recorded_as_refused(make_safety: MakeSafety) -> None:
    gate = make_safety("read-only")
    decision = await gate.authorize(request("restart"))
    await gate.record(decision, "ok")  # a buggy tool claiming success cannot fake it
    [entry] = await gate.audit_entries()
    assert not entry.allowed and entry.result == "refused" and entry.code == "mode"
    public = decision.for_client()
    assert set(public) == {
        "allowed",
        "code",
        "reason",
        "needs_confirmation",
        "escalate",
        "retry_after",
        "budget",
    }
    assert entry.reason == decision.reason
    assert "refused" in entry.one_line() and "needs operate mode" in entry.one_line()


async def test_guard_records_success_refusal_and_exceptions(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    async with gate.guard(request("read", tool="get_logs")) as call:
        assert call.allowed
        call.summary = "200 lines"
    async with gate.guard(request("restart", Target(kind="swarm_service", name="dokploy"))) as call:
        assert not call.allowed
    with pytest.raises(RuntimeError, match="docker went away"):
        async with gate.guard(request("restart")):
            raise RuntimeError(f"docker went away\ntraceback with token={CANARY}")
    async with gate.guard(request("stop", dry_run=True)) as call:
        call.summary = "would stop api"
    entries = await gate.audit_entries()
    assert [(e.tool, e.result) for e in reversed(entries)] == [
        ("get_logs", "ok"),
        ("restart_tool", "refused"),
        ("restart_tool", "error"),
        ("stop_tool", "dry_run"),
    ]
    assert entries[1].summary == "RuntimeError: docker went away"
    assert entries[0].dry_run and entries[0].summary == "would stop api"


async def test_guard_records_on_cancellation(make_safety: MakeSafety) -> None:
    gate = make_safety()
    with anyio.CancelScope() as scope:
        async with gate.guard(request("restart")):
            scope.cancel()
            await anyio.sleep(30)  # cancelled at once
    [entry] = await gate.audit_entries()
    assert entry.result == "error" and entry.summary.startswith("CancelledError")


async def test_run_helper(make_safety: MakeSafety) -> None:
    gate = make_safety()

    async def restart() -> dict[str, str]:
        return {"status": "running"}

    outcome = await gate.run(request("restart"), restart, summarize=lambda r: f"now {r['status']}")
    assert outcome.decision.allowed and outcome.value == {"status": "running"}
    refused = await gate.run(request("kill"), restart)  # kill needs admin
    assert refused.value is None and not refused.decision.allowed
    summaries = [(e.action, e.result, e.summary) for e in await gate.audit_entries()]
    assert summaries == [("kill", "refused", ""), ("restart", "ok", "now running")]


async def test_confirmation_callback(make_safety: MakeSafety) -> None:
    gate = make_safety()
    asked: list[str] = []

    async def say_no(decision: Decision) -> ConfirmAnswer:
        asked.append(decision.request.action)
        return "declined"

    declined = await gate.authorize(request("stop"), confirm=say_no)
    assert declined.code == "declined" and "a human declined stop" in declined.reason
    restarted = await gate.authorize(request("restart"), confirm=say_no)  # not destructive: not asked
    assert restarted.allowed and asked == ["stop"]


async def test_query_filters(make_safety: MakeSafety, clock: FakeClock) -> None:
    gate = make_safety()
    plan = [
        ("restart", service("api"), "alice"),
        ("read", service("api"), "bob"),
        ("restart", service("worker"), "alice"),
        ("read", Target(kind="volume", name="uploads"), "bob"),
        ("restart", service("api", project="blog-x1"), "alice"),
    ]
    for action, target, client in plan:
        decision = await gate.authorize(
            ActionRequest(client=client, tool=f"{action}_tool", action=action, target=target)
        )
        await gate.record(decision, "ok")
        clock.advance(3600)
    assert len(await gate.audit_entries(limit=2)) == 2
    assert [e.target_key for e in await gate.audit_entries(tool="restart_tool")] == [
        "compose_service:local/blog-x1/api",
        "compose_service:local/shop-a1b2c3/worker",
        "compose_service:local/shop-a1b2c3/api",
    ]
    assert len(await gate.audit_entries(target="compose_service:local/shop-a1b2c3")) == 3  # prefix
    assert len(await gate.audit_entries(target="compose_service:local/shop-a1b2c3/api")) == 2
    assert len(await gate.audit_entries(target="compose_service:local/shop%")) == 0  # LIKE escaped
    assert len(await gate.audit_entries(client="bob")) == 2
    since = datetime.fromtimestamp(clock.now - 2 * 3600, tz=UTC)
    assert len(await gate.audit_entries(since=since)) == 2
    assert len(await gate.audit_entries(since=since.isoformat())) == 2
    with pytest.raises(ValueError, match="not an ISO time"):
        await gate.audit_entries(since="yesterday")


async def test_append_only_in_sqlite_itself(make_safety: MakeSafety) -> None:
    gate = make_safety()
    decision = await gate.authorize(request("restart"))
    await gate.record(decision, "ok")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await gate.record(decision, "ok")  # one row per decision
    conn = sqlite3.connect(gate.db.path)  # a direct connection: the triggers live in the file
    attempts = [
        "UPDATE audit_log SET result = 'error'",
        "DELETE FROM audit_log",
        "INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log",
        "INSERT INTO audit_log SELECT * FROM audit_log WHERE true "
        "ON CONFLICT(id) DO UPDATE SET summary = 'rewritten'",
    ]
    for sql in attempts:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    conn.rollback()
    [entry] = await gate.audit_entries()
    assert entry.result == "ok" and entry.summary == ""
    assert not hasattr(gate.audit, "delete") and not hasattr(gate.audit, "update")


async def test_database_file_is_private(make_safety: MakeSafety) -> None:
    gate = make_safety()
    decision = await gate.authorize(request("restart"))
    await gate.record(decision, "ok")
    path = gate.db.path
    for file in (path, path.with_name(path.name + "-wal")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_reader_gets_a_clear_error_without_a_database(tmp_path: Path) -> None:
    from mcp_server.safety import Database, SafetyStoreError

    with pytest.raises(SafetyStoreError, match="has the MCP server run yet"):
        Database(tmp_path / "missing.sqlite3", readonly=True)


async def test_loose_permissions_are_tightened(tmp_path: Path, clock: FakeClock) -> None:
    from mcp_server.safety import SafetySettings

    path = tmp_path / "safety.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    gate = Safety(SafetySettings(), tmp_path, clock=clock)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        gate.close()
