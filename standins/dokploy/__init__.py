"""A local stand-in for Dokploy v0.30.2, for tests and offline development.

It answers `/api/<router>.<procedure>` exactly like the recorded real server (status codes, headers,
error bodies, return shapes), validates every request against Dokploy's OpenAPI document, keeps
projects/services/deployments in memory, and deploys compose projects, applications and databases
on the real Docker engine the way Dokploy does.

    from standins.dokploy import StandIn
    with StandIn() as dokploy:            # or: async with StandIn() as dokploy
        httpx.get(f"{dokploy.url}/api/project.all", headers=dokploy.headers)
    dokploy.teardown()                    # remove what it deployed (tests)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import StandIn
    from .world import Rejection, StandInConfig

__all__ = ["Rejection", "StandIn", "StandInConfig"]


def __getattr__(name: str) -> Any:
    # imported lazily so `standin --help` and the id/format helpers stay fast
    if name == "StandIn":
        from .server import StandIn

        return StandIn
    if name in ("Rejection", "StandInConfig"):
        from . import world

        return getattr(world, name)
    raise AttributeError(name)
