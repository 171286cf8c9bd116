"""The incident store: every incident and every fix, the source of truth for `incidents`, flap
protection and (next) incident memory. In the agent's database (SQLite in the state directory, or
PostgreSQL), written after every step of the loop; an incident is an upsert, so replaying a step
writes the same row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .database import Database, Tx
from .grouping import keep_attached
from .model import Incident, now

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS incidents (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        target_key TEXT NOT NULL,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        record TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS incidents_open ON incidents (fingerprint, status)",
    "CREATE INDEX IF NOT EXISTS incidents_target ON incidents (target_key, opened_at)",
    """CREATE TABLE IF NOT EXISTS fixes (
        incident_id TEXT NOT NULL,
        target_key TEXT NOT NULL,
        solution TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (incident_id, solution)
    )""",
    "CREATE INDEX IF NOT EXISTS fixes_target ON fixes (target_key, at)",
    # incidents a human told the agent to forget (`memory forget ID`): kept out of incident memory,
    # also when it is rebuilt from this store, and their fixes no longer steer decisions
    """CREATE TABLE IF NOT EXISTS forgotten (
        incident_id TEXT PRIMARY KEY,
        at TEXT NOT NULL
    )""",
)


@dataclass(frozen=True)
class FixRecord:
    incident_id: str
    solution: str
    outcome: str  # "worked", "failed" or "made_worse"
    at: datetime


class IncidentStore:
    """Incidents and fixes in the agent's database (SQLite or PostgreSQL, see database.py)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.schema(SCHEMA)

    @property
    def db(self) -> Database:
        return self._db

    async def save(self, incident: Incident) -> None:
        """Insert or replace the incident's row (the same step replayed writes the same row).
        Signals the stored row has and `incident` lacks are kept (grouping.keep_attached): the
        monitor attaches them while the graph works on its own, older copy."""

        def write(tx: Tx) -> None:
            found = tx.fetchall("SELECT record FROM incidents WHERE id = ?", (incident.id,))
            if found:
                keep_attached(incident, Incident.model_validate_json(found[0][0]))
            row = (
                incident.id,
                incident.fingerprint,
                incident.target_key,
                incident.status,
                incident.opened_at.isoformat(),
                incident.updated_at.isoformat(),
                incident.model_dump_json(),
            )
            tx.execute(
                "INSERT INTO incidents VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "status = excluded.status, updated_at = excluded.updated_at, record = excluded.record",
                row,
            )

        await self._db.transaction(write)

    async def get(self, incident_id: str) -> Incident | None:
        rows = await self._query("SELECT record FROM incidents WHERE id = ?", (incident_id,))
        return Incident.model_validate_json(rows[0][0]) if rows else None

    async def open_for(self, fingerprint: str) -> Incident | None:
        """The open incident with this root-cause fingerprint, if any (signals are attached to it)."""
        rows = await self._query(
            "SELECT record FROM incidents WHERE fingerprint = ? AND status NOT IN ('resolved', 'escalated', 'merged') "
            "ORDER BY opened_at DESC LIMIT 1",
            (fingerprint,),
        )
        return Incident.model_validate_json(rows[0][0]) if rows else None

    async def last_for(self, fingerprint: str) -> Incident | None:
        """The newest incident with this fingerprint, open or closed."""
        rows = await self._query(
            "SELECT record FROM incidents WHERE fingerprint = ? ORDER BY opened_at DESC LIMIT 1",
            (fingerprint,),
        )
        return Incident.model_validate_json(rows[0][0]) if rows else None

    async def unfinished(self) -> list[Incident]:
        """Incidents not closed yet, oldest first: a restarted agent resumes each of them."""
        rows = await self._query(
            "SELECT record FROM incidents WHERE status NOT IN ('resolved', 'escalated', 'merged') ORDER BY opened_at",
            (),
        )
        return [Incident.model_validate_json(r[0]) for r in rows]

    async def last_change(self) -> tuple[int, str | None]:
        """(number of incidents, newest updated_at): changes whenever any incident is written, cheap
        enough to poll every second (the dashboard's live updates)."""
        rows = await self._query("SELECT COUNT(*), MAX(updated_at) FROM incidents", ())
        count, newest = rows[0]
        return int(count), (str(newest) if newest is not None else None)

    async def recent(self, limit: int = 20) -> list[Incident]:
        rows = await self._query("SELECT record FROM incidents ORDER BY opened_at DESC LIMIT ?", (limit,))
        return [Incident.model_validate_json(r[0]) for r in rows]

    async def count_since(self, target_key: str, since: datetime) -> int:
        rows = await self._query(
            "SELECT COUNT(*) FROM incidents WHERE target_key = ? AND opened_at >= ?",
            (target_key, since.isoformat()),
        )
        return int(rows[0][0])

    async def record_fix(
        self, incident_id: str, target_key: str, solution: str, outcome: str, at: datetime
    ) -> None:
        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO fixes VALUES (?,?,?,?,?) ON CONFLICT (incident_id, solution) DO UPDATE SET "
                "outcome = excluded.outcome, at = excluded.at",
                (incident_id, target_key, solution, outcome, at.isoformat()),
            )

        await self._db.transaction(write)

    async def fixes_for(self, target_key: str, limit: int = 50) -> list[FixRecord]:
        """This target's fixes, newest first (flap protection and the next decision read them)."""
        rows = await self._query(
            "SELECT incident_id, solution, outcome, at FROM fixes WHERE target_key = ? ORDER BY at DESC LIMIT ?",
            (target_key, limit),
        )
        return [FixRecord(r[0], r[1], r[2], datetime.fromisoformat(r[3])) for r in rows]

    async def forget(self, incident_id: str) -> bool:
        """Forget what the incident taught: mark it forgotten (incident memory skips it, also when
        rebuilt) and delete its fixes (they no longer lower or raise a confidence). The incident's
        own record stays for the post-mortem. False when there is no such incident."""
        at = now().isoformat()

        def write(tx: Tx) -> bool:
            if not tx.fetchall("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)):
                return False
            tx.execute(
                "INSERT INTO forgotten VALUES (?,?) ON CONFLICT (incident_id) DO NOTHING", (incident_id, at)
            )
            tx.execute("DELETE FROM fixes WHERE incident_id = ?", (incident_id,))
            return True

        return await self._db.transaction(write)

    async def closed(self, limit: int | None = None) -> list[Incident]:
        """Closed incidents that were not forgotten, newest first (incident memory is rebuilt from them)."""
        sql = (
            "SELECT record FROM incidents WHERE status IN ('resolved', 'escalated', 'merged') "
            "AND id NOT IN (SELECT incident_id FROM forgotten) ORDER BY opened_at DESC"
        )
        params: tuple[object, ...] = ()
        if limit is not None:
            sql, params = sql + " LIMIT ?", (limit,)
        rows = await self._query(sql, params)
        return [Incident.model_validate_json(r[0]) for r in rows]

    async def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return await self._db.transaction(lambda tx: tx.fetchall(sql, params))


def incident_summary(incident: Incident) -> dict[str, object]:
    """One line's worth of an incident for `incidents` and `status`."""
    return {
        "id": incident.id,
        "status": incident.status,
        "kind": incident.kind,
        "target": incident.target_key,
        "opened_at": incident.opened_at.isoformat(),
        "outcome": incident.outcome,
        "summary": incident.summary,
        "decision": json.loads(incident.decision.model_dump_json()) if incident.decision else None,
    }
