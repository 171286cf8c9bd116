"""The append-only audit log: one row per tool call, reads and changes, allowed or refused.

Rows are only ever inserted. SQLite triggers abort any UPDATE or DELETE of a row, and any insert that
would overwrite one (`INSERT OR REPLACE`), whoever tries it through SQL. They stop mistakes and
misbehaving code, not someone who can write the file itself: ship the log off the host for that.
Arguments and summaries are redacted before they are written.
"""

from __future__ import annotations

import contextvars
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from mcp_server.redaction import redact, redact_text
from mcp_server.safety.clock import to_epoch, utc_iso
from mcp_server.safety.db import Database

ResultStatus = Literal["ok", "error", "refused", "dry_run"]


@dataclass
class CallAudit:
    """Set by the server for the duration of one tool call; the gate notes each row it writes, so
    the server can add the row of a call that never reached the gate."""

    decision_ids: list[str] = field(default_factory=list)


current_call_audit: contextvars.ContextVar[CallAudit | None] = contextvars.ContextVar(
    "infraguardian_call_audit", default=None
)


def note_audit_row(decision_id: str) -> None:
    mark = current_call_audit.get()
    if mark is not None:
        mark.decision_ids.append(decision_id)


SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    client TEXT NOT NULL,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    target_key TEXT NOT NULL,
    target TEXT NOT NULL,
    arguments TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    result TEXT NOT NULL,
    summary TEXT NOT NULL,
    duration_s REAL,
    dry_run INTEGER NOT NULL,
    mode TEXT NOT NULL,
    decision_id TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts);
CREATE INDEX IF NOT EXISTS audit_log_tool ON audit_log (tool, ts);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target_key, ts);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: rows cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: rows cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_overwrite BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id OR decision_id = NEW.decision_id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: a row with this id or decision exists'); END;
"""


class AuditEntry(BaseModel):
    """One audit row as the query API returns it (already redacted when written)."""

    id: int
    ts: str
    client: str
    tool: str
    action: str
    target_key: str
    target: dict[str, Any] | None
    arguments: Any
    allowed: bool
    code: str
    reason: str
    result: ResultStatus
    summary: str
    duration_s: float | None
    dry_run: bool
    mode: str
    decision_id: str

    def one_line(self) -> str:
        """`2026-…Z claude-desktop restart_service restart compose_service:local/shop/api ok (1.2 s)`."""
        took = f" ({self.duration_s:.1f} s)" if self.duration_s is not None else ""
        why = "" if self.allowed else f": {self.reason}"
        dry = " [dry run]" if self.dry_run else ""
        target = self.target_key or "-"
        return f"{self.ts} {self.client} {self.tool} {self.action} {target} {self.result}{dry}{took}{why}"


class AuditRecord(BaseModel):
    """What the gate hands the log; `arguments` and `summary` are redacted here."""

    ts: float
    client: str
    tool: str
    action: str
    target_key: str
    target: dict[str, Any] | None
    arguments: dict[str, Any]
    allowed: bool
    code: str
    reason: str
    result: ResultStatus
    summary: str
    duration_s: float | None
    dry_run: bool
    mode: str
    decision_id: str


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"since={text!r} is not an ISO time; use e.g. 2026-01-31T12:00:00Z") from None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 14] + " …[truncated]"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class AuditLog:
    """Append and query audit rows. Synchronous, short statements; the gate runs them in a thread."""

    def __init__(self, db: Database, *, summary_max_chars: int = 500, arguments_max_chars: int = 4000):
        self.db = db
        self.summary_max_chars = summary_max_chars
        self.arguments_max_chars = arguments_max_chars
        if not db.readonly:
            db.run(lambda conn: conn.executescript(SCHEMA))

    def append(self, record: AuditRecord, *, also: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Write one row; returns its id. Secrets are redacted, long texts cut. `also` runs in the
        same transaction (marks the call's idempotency key with this row's result)."""
        arguments = _clip(json.dumps(redact(record.arguments), default=str), self.arguments_max_chars)
        target = json.dumps(redact(record.target), default=str) if record.target is not None else "null"
        row = (
            utc_iso(record.ts),
            _clip(record.client, 200),
            _clip(record.tool, 200),
            record.action,
            record.target_key,
            target,
            arguments,
            int(record.allowed),
            record.code,
            _clip(redact_text(record.reason), 1000),
            record.result,
            _clip(redact_text(record.summary), self.summary_max_chars),
            record.duration_s,
            int(record.dry_run),
            record.mode,
            record.decision_id,
        )

        def work(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO audit_log (ts, client, tool, action, target_key, target, arguments, allowed, "
                "code, reason, result, summary, duration_s, dry_run, mode, decision_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            row_id = int(cursor.lastrowid or 0)
            if also is not None:
                also(conn)
            return row_id

        return self.db.transaction(work) if also is not None else self.db.run(work)

    def query(
        self,
        *,
        limit: int = 50,
        tool: str | None = None,
        action: str | None = None,
        target: str | None = None,
        client: str | None = None,
        since: datetime | str | None = None,
        allowed: bool | None = None,
        result: ResultStatus | None = None,
    ) -> list[AuditEntry]:
        """Latest rows first. `target` matches a target key or its prefix (`compose_service:local/shop`
        finds every service of project shop); `since` is a datetime or an ISO time (UTC)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("tool", tool), ("action", action), ("client", client), ("result", result)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if target:
            clauses.append("(target_key = ? OR target_key LIKE ? ESCAPE '\\')")
            params += [target, _escape_like(target) + "%"]
        if since is not None:
            moment = since if isinstance(since, datetime) else _parse_time(since)
            clauses.append("ts >= ?")
            params.append(utc_iso(to_epoch(moment)))
        if allowed is not None:
            clauses.append("allowed = ?")
            params.append(int(allowed))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(max(1, min(int(limit), 1000)))
        sql = f"SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT ?"  # noqa: S608 (fixed columns)
        rows = self.db.run(lambda conn: conn.execute(sql, params).fetchall())
        return [_entry(row) for row in rows]

    def latest_change(self, target_key: str, actions: tuple[str, ...]) -> AuditEntry | None:
        """The newest allowed, real (not dry-run) row of one of `actions` on exactly `target_key`,
        whatever its result (an error may have changed something), or None."""
        marks = ", ".join("?" for _ in actions)
        sql = (
            "SELECT * FROM audit_log WHERE target_key = ? AND allowed = 1 AND dry_run = 0 "  # noqa: S608
            f"AND action IN ({marks}) ORDER BY id DESC LIMIT 1"
        )
        row = self.db.run(lambda conn: conn.execute(sql, (target_key, *actions)).fetchone())
        return _entry(row) if row is not None else None

    def count(self) -> int:
        return int(self.db.run(lambda conn: conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]))


def _json_or_text(text: str) -> Any:
    """Arguments cut at the size limit are no longer JSON: hand them out as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _entry(row: sqlite3.Row) -> AuditEntry:
    data = dict(row)
    data["target"] = json.loads(data["target"])
    data["arguments"] = _json_or_text(data["arguments"])
    data["allowed"] = bool(data["allowed"])
    data["dry_run"] = bool(data["dry_run"])
    return AuditEntry.model_validate(data)
