"""The approval book: requests with the exact change and its blast radius, answered once.

A request is bound to the plan it showed (`plan_hash`): approving answers that plan and nothing
else. It expires after `approval_expiry_s` (15 min): expiry is a denial. A second answer, an answer
to an expired request or to an unknown id is refused with a clear error and changes nothing. The
book lives in the agent's state directory (SQLite), so a pending approval survives a restart.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, Field

from agent_host.incidents.model import now
from mcp_server.sqlite_file import SqliteFile

Answer = Literal["pending", "approved", "denied", "expired"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status);
"""


class ApprovalError(ValueError):
    """An answer that cannot be taken (unknown id, already answered, expired); the message says why."""


class ApprovalRequest(BaseModel):
    id: str
    incident_id: str
    title: str = Field(description="what is asked, e.g. 'raise-memory-limit on shop/api'")
    changes: list[str] = Field(description="the exact change per action, from the dry run")
    blast_radius: list[str] = Field(default_factory=list, description="services that depend on the target")
    reasons: list[str] = Field(default_factory=list)
    plan_hash: str
    created_at: datetime = Field(default_factory=now)
    expires_at: datetime
    status: Answer = "pending"
    answered_by: str | None = None
    answered_at: datetime | None = None
    note: str | None = None


def plan_hash(plan: list[dict[str, Any]]) -> str:
    canonical = json.dumps([{"tool": s["tool"], "arguments": s["arguments"]} for s in plan], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def approval_id(incident_id: str, digest: str) -> str:
    return hashlib.sha256(f"{incident_id}:{digest}".encode()).hexdigest()[:8]


class ApprovalBook:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = SqliteFile(path, what="approval book", error=ApprovalError)
        self._db.run(lambda conn: conn.executescript(_SCHEMA))

    def close(self) -> None:
        self._db.close()

    async def ask(self, request: ApprovalRequest) -> ApprovalRequest:
        """Record the request, or return the one already recorded under its id (asking twice —
        e.g. after a restart — never creates a second question)."""

        def write(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT record FROM approvals WHERE id = ?", (request.id,)).fetchone()
            if row:
                return str(row[0])
            conn.execute(
                "INSERT INTO approvals VALUES (?,?,?,?,?)",
                (
                    request.id,
                    request.incident_id,
                    request.status,
                    request.expires_at.isoformat(),
                    request.model_dump_json(),
                ),
            )
            return request.model_dump_json()

        return ApprovalRequest.model_validate_json(
            await anyio.to_thread.run_sync(self._db.transaction, write)
        )

    async def answer(
        self, request_id: str, approve: bool, by: str, note: str | None = None
    ) -> ApprovalRequest:
        """Approve or deny a pending request; `ApprovalError` when that is not possible."""
        moment = now()

        def write(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT record FROM approvals WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise ApprovalError(
                    f"no approval request {request_id!r}; list them with `infraguardian-agent approvals`"
                )
            request = ApprovalRequest.model_validate_json(row[0])
            if request.status != "pending":
                raise ApprovalError(f"request {request_id} was already {request.status}; nothing changed")
            if request.expires_at <= moment:
                request.status = "expired"
                _store(conn, request)
                raise ApprovalError(
                    f"request {request_id} expired at {request.expires_at:%H:%M:%S} UTC (expiry = deny)"
                )
            request.status = "approved" if approve else "denied"
            request.answered_by = by
            request.answered_at = moment
            request.note = note
            _store(conn, request)
            return request.model_dump_json()

        return ApprovalRequest.model_validate_json(
            await anyio.to_thread.run_sync(self._db.transaction, write)
        )

    async def expire(self, moment: datetime | None = None) -> list[ApprovalRequest]:
        """Mark every pending request past its expiry as expired; returns them."""
        moment = moment or now()

        def write(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT record FROM approvals WHERE status = 'pending' AND expires_at <= ?",
                (moment.isoformat(),),
            ).fetchall()
            done = []
            for row in rows:
                request = ApprovalRequest.model_validate_json(row[0])
                request.status = "expired"
                _store(conn, request)
                done.append(request.model_dump_json())
            return done

        found = await anyio.to_thread.run_sync(self._db.transaction, write)
        return [ApprovalRequest.model_validate_json(r) for r in found]

    async def get(self, request_id: str) -> ApprovalRequest | None:
        rows = await self._rows("SELECT record FROM approvals WHERE id = ?", (request_id,))
        return ApprovalRequest.model_validate_json(rows[0]) if rows else None

    async def pending(self) -> list[ApprovalRequest]:
        rows = await self._rows(
            "SELECT record FROM approvals WHERE status = 'pending' ORDER BY expires_at", ()
        )
        return [ApprovalRequest.model_validate_json(r) for r in rows]

    async def answered_for(self, incident_id: str) -> list[ApprovalRequest]:
        rows = await self._rows(
            "SELECT record FROM approvals WHERE incident_id = ? AND status != 'pending'", (incident_id,)
        )
        return [ApprovalRequest.model_validate_json(r) for r in rows]

    async def _rows(self, sql: str, params: tuple[object, ...]) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            return [str(r[0]) for r in conn.execute(sql, params).fetchall()]

        return await anyio.to_thread.run_sync(self._db.run, read)


def expiry(created: datetime, seconds: float) -> datetime:
    return created + timedelta(seconds=seconds)


def _store(conn: sqlite3.Connection, request: ApprovalRequest) -> None:
    conn.execute(
        "UPDATE approvals SET status = ?, record = ? WHERE id = ?",
        (request.status, request.model_dump_json(), request.id),
    )
