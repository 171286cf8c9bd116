"""Procedure registry: one async handler per Dokploy procedure, looked up by `router.procedure`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..world import World


class _Void:
    """Marker for procedures that return nothing: HTTP 200 with a zero-length body."""

    def __repr__(self) -> str:
        return "VOID"


VOID = _Void()

Input = dict[str, Any]
Handler = Callable[[World, Input], Awaitable[Any]]

PROCEDURES: dict[str, Handler] = {}


def procedure(name: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the implementation of Dokploy procedure `name` (e.g. "compose.one")."""

    def register(fn: Handler) -> Handler:
        if name in PROCEDURES:
            raise ValueError(f"procedure {name} registered twice")
        PROCEDURES[name] = fn
        return fn

    return register


def service_path(world: World, kind: str, row: dict[str, Any]) -> dict[str, str]:
    """The UI link a queued job points to (queueList's `servicePath`)."""
    env = world.db.environment(row["environmentId"])
    id_key = "composeId" if kind == "compose" else "applicationId"
    return {
        "href": f"/dashboard/project/{env['projectId']}/environment/{env['environmentId']}/services/{kind}/"
        f"{row[id_key]}",
        "label": "Compose" if kind == "compose" else "Application",
    }
