"""The approval book: requests with the exact change and its blast radius, answered once.

A request is bound to the plan it showed (`plan_hash`): approving answers that plan and nothing
else. It expires after `approval_expiry_s` (15 min): expiry is a denial. A second answer, an answer
to an expired request or to an unknown id is refused with a clear error and changes nothing. The
book lives in the agent's state directory (SQLite), so a pending approval survives a restart.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent_host.incidents.database import Database, Tx
from agent_host.incidents.model import now

Answer = Literal["pending", "approved", "denied", "expired"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        status TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        record TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status)",
)


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
    """Approval requests in the agent's database (shared with the incident store)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.schema(SCHEMA)

    async def ask(self, request: ApprovalRequest) -> ApprovalRequest:
        """Record the request, or return the one already recorded under its id (asking twice —
        e.g. after a restart — never creates a second question)."""

        def write(tx: Tx) -> str:
            rows = tx.fetchall("SELECT record FROM approvals WHERE id = ?", (request.id,))
            if rows:
                return str(rows[0][0])
            tx.execute(
                "INSERT INTO approvals VALUES (?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
                (
                    request.id,
                    request.incident_id,
                    request.status,
                    request.expires_at.isoformat(),
                    request.model_dump_json(),
                ),
            )
            return request.model_dump_json()

        return ApprovalRequest.model_validate_json(await self._db.transaction(write))

    async def answer(
        self, request_id: str, approve: bool, by: str, note: str | None = None
    ) -> ApprovalRequest:
        """Approve or deny a pending request; `ApprovalError` when that is not possible. The update
        only applies to a request still pending, so two answers at once cannot both win."""
        moment = now()

        def write(tx: Tx) -> tuple[str, str | None]:
            rows = tx.fetchall("SELECT record FROM approvals WHERE id = ?", (request_id,))
            if not rows:
                return (
                    "",
                    f"no approval request {request_id!r}; list them with `infraguardian-agent approvals`",
                )
            request = ApprovalRequest.model_validate_json(str(rows[0][0]))
            if request.status != "pending":
                return "", f"request {request_id} was already {request.status}; nothing changed"
            if request.expires_at <= moment:
                request.status = "expired"
                _store(tx, request)
                return (
                    "",
                    f"request {request_id} expired at {request.expires_at:%H:%M:%S} UTC (expiry = deny)",
                )
            request.status = "approved" if approve else "denied"
            request.answered_by = by
            request.answered_at = moment
            request.note = note
            if not _store(tx, request):
                return "", f"request {request_id} was answered meanwhile; nothing changed"
            return request.model_dump_json(), None

        record, problem = await self._db.transaction(write)
        if problem:
            raise ApprovalError(problem)
        return ApprovalRequest.model_validate_json(record)

    async def expire(self, moment: datetime | None = None) -> list[ApprovalRequest]:
        """Mark every pending request past its expiry as expired; returns them."""
        moment = moment or now()

        def write(tx: Tx) -> list[str]:
            rows = tx.fetchall(
                "SELECT record FROM approvals WHERE status = 'pending' AND expires_at <= ?",
                (moment.isoformat(),),
            )
            done = []
            for row in rows:
                request = ApprovalRequest.model_validate_json(str(row[0]))
                request.status = "expired"
                if _store(tx, request):
                    done.append(request.model_dump_json())
            return done

        return [ApprovalRequest.model_validate_json(r) for r in await self._db.transaction(write)]

    async def get(self, request_id: str) -> ApprovalRequest | None:
        rows = await self._rows("SELECT record FROM approvals WHERE id = ?", (request_id,))
        return ApprovalRequest.model_validate_json(rows[0]) if rows else None

    async def pending(self) -> list[ApprovalRequest]:
        rows = await self._rows(
            "SELECT record FROM approvals WHERE status = 'pending' ORDER BY expires_at", ()
        )
        return [ApprovalRequest.model_validate_json(r) for r in rows]

    async def answered(self, limit: int = 20) -> list[ApprovalRequest]:
        """The newest answered (or expired) requests, newest expiry first (the dashboard's list)."""
        rows = await self._rows(
            "SELECT record FROM approvals WHERE status != 'pending' ORDER BY expires_at DESC LIMIT ?",
            (limit,),
        )
        return [ApprovalRequest.model_validate_json(r) for r in rows]

    async def answered_for(self, incident_id: str) -> list[ApprovalRequest]:
        rows = await self._rows(
            "SELECT record FROM approvals WHERE incident_id = ? AND status != 'pending'", (incident_id,)
        )
        return [ApprovalRequest.model_validate_json(r) for r in rows]

    async def _rows(self, sql: str, params: tuple[object, ...]) -> list[str]:
        return await self._db.transaction(lambda tx: [str(r[0]) for r in tx.fetchall(sql, params)])


def expiry(created: datetime, seconds: float) -> datetime:
    return created + timedelta(seconds=seconds)


def _store(tx: Tx, request: ApprovalRequest) -> bool:
    """Write the new state of a request that is still pending; False when it no longer is."""
    changed = tx.execute(
        "UPDATE approvals SET status = ?, record = ? WHERE id = ? AND status = 'pending'",
        (request.status, request.model_dump_json(), request.id),
    )
    return changed == 1
