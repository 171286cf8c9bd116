"""What the bot remembers in the agent's database (SQLite or PostgreSQL, `?` placeholders):
the one message per incident per chat (so progress edits it, and a restarted agent edits it too
instead of sending it again), muted targets, and the audit of every command and button press.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from agent_host.incidents.database import Database, Tx
from agent_host.incidents.model import now

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS telegram_messages (
        incident_id TEXT NOT NULL,
        chat_id BIGINT NOT NULL,
        message_id BIGINT NOT NULL,
        text_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (incident_id, chat_id)
    )""",
    """CREATE TABLE IF NOT EXISTS telegram_mutes (
        target TEXT PRIMARY KEY,
        until_at TEXT NOT NULL,
        muted_by TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS telegram_audit (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        chat_id BIGINT NOT NULL,
        user_id BIGINT NOT NULL,
        what TEXT NOT NULL,
        allowed INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS telegram_audit_at ON telegram_audit (at)",
)

MAX_AUDIT_TEXT = 500


class Outbox:
    """The bot's own tables in the agent's database (created on first use)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.schema(SCHEMA)

    async def message_for(self, incident_id: str, chat_id: int) -> int | None:
        """The id of the message already sent for this incident in this chat, if any."""
        rows = await self._query(
            "SELECT message_id FROM telegram_messages WHERE incident_id = ? AND chat_id = ?",
            (incident_id, chat_id),
        )
        return int(rows[0][0]) if rows else None

    async def text_hash_for(self, incident_id: str, chat_id: int) -> str | None:
        """The hash of the text that message shows now (an unchanged text is not edited again)."""
        rows = await self._query(
            "SELECT text_hash FROM telegram_messages WHERE incident_id = ? AND chat_id = ?",
            (incident_id, chat_id),
        )
        return str(rows[0][0]) if rows else None

    async def remember_message(self, incident_id: str, chat_id: int, message_id: int, text_hash: str) -> None:
        row = (incident_id, chat_id, message_id, text_hash, now().isoformat())

        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO telegram_messages VALUES (?,?,?,?,?) ON CONFLICT (incident_id, chat_id) DO UPDATE "
                "SET message_id = excluded.message_id, text_hash = excluded.text_hash, "
                "updated_at = excluded.updated_at",
                row,
            )

        await self._db.transaction(write)

    async def mute(self, target: str, until: datetime, by: str) -> None:
        """Silence notifications about `target` ("service:<host>/<app>/<service>") until `until`."""
        row = (target, until.isoformat(), by, now().isoformat())

        def write(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO telegram_mutes VALUES (?,?,?,?) ON CONFLICT (target) DO UPDATE "
                "SET until_at = excluded.until_at, muted_by = excluded.muted_by, at = excluded.at",
                row,
            )

        await self._db.transaction(write)

    async def muted(self, target: str, now: datetime) -> bool:
        rows = await self._query("SELECT until_at FROM telegram_mutes WHERE target = ?", (target,))
        return bool(rows) and datetime.fromisoformat(str(rows[0][0])) > now

    async def audit(self, chat_id: int, user_id: int, what: str, allowed: bool) -> None:
        """Record one command or button press (its text cut to MAX_AUDIT_TEXT characters)."""
        row = (uuid.uuid4().hex, now().isoformat(), chat_id, user_id, what[:MAX_AUDIT_TEXT], int(allowed))

        def write(tx: Tx) -> None:
            tx.execute("INSERT INTO telegram_audit VALUES (?,?,?,?,?,?)", row)

        await self._db.transaction(write)

    async def audit_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest audit rows first."""
        rows = await self._query(
            "SELECT at, chat_id, user_id, what, allowed FROM telegram_audit ORDER BY at DESC LIMIT ?",
            (limit,),
        )
        return [
            {"at": r[0], "chat_id": int(r[1]), "user_id": int(r[2]), "what": r[3], "allowed": bool(r[4])}
            for r in rows
        ]

    async def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        return await self._db.transaction(lambda tx: tx.fetchall(sql, params))
