"""The action registry: every kind of action a tool may ask for, in one table.

Each entry says
- which mode it needs at least;
- `needs_confirmation`: a human confirms it first, shown the blast radius;
- which budget bucket it draws from (per target, with backoff);
- which kinds of target it applies to;
- `changes_state`: it changes anything at all (False only for reads, whatever mode they need):
  the opposite of MCP's readOnlyHint;
- `destroys`: it destroys or replaces state (kills or recreates containers, overwrites files,
  deletes objects): MCP's destructiveHint;
- `idempotent`: repeating it with the same arguments changes nothing more: MCP's idempotentHint;
- `disrupts`: it restarts, stops, recreates or removes the containers it is aimed at, so it also
  counts against each affected service's `disruption` budget, whichever tool asked.
- `backoff`: it waits for its bucket's backoff after the previous action on the target (False
  only for an undo of our own change, which still counts in the bucket).
An action that is not in this table is refused. Tool annotations are derived from this table
(mcp_server/server/annotations.py), so what a tool tells a client and what the policy enforces
cannot disagree.
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

# The per-service bucket every disrupting action also counts in (see budgets.py).
DISRUPTION_BUCKET = "disruption"


@dataclass(frozen=True)
class ActionSpec:
    """What the policy knows about one action kind (see the module docstring for each field)."""

    name: str
    min_mode: Mode
    needs_confirmation: bool
    budget: str | None  # budget bucket name (settings.budgets), None = only the global rate limit
    target_kinds: frozenset[str]
    description: str
    # unknown means the worst: a client should assume a new action changes and destroys state
    changes_state: bool = True
    destroys: bool = True
    idempotent: bool = False
    disrupts: bool = False
    # False: counts in its budget bucket but never waits for the bucket's backoff (an undo)
    backoff: bool = True

    @property
    def mutating(self) -> bool:
        return self.min_mode is not Mode.READ_ONLY


_OP, _ADMIN = Mode.OPERATE, Mode.ADMIN
_TABLE = [
    # name, min mode, needs confirmation, budget bucket, target kinds, what it is; then the effects
    ActionSpec(
        "read",
        Mode.READ_ONLY,
        False,
        None,
        ANY_KIND,
        "any read: list, inspect, logs, stats",
        changes_state=False,
        destroys=False,
        idempotent=True,
    ),
    ActionSpec("restart", _OP, False, "restart", RUNNABLE, "restart a service or container", disrupts=True),
    ActionSpec(
        "start",
        _OP,
        False,
        "restart",
        RUNNABLE,
        "start a stopped service or container",
        destroys=False,  # adds running containers; what was running keeps running
        idempotent=True,
        disrupts=True,  # stop + start is a restart: both count for the service
    ),
    ActionSpec(
        "stop",
        _OP,
        True,
        None,
        RUNNABLE,
        "stop a service or container (downtime)",
        idempotent=True,
        disrupts=True,
    ),
    ActionSpec(
        "deploy",
        _OP,
        False,
        "deploy",
        RUNNABLE,
        "deploy through Dokploy (recreates containers)",
        disrupts=True,
    ),
    ActionSpec("redeploy", _OP, False, "deploy", RUNNABLE, "redeploy through Dokploy", disrupts=True),
    ActionSpec(
        "rollback",
        _OP,
        False,
        "rollback",
        RUNNABLE,
        "go back to the previous deployment (overwrites the compose file, recreates containers)",
        disrupts=True,
    ),
    # Memory limits change live (docker update) and are saved to the compose file or Dokploy
    # without a redeploy: no container restarts, so neither counts as a disruption.
    ActionSpec(
        "raise_memory",
        _OP,
        False,
        "memory",
        RUNNABLE,
        "raise a live memory limit within bounds",
        destroys=False,  # more room; the saved file keeps everything else (and is snapshotted)
        idempotent=True,
    ),
    ActionSpec(
        "lower_memory",
        _ADMIN,
        True,
        "memory",
        RUNNABLE,
        "lower a live memory limit (the kernel may kill the container)",
        idempotent=True,
    ),
    # The one lowering operate mode allows: undoing this server's own raise. The gate checks the
    # audit log (safety/revert.py): the last memory change of the same target was a raise by this
    # server, within `memory_revert_window_s`, from exactly the limit asked for now, and the limit
    # is still what that raise set. It counts in the memory budget but never waits for backoff:
    # an undo puts back the state before our own change, and waiting would keep a bad change in
    # place; the budget's count still stops a raise/undo loop.
    ActionSpec(
        "revert_memory",
        _OP,
        False,
        "memory",
        RUNNABLE,
        "undo this server's own raise: restore the limit it replaced (audited, within a window)",
        idempotent=True,
        backoff=False,
    ),
    ActionSpec("kill", _ADMIN, True, "restart", RUNNABLE, "kill a container (SIGKILL)", disrupts=True),
    # exec runs a command inside a container: the policy cannot know what it changes
    ActionSpec("exec", _ADMIN, True, None, RUNNABLE, "run a command inside a container"),
    ActionSpec(
        "remove",
        _ADMIN,
        True,
        None,
        frozenset({"container", "volume", "network", "image"}),
        "remove a container, volume, network or image",
        idempotent=True,
        disrupts=True,  # counts only when a container of a service goes (see gate.py)
    ),
    ActionSpec(
        "prune",
        _ADMIN,
        True,
        None,
        frozenset({"host"}),
        "prune unused Docker objects (never running containers)",
        idempotent=True,
    ),
    # A Dokploy query that returns a file or a secret (a container's or volume's files, Traefik's
    # config and env, SSH keys, provider credentials; see dokploy/operation_kinds.py). It changes
    # nothing, so no confirmation and no protection rules, but only a human's admin mode allows it.
    ActionSpec(
        "read_sensitive",
        _ADMIN,
        False,
        None,
        frozenset({"dokploy_api"}),
        "read a file or a secret through Dokploy (container or volume files, Traefik, keys, credentials)",
        changes_state=False,
        destroys=False,
        idempotent=True,
    ),
    # whether a Dokploy mutation disrupts depends on the procedure: see dokploy_procedure_disrupts
    ActionSpec(
        "dokploy_mutation",
        _ADMIN,
        True,
        "dokploy",
        frozenset({"dokploy_api"}),
        "any other Dokploy API mutation",
    ),
]

ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in _TABLE}
BUDGET_BUCKETS: frozenset[str] = frozenset(
    {*(spec.budget for spec in _TABLE if spec.budget), DISRUPTION_BUCKET}
)

# Dokploy routers whose objects run as containers, and their procedures that restart, stop,
# (re)create or remove those containers. Compared lower-cased.
_SERVICE_ROUTERS = frozenset(
    {"application", "compose", "postgres", "mysql", "mariadb", "mongo", "redis", "libsql"}
)
_DISRUPTING_VERBS = frozenset(
    {"deploy", "redeploy", "start", "stop", "reload", "rebuild", "delete", "remove", "isolateddeployment"}
)
_DISRUPTING_PROCEDURES = frozenset(
    {
        "docker.restartcontainer",
        "docker.startcontainer",
        "docker.stopcontainer",
        "docker.killcontainer",
        "docker.removecontainer",
        "rollback.rollback",
        "previewdeployment.redeploy",
    }
)


def dokploy_procedure_disrupts(procedure: str) -> bool:
    """Whether the Dokploy procedure `router.procedure` restarts, stops, recreates or removes the
    containers of the service (or container) it names: `compose.stop`, `application.deploy`,
    `postgres.reload`, `docker.restartContainer`, …"""
    name = procedure.lower()
    router, _, verb = name.partition(".")
    return name in _DISRUPTING_PROCEDURES or (router in _SERVICE_ROUTERS and verb in _DISRUPTING_VERBS)


def counts_as_disruption(spec: ActionSpec, procedure: str | None = None) -> bool:
    """Whether an allowed `spec` action counts against the disruption budget of every service it
    affects; `procedure` is the Dokploy procedure of a dokploy_mutation."""
    if spec.name == "dokploy_mutation":
        return procedure is not None and dokploy_procedure_disrupts(procedure)
    return spec.disrupts


def get_action(name: str) -> ActionSpec | None:
    """The spec of `name`, or None when the action is unknown (and must be refused)."""
    return ACTIONS.get(name)
