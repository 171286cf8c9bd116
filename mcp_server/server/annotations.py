"""Each tool's MCP annotations, derived from the safety policy so the two cannot disagree.

A tool declares here which actions it may ask the safety gate for (`TOOLS`); its hints follow
from those actions' rows in the policy table (mcp_server/safety/actions.py):
- readOnlyHint: every action is a read (changes nothing; a sensitive read needs admin mode but
  still changes nothing);
- destructiveHint: at least one action destroys or replaces state (restarts, stops, recreates or
  kills containers, overwrites compose files, deletes objects, runs commands inside containers);
- idempotentHint: every action is idempotent (repeating the call changes nothing more);
- openWorldHint: the tool reaches beyond this Docker host and Dokploy's API (the public internet,
  git and image registries). The policy does not know networks, so this one is declared.

Every tool's decorator calls `tool_annotations(name)`; building the server fails for a tool that
is not declared here or that names an action the policy does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mcp.types import ToolAnnotations

from mcp_server.safety.actions import ACTIONS

READ = ("read",)


@dataclass(frozen=True)
class ToolDeclaration:
    """What one tool may do: its title, the policy actions it may ask for, whether it reaches
    beyond this host and Dokploy."""

    title: str
    actions: tuple[str, ...]
    open_world: bool = False


TOOLS: dict[str, ToolDeclaration] = {
    # reads
    "list_inventory": ToolDeclaration("List inventory", READ),
    "service_status": ToolDeclaration("Service status", READ),
    "compose_health": ToolDeclaration("Compose health", READ),
    "read_logs": ToolDeclaration("Read logs", READ),
    "container_stats": ToolDeclaration("Container stats", READ),
    "recent_events": ToolDeclaration("Recent events", READ),
    "compose_graph": ToolDeclaration("Compose graph", READ),
    "deployment_history": ToolDeclaration("Deployment history", READ),
    "deployment_log": ToolDeclaration("Deployment log", READ),
    "check_domain": ToolDeclaration("Check domain", READ, open_world=True),  # DNS, TLS, HTTP to the domain
    "disk_usage": ToolDeclaration("Disk usage", READ),
    "active_signals": ToolDeclaration("Active signals", READ),
    "stats_history": ToolDeclaration("Stats history", READ),
    # changes
    "restart_service": ToolDeclaration("Restart service", ("restart",)),
    "start_compose": ToolDeclaration("Start compose", ("start",)),
    "stop_compose": ToolDeclaration("Stop compose", ("stop",)),
    # Dokploy pulls images and fetches git sources for these
    "deploy": ToolDeclaration("Deploy", ("deploy", "redeploy"), open_world=True),
    "rollback": ToolDeclaration("Roll back", ("rollback",), open_world=True),
    "set_memory_limit": ToolDeclaration(
        "Set memory limit", ("raise_memory", "lower_memory", "revert_memory")
    ),
    "prune": ToolDeclaration("Prune Docker", ("prune",)),
    "exec_diagnostic": ToolDeclaration("Run a diagnostic in a container", ("exec",)),
    "dokploy_call": ToolDeclaration(
        "Call a Dokploy API operation", ("read", "read_sensitive", "dokploy_mutation"), open_world=True
    ),
}


def derive_annotations(title: str, actions: Iterable[str], *, open_world: bool = False) -> ToolAnnotations:
    """The annotations of a tool that may perform `actions` (names in the policy table)."""
    specs = []
    for name in actions:
        spec = ACTIONS.get(name)
        if spec is None:
            raise ValueError(f"unknown action {name!r}: declare one of {', '.join(sorted(ACTIONS))}")
        specs.append(spec)
    if not specs:
        raise ValueError(f"tool {title!r} declares no action: a read-only tool declares ('read',)")
    return ToolAnnotations(
        title=title,
        read_only_hint=not any(spec.changes_state for spec in specs),
        destructive_hint=any(spec.destroys for spec in specs),
        idempotent_hint=all(spec.idempotent for spec in specs),
        open_world_hint=open_world,
    )


def tool_annotations(tool: str) -> ToolAnnotations:
    """The annotations of `tool`, from its declaration in `TOOLS`."""
    declared = TOOLS.get(tool)
    if declared is None:
        raise KeyError(f"tool {tool!r} is not declared in mcp_server/server/annotations.py TOOLS")
    return derive_annotations(declared.title, declared.actions, open_world=declared.open_world)


def declares(tool: str, action: str) -> bool:
    """Whether `tool` declared `action` (a tool asking the gate for anything else is a bug: its
    annotations would not say what it does)."""
    declared = TOOLS.get(tool)
    return declared is not None and action in declared.actions
