"""The agent's own database: SQLite in the state directory by default, PostgreSQL when
`INFRAGUARDIAN_AGENT__DATABASE_URL` is set — the same SQL for both (`?` placeholders, translated
for psycopg), run in worker threads so the event loop never waits on disk or network.

`transaction(work)` runs `work(tx)` in one transaction: everything it wrote is committed together
or not at all (the approval book's answer-once rule relies on it). `tx.execute` returns the number
of rows changed, so a conditional UPDATE is a compare-and-set on both databases.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio

from mcp_server.sqlite_file import SqliteFile

T = TypeVar("T")
Params = Sequence[Any]


class DatabaseError(RuntimeError):
    """The agent's database cannot be opened or used; the message says which and why (no password)."""


class Tx(Protocol):
    def execute(self, sql: str, params: Params = ()) -> int: ...
    def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._conn.execute(sql, tuple(params)).fetchall()]


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        cursor = self._conn.execute(sql.replace("?", "%s"), tuple(params))
        return int(cursor.rowcount)

    def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._conn.execute(sql.replace("?", "%s"), tuple(params)).fetchall()]


class Database:
    """One SQLite file or one PostgreSQL connection pool, shared by the store and the book."""

    def __init__(self, *, sqlite_path: Path | None = None, postgres_url: str | None = None) -> None:
        self.kind = "postgresql" if postgres_url else "sqlite"
        self._sqlite: SqliteFile | None = None
        self._pool: Any = None
        if postgres_url:
            from psycopg_pool import ConnectionPool

            try:
                self._pool = ConnectionPool(postgres_url, min_size=1, max_size=4, open=True, timeout=30)
                self._pool.wait(timeout=30)
            except Exception as exc:  # psycopg errors quote the host, never the password
                raise DatabaseError(
                    f"cannot open the agent's PostgreSQL database: {str(exc).splitlines()[0]}"
                ) from None
        elif sqlite_path is not None:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self._sqlite = SqliteFile(sqlite_path, what="agent database", error=DatabaseError)
        else:
            raise ValueError("give sqlite_path or postgres_url")

    def schema(self, statements: Sequence[str]) -> None:
        """Create tables and indexes if missing (each statement idempotent)."""

        def create(tx: Tx) -> None:
            for statement in statements:
                tx.execute(statement)

        self._run(create)

    async def transaction(self, work: Callable[[Tx], T]) -> T:
        return await anyio.to_thread.run_sync(self._run, work)

    def _run(self, work: Callable[[Tx], T]) -> T:
        if self._sqlite is not None:
            return self._sqlite.transaction(lambda conn: work(_SqliteTx(conn)))
        with self._pool.connection() as conn, conn.transaction():
            return work(_PostgresTx(conn))

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pool is not None:
            self._pool.close()


def open_database(database_url: str | None, sqlite_path: Path) -> Database:
    """PostgreSQL when a URL is configured, else the SQLite file in the state directory."""
    return Database(postgres_url=database_url) if database_url else Database(sqlite_path=sqlite_path)
