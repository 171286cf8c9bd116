"""Settings of the safety layer (nested into the server settings as `safety`).

Everything here can only make the policy *stricter* or tune its limits. The built-in protection of
Dokploy, Traefik, InfraGuardian's own containers (label `io.infraguardian.self=true`) and database
volumes has no switch on purpose: those are what you need to recover from any mistake (the panel,
the ingress for every app, the agent, the data), so a typo in a config file, an over-eager operator
or a prompt-injected suggestion must not be able to turn it off. Lists below only *add* names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mcp_server.safety.actions import BUDGET_BUCKETS
from mcp_server.safety.modes import Mode

GIB = 1024**3


class BudgetRule(BaseModel):
    """At most `max_actions` per target in any `window_s`; between two actions on the same target at
    least `backoff_initial_s * backoff_factor**(n-1)` seconds (n = actions already in the window),
    capped at `backoff_max_s`. Example (the restart default): 30 s, 60 s, then the budget is spent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_actions: int = Field(ge=1, le=1000)
    window_s: float = Field(gt=0, le=7 * 86400)
    backoff_initial_s: float = Field(default=0.0, ge=0, le=86400)
    backoff_factor: float = Field(default=2.0, ge=1, le=10)
    backoff_max_s: float = Field(default=3600.0, ge=0, le=86400)

    def backoff_after(self, actions_in_window: int) -> float:
        """Minimum wait after the last action when `actions_in_window` (≥ 1) already happened."""
        if actions_in_window < 1 or self.backoff_initial_s == 0:
            return 0.0
        delay = self.backoff_initial_s * self.backoff_factor ** (actions_in_window - 1)
        return min(delay, self.backoff_max_s)


DEFAULT_BUDGETS: dict[str, BudgetRule] = {
    # restart/start/kill of one service: 3 per 30 min, waits 30 s, 60 s between them
    "restart": BudgetRule(max_actions=3, window_s=1800, backoff_initial_s=30, backoff_max_s=600),
    "deploy": BudgetRule(max_actions=3, window_s=3600, backoff_initial_s=120, backoff_max_s=1800),
    "rollback": BudgetRule(max_actions=2, window_s=3600, backoff_initial_s=300, backoff_max_s=1800),
    "memory": BudgetRule(max_actions=3, window_s=86400, backoff_initial_s=600, backoff_max_s=7200),
    "dokploy": BudgetRule(max_actions=20, window_s=3600),
    # what happens to one service's containers, whichever tool or Dokploy call did it: restarts,
    # starts, stops, kills, deploys and rollbacks all count (no waits of its own: stop then start
    # is one human-approved operation; the action buckets above keep their own waits)
    "disruption": BudgetRule(max_actions=3, window_s=1800),
}


class SafetySettings(BaseModel):
    """The safety policy's knobs. Defaults are what a production install should run with."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    mode: Mode = Field(
        default=Mode.OPERATE,
        description="read-only (no changes), operate (restarts, deploys, rollbacks, bounded memory "
        "raises) or admin (everything, including prune, kill and generic Dokploy changes).",
    )
    budgets: dict[str, BudgetRule] = Field(
        default_factory=lambda: dict(DEFAULT_BUDGETS),
        description="Per-target budgets by bucket (restart, deploy, rollback, memory, dokploy) and "
        "the per-service disruption budget every restart, stop, start, deploy or rollback of a "
        "service also counts in. Buckets you give replace the default of that bucket only.",
    )
    max_mutations_per_minute: int = Field(
        default=30, ge=1, le=10000, description="Global limit on changes across all targets."
    )
    memory_raise_max_factor: float = Field(
        default=2.0, gt=1, le=16, description="operate mode: a raise is at most this × the current limit."
    )
    memory_raise_ceiling_bytes: int = Field(
        default=4 * GIB, ge=64 * 1024**2, description="operate mode: never raise a limit above this."
    )
    memory_headroom_reserve_bytes: int = Field(
        default=512 * 1024**2,
        ge=0,
        le=2**50,
        description="Every mode: a raise must leave the engine's host at least this much available "
        "memory (MemAvailable minus the increase), or the larger percent below. Checked only where "
        "the host's available memory is known (a local engine).",
    )
    memory_headroom_reserve_percent: float = Field(
        default=5.0,
        ge=0,
        le=90,
        description="The reserve as a percent of the host's total memory; the larger of the two applies.",
    )
    memory_revert_window_s: float = Field(
        default=86400,
        ge=0,
        le=7 * 86400,
        description="operate mode: how long after one of its own memory raises this server may undo "
        "it (restore exactly the limit it replaced, while the limit is still what it set). Any other "
        "lowering needs admin mode and a human; 0 turns the undo off.",
    )
    self_names: list[str] = Field(
        default_factory=lambda: ["infraguardian*"],
        description="Glob patterns of InfraGuardian's own container/project/service names.",
    )
    extra_protected_names: list[str] = Field(
        default_factory=list, description="Glob patterns of more names no action may change."
    )
    extra_protected_volumes: list[str] = Field(
        default_factory=list, description="Glob patterns of more volumes no action may change."
    )
    extra_database_images: list[str] = Field(
        default_factory=list,
        description="More image names (e.g. 'ferretdb') whose volumes are protected like databases'.",
    )
    idempotency_key_ttl_s: float = Field(
        default=7 * 86400,
        ge=1,
        le=90 * 86400,
        description="How long the server remembers an idempotency key's result (a repeat of the key "
        "within this time gets the recorded result instead of acting again).",
    )
    audit_summary_max_chars: int = Field(default=500, ge=50, le=20000)
    audit_arguments_max_chars: int = Field(default=4000, ge=100, le=100000)
    db_filename: str = Field(
        default="safety.sqlite3",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="SQLite file (audit log, budgets, idempotency keys) inside the state directory.",
    )

    def memory_headroom_reserve(self, host_total_bytes: int | None) -> int:
        """Bytes a memory raise must leave available on a host of `host_total_bytes` (None: unknown,
        then the fixed reserve alone)."""
        share = int((host_total_bytes or 0) * self.memory_headroom_reserve_percent / 100)
        return max(self.memory_headroom_reserve_bytes, share)

    @field_validator("mode", mode="before")
    @classmethod
    def _parse_mode(cls, value: Any) -> Mode:
        return Mode.parse(value)

    @field_validator("budgets", mode="before")
    @classmethod
    def _merge_budgets(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - BUDGET_BUCKETS)
        if unknown:
            raise ValueError(
                f"unknown budget bucket {unknown[0]!r}: use one of {', '.join(sorted(BUDGET_BUCKETS))}"
            )
        return {**DEFAULT_BUDGETS, **value}

    @field_validator(
        "self_names", "extra_protected_names", "extra_protected_volumes", "extra_database_images"
    )
    @classmethod
    def _no_blank_patterns(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip().lower() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("patterns must not be empty")
        return cleaned
