"""Compose snapshots: the compose file and env of the running version, kept before a change.

Dokploy keeps no history of a compose file, so it cannot roll a compose back. Before any deploy or
compose update, the caller takes a snapshot here; a rollback redeploys the previous snapshot.
The env holds secrets, so the database file is created readable by its owner only.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS compose_snapshot (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    compose_id TEXT NOT NULL,
    app_name TEXT NOT NULL,
    dokploy_url TEXT NOT NULL DEFAULT '',
    compose_file TEXT NOT NULL,
    env TEXT,
    digest TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS compose_snapshot_by_compose ON compose_snapshot (compose_id, id DESC);
"""


class ComposeSnapshot(BaseModel):
    id: int
    compose_id: str
    app_name: str
    dokploy_url: str = ""
    compose_file: str
    env: str | None
    digest: str
    reason: str
    created_at: str


def _digest(compose_file: str, env: str | None) -> str:
    h = hashlib.sha256()
    h.update(compose_file.encode())
    h.update(b"\0")
    h.update((env or "").encode())
    return h.hexdigest()


class SnapshotStore:
    """SQLite store of compose snapshots, newest first; keeps `keep` per compose."""

    def __init__(self, path: Path | str, keep: int = 20) -> None:
        self.path = Path(path)
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def take(
        self,
        compose_id: str,
        app_name: str,
        compose_file: str,
        env: str | None,
        reason: str,
        dokploy_url: str = "",
    ) -> ComposeSnapshot:
        """Store the version; if it equals the newest snapshot, return that one instead."""
        digest = _digest(compose_file, env)
        with self._lock:
            latest = self._latest(compose_id)
            if latest is not None and latest.digest == digest:
                return latest
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "INSERT INTO compose_snapshot (compose_id, app_name, dokploy_url, compose_file,"
                    " env, digest, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (compose_id, app_name, dokploy_url, compose_file, env, digest, reason, now),
                )
                self._db.execute(
                    "DELETE FROM compose_snapshot WHERE compose_id = ? AND id NOT IN "
                    "(SELECT id FROM compose_snapshot WHERE compose_id = ? ORDER BY id DESC LIMIT ?)",
                    (compose_id, compose_id, self.keep),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            snap = self.get(int(cur.lastrowid or 0))
            assert snap is not None
            return snap

    def get(self, snapshot_id: int) -> ComposeSnapshot | None:
        row = self._db.execute("SELECT * FROM compose_snapshot WHERE id = ?", (snapshot_id,)).fetchone()
        return self._row(row) if row else None

    def history(self, compose_id: str, limit: int = 20) -> list[ComposeSnapshot]:
        rows = self._db.execute(
            "SELECT * FROM compose_snapshot WHERE compose_id = ? ORDER BY id DESC LIMIT ?",
            (compose_id, limit),
        ).fetchall()
        return [self._row(r) for r in rows]

    def latest(self, compose_id: str) -> ComposeSnapshot | None:
        with self._lock:
            return self._latest(compose_id)

    def _latest(self, compose_id: str) -> ComposeSnapshot | None:
        hist = self.history(compose_id, limit=1)
        return hist[0] if hist else None

    def _row(self, row: tuple[Any, ...]) -> ComposeSnapshot:
        cols = (
            "id",
            "compose_id",
            "app_name",
            "dokploy_url",
            "compose_file",
            "env",
            "digest",
            "reason",
            "created_at",
        )
        return ComposeSnapshot(**dict(zip(cols, row, strict=True)))


async def snapshot_compose(
    client: Any, store: SnapshotStore, compose_id: str, reason: str
) -> ComposeSnapshot:
    """Read the compose's current file and env from Dokploy and store them."""
    compose = await client.compose_one(compose_id)
    return store.take(
        compose_id=compose.compose_id,
        app_name=compose.app_name,
        compose_file=compose.compose_file,
        env=compose.env,
        reason=reason,
        dokploy_url=getattr(getattr(client, "transport", None), "base_url", ""),
    )
