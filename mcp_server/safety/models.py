"""The request a tool hands the safety gate, and the decision it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mcp_server.safety.modes import Mode
from mcp_server.safety.targets import Target

DecisionCode = Literal[
    "allowed",
    "unknown_action",  # the action is not in the registry
    "invalid",  # the request is incomplete or does not fit the action (says what is missing)
    "mode",  # the server's mode is too low for the action
    "protected",  # the target (or something it affects) is protected in every mode
    "bounds",  # a value is outside what the mode allows (memory limits)
    "backoff",  # too soon after the previous action on this target; retry_after says when
    "budget_exhausted",  # the target's budget is used up; escalate to a human
    "rate_limited",  # too many changes across all targets in the last minute
    "declined",  # a human said no when asked to confirm
    "needs_confirmation",  # destructive: a human must confirm and this connection cannot ask; escalate
    "awaiting_confirmation",  # audit only: the question went to the client, its retry carries the answer
]


class ActionRequest(BaseModel):
    """What a tool wants to do. `details` are the tool's arguments (redacted in the audit log); some
    actions read fields from them:
    - raise_memory / lower_memory / revert_memory: `current_limit_bytes`, `new_limit_bytes`,
      `current_usage_bytes`, for the host's headroom `container_count`, `host_available_bytes`,
      `host_total_bytes`, and for a revert `container_limits_bytes` (policy.MemoryChange);
    - prune: `what`, a list of images, build_cache, containers, networks (never volumes);
    - dokploy_mutation: `input`, the procedure's input (target kind dokploy_api, name router.procedure).
    `affected` lists other objects the action changes (e.g. every container of a project on
    redeploy); each is checked against the protection rules like the target."""

    model_config = ConfigDict(extra="forbid")

    client: str = Field(default="unknown", min_length=1, max_length=200)
    tool: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=100)
    target: Target | None = None
    affected: list[Target] = Field(default_factory=list, max_length=500)
    dry_run: bool = False
    details: dict[str, Any] = Field(default_factory=dict)


class BudgetUsage(BaseModel):
    """The target's budget after this decision (allowed changes count themselves)."""

    bucket: str
    used: int
    limit: int
    window_s: float
    resets_at: datetime | None


class Decision(BaseModel):
    """The gate's answer. `reason` is one line meant for the model: why, what to do instead, and
    when a retry can work. Pass the decision back to `Safety.record` after acting."""

    id: str
    request: ActionRequest
    allowed: bool
    code: DecisionCode
    reason: str
    mode: Mode
    mutating: bool
    needs_confirmation: bool  # destructive: a human should confirm (see describe_blast_radius)
    escalate: bool  # a human should look at this target (budget exhausted, protected target)
    retry_after: datetime | None = None
    decided_at: datetime
    budget: BudgetUsage | None = None

    def for_client(self) -> dict[str, Any]:
        """The decision as a tool may return it (no request details: they are not redacted here)."""
        return self.model_dump(
            mode="json",
            include={"allowed", "code", "reason", "needs_confirmation", "escalate", "retry_after", "budget"},
        )
