"""The safety layer's SQLite file: private (0600), WAL mode, short transactions, shareable.

One file in the state directory holds the audit log and the budget events. The MCP server writes it;
the agent host (another process) opens it read-only at the same time (see `mcp_server/sqlite_file.py`).
"""

from __future__ import annotations

from pathlib import Path

from mcp_server.sqlite_file import SqliteFile


class SafetyStoreError(RuntimeError):
    """The safety database cannot be opened or used; the message says what to fix."""


class Database(SqliteFile):
    """The safety database. Open with `readonly=True` from another process to read the audit log
    and budgets."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        super().__init__(
            path,
            what="safety database",
            error=SafetyStoreError,
            readonly=readonly,
            missing_hint="has the MCP server run yet?",
        )
