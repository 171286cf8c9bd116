"""The Docker hosts a server operates, by name, and how each maps to Dokploy.

Today a server has one: the local engine (`DOCKER_HOST`), named by `settings.docker_host_name`,
which is the engine Dokploy itself runs on (Dokploy's `serverId` is null for it). Tools and
resources take a host name (None: this default) and get its `DockerHost` from
`Services.host(name)`, so adding remote hosts later touches the table, not every tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from mcp_server.docker_ops.host import DockerHost, DockerOpsError
from mcp_server.settings import Settings


@dataclass(frozen=True)
class HostRef:
    """One Docker host: its name (in audit rows, budgets, signals), where its engine listens, and
    the Dokploy `serverId` of the remote server it is (None: Dokploy's own machine)."""

    name: str
    docker_url: str
    dokploy_server_id: str | None = None


class UnknownHost(DockerOpsError):
    """A tool named a Docker host this server does not know."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown Docker host {name!r}; known hosts: {', '.join(known)} (omit host for the default)"
        )


def configured_hosts(settings: Settings) -> list[HostRef]:
    """The hosts the settings name, the default first (today only the local engine)."""
    return [HostRef(name=settings.docker_host_name, docker_url=settings.docker_host, dokploy_server_id=None)]


def open_hosts(refs: list[HostRef]) -> dict[str, DockerHost]:
    """A DockerHost per HostRef, by name (no connection is made until the first call)."""
    return {ref.name: DockerHost(ref.docker_url, name=ref.name) for ref in refs}


def pick_host(hosts: dict[str, DockerHost], name: str | None, default: str) -> DockerHost:
    """`hosts[name]`, the default when name is None; UnknownHost naming the known ones."""
    found = hosts.get(default if name is None else name)
    if found is None:
        raise UnknownHost(str(name), list(hosts))
    return found


DOCKER_HOST_ARGUMENT = "Docker host name; default: the local engine"
DockerHostName = Annotated[str | None, Field(max_length=100, description=DOCKER_HOST_ARGUMENT)]
"""The `host` argument every tool takes (see app.py: it stays out of the published schema while the
tool list is at its token limit, so clients cannot see it yet; passing it works)."""
