"""Read-only access to the safety state for another process (the agent host, a CLI).

Opens the SQLite file read-only while the MCP server keeps writing it (WAL mode allows both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp_server.safety.actions import get_action
from mcp_server.safety.audit import AuditEntry, AuditLog
from mcp_server.safety.budgets import BudgetStatus, BudgetStore
from mcp_server.safety.clock import Clock, system_clock
from mcp_server.safety.db import Database
from mcp_server.safety.settings import SafetySettings
from mcp_server.safety.targets import Target


class SafetyReader:
    """Audit rows and budget use, read-only. Methods are synchronous and short (run them in a
    worker thread from async code)."""

    def __init__(self, settings: SafetySettings, state_dir: Path, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        self.db = Database(Path(state_dir) / settings.db_filename, readonly=True)
        self.audit = AuditLog(self.db)
        self.budgets = BudgetStore(self.db)

    def audit_entries(self, **filters: Any) -> list[AuditEntry]:
        """See `AuditLog.query`: limit, tool, action, target, client, since, allowed, result."""
        return self.audit.query(**filters)

    def budget_status(self, target: Target, action: str) -> BudgetStatus | None:
        spec = get_action(action)
        rule = self.settings.budgets.get(spec.budget) if spec and spec.budget else None
        if spec is None or spec.budget is None or rule is None:
            return None
        return self.budgets.status(spec.budget, target.budget_key(), rule, now=self.clock())

    def recent_changes(self, since_s: float = 3600, limit: int = 100) -> list[dict[str, object]]:
        """Changes counted in budgets during the last `since_s` seconds, newest first."""
        return self.budgets.recent(since=self.clock() - since_s, limit=limit)

    def close(self) -> None:
        self.db.close()
