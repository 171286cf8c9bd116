"""InfraGuardian's safety layer: the policy every MCP tool goes through, whoever the client is.

- `Safety` (gate.py): `authorize(ActionRequest)` → `Decision`; `record(decision, result, …)` appends
  the audit row; `guard(request)` / `run(request, op)` do both, always auditing.
- Modes (modes.py) and the action registry (actions.py): what each action needs.
- Targets and protection (targets.py, protection.py): what no action may touch.
- revert.py: the one lowering of a memory limit operate mode allows, undoing this server's own
  raise, proven by the audit log.
- Budgets with backoff and the global rate limit (budgets.py), the append-only audit log (audit.py),
  both in one SQLite file in the state directory (db.py); `SafetyReader` reads them from another
  process.
- `wrap_untrusted` (boundary.py) fences container output for the model;
  `describe_blast_radius` (blast.py) writes the confirmation a human sees.
"""

from typing import TYPE_CHECKING

from mcp_server.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from mcp_server.safety.actions import ACTIONS, ActionSpec, get_action
    from mcp_server.safety.audit import AuditEntry, AuditLog, ResultStatus
    from mcp_server.safety.blast import describe_blast_radius
    from mcp_server.safety.boundary import wrap_untrusted
    from mcp_server.safety.budgets import BudgetStatus, BudgetStore
    from mcp_server.safety.clock import Clock
    from mcp_server.safety.db import Database, SafetyStoreError
    from mcp_server.safety.gate import GuardedCall, RunOutcome, Safety
    from mcp_server.safety.models import ActionRequest, BudgetUsage, Decision, DecisionCode
    from mcp_server.safety.modes import Mode
    from mcp_server.safety.protection import protection_reason
    from mcp_server.safety.reader import SafetyReader
    from mcp_server.safety.settings import DEFAULT_BUDGETS, BudgetRule, SafetySettings
    from mcp_server.safety.targets import Target, TargetKind

# Imported on first use: `mcp_server.settings` imports this package for SafetySettings on every
# command, and the gate, budgets, audit and boundary are ~45 ms that `status` never needs.
_LAZY = {
    "ACTIONS": ".actions",
    "ActionSpec": ".actions",
    "get_action": ".actions",
    "AuditEntry": ".audit",
    "AuditLog": ".audit",
    "ResultStatus": ".audit",
    "describe_blast_radius": ".blast",
    "wrap_untrusted": ".boundary",
    "BudgetStatus": ".budgets",
    "BudgetStore": ".budgets",
    "Clock": ".clock",
    "Database": ".db",
    "SafetyStoreError": ".db",
    "GuardedCall": ".gate",
    "RunOutcome": ".gate",
    "Safety": ".gate",
    "ActionRequest": ".models",
    "BudgetUsage": ".models",
    "Decision": ".models",
    "DecisionCode": ".models",
    "Mode": ".modes",
    "protection_reason": ".protection",
    "SafetyReader": ".reader",
    "DEFAULT_BUDGETS": ".settings",
    "BudgetRule": ".settings",
    "SafetySettings": ".settings",
    "Target": ".targets",
    "TargetKind": ".targets",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ACTIONS",
    "DEFAULT_BUDGETS",
    "ActionRequest",
    "ActionSpec",
    "AuditEntry",
    "AuditLog",
    "BudgetRule",
    "BudgetStatus",
    "BudgetStore",
    "BudgetUsage",
    "Clock",
    "Database",
    "Decision",
    "DecisionCode",
    "GuardedCall",
    "Mode",
    "ResultStatus",
    "RunOutcome",
    "Safety",
    "SafetyReader",
    "SafetySettings",
    "SafetyStoreError",
    "Target",
    "TargetKind",
    "describe_blast_radius",
    "get_action",
    "protection_reason",
    "wrap_untrusted",
]
