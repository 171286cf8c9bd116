"""The action target is the project-wide `mcp_server.targets.Target` (one model and key format for
signals, actions, budgets and audit rows); re-exported here for the safety layer."""

from mcp_server.targets import (
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    SELF_LABEL,
    STACK_NAMESPACE,
    SWARM_SERVICE,
    Target,
    TargetKind,
)

__all__ = [
    "COMPOSE_PROJECT",
    "COMPOSE_SERVICE",
    "SELF_LABEL",
    "STACK_NAMESPACE",
    "SWARM_SERVICE",
    "Target",
    "TargetKind",
]
