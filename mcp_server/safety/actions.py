"""The action registry: every kind of action a tool may ask for, in one table.

Each entry says which mode it needs at least, whether it is destructive (a human confirms it first,
shown the blast radius), which budget it draws from (per target, with backoff), and which kinds of
target it applies to. An action that is not in this table is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_server.safety.modes import Mode

# Target kinds (see targets.py) grouped the way the table uses them.
RUNNABLE = frozenset({"compose_service", "compose_project", "container", "swarm_service", "dokploy_resource"})
ANY_KIND = frozenset(
    {
        "compose_project",
        "compose_service",
        "container",
        "swarm_service",
        "volume",
        "network",
        "image",
        "host",
        "dokploy_resource",
        "dokploy_api",
    }
)


@dataclass(frozen=True)
class ActionSpec:
    """What the policy knows about one action kind."""

    name: str
    min_mode: Mode
    destructive: bool
    budget: str | None  # budget bucket name (settings.budgets), None = only the global rate limit
    target_kinds: frozenset[str]
    description: str

    @property
    def mutating(self) -> bool:
        return self.min_mode is not Mode.READ_ONLY


_TABLE = [
    # name, min mode, destructive, budget bucket, target kinds, what it is
    ActionSpec("read", Mode.READ_ONLY, False, None, ANY_KIND, "any read: list, inspect, logs, stats"),
    ActionSpec("restart", Mode.OPERATE, False, "restart", RUNNABLE, "restart a service or container"),
    ActionSpec("start", Mode.OPERATE, False, "restart", RUNNABLE, "start a stopped service or container"),
    ActionSpec("stop", Mode.OPERATE, True, None, RUNNABLE, "stop a service or container (downtime)"),
    ActionSpec("deploy", Mode.OPERATE, False, "deploy", RUNNABLE, "deploy through Dokploy"),
    ActionSpec("redeploy", Mode.OPERATE, False, "deploy", RUNNABLE, "redeploy through Dokploy"),
    ActionSpec("rollback", Mode.OPERATE, False, "rollback", RUNNABLE, "go back to the previous deployment"),
    ActionSpec(
        "raise_memory", Mode.OPERATE, False, "memory", RUNNABLE, "raise a live memory limit within bounds"
    ),
    ActionSpec("lower_memory", Mode.ADMIN, True, "memory", RUNNABLE, "lower a live memory limit"),
    ActionSpec("kill", Mode.ADMIN, True, "restart", RUNNABLE, "kill a container (SIGKILL)"),
    ActionSpec("exec", Mode.ADMIN, True, None, RUNNABLE, "run a command inside a container"),
    ActionSpec(
        "remove",
        Mode.ADMIN,
        True,
        None,
        frozenset({"container", "volume", "network", "image"}),
        "remove a container, volume, network or image",
    ),
    ActionSpec("prune", Mode.ADMIN, True, None, frozenset({"host"}), "prune unused Docker objects"),
    ActionSpec(
        "dokploy_mutation",
        Mode.ADMIN,
        True,
        "dokploy",
        frozenset({"dokploy_api"}),
        "any other Dokploy API mutation",
    ),
]

ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in _TABLE}
BUDGET_BUCKETS: frozenset[str] = frozenset(spec.budget for spec in _TABLE if spec.budget)


def get_action(name: str) -> ActionSpec | None:
    """The spec of `name`, or None when the action is unknown (and must be refused)."""
    return ACTIONS.get(name)
