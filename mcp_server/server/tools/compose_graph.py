"""compose_graph: a stack's compose file (redacted) with dependencies, start order and blast radius."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.compose_graph import ComposeGraph
from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.inventory import inventory
from mcp_server.dokploy.host_files import (
    CONFIG_FILES_LABEL,
    ComposeText,
    HostFileError,
    dokploy_compose_text,
    read_code_dir_compose,
)
from mcp_server.redaction import redact_text
from mcp_server.safety import Target
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.services import DokployUnavailable, Services
from mcp_server.server.tools._targets import find_group


class ServiceNode(BaseModel):
    name: str
    kind: str = Field(description="database, cache, queue, search, vector-db, storage, proxy or app")
    depends_on: list[str] = Field(description="explicit: depends_on, links, volumes_from, network_mode")
    implicit: list[str] = Field(description="hosts named in env/command, e.g. 'db (DATABASE_URL)'")
    blast_radius: list[str] = Field(description="everything that breaks if this service is down")
    upstream: list[str] = Field(description="check these first when this service fails")


class GraphResult(BaseModel):
    app_name: str
    source: str = Field(
        description="where the file came from: dokploy, or the deployed file under Dokploy's directory"
    )
    start_order: list[str]
    services: list[ServiceNode]
    findings: list[str] = Field(description="missing memory limits, missing health checks, ...")
    compose_file: str | None = Field(description="the file with secrets masked (include_file=true)")


async def _compose_text(svc: Services, app_name: str) -> ComposeText:
    """The compose file and its env: from Dokploy when it knows the app, else from the file Compose
    recorded, only when it lies inside Dokploy's code directory of this app (see host_files)."""
    base = svc.settings.dokploy_base_dir
    try:
        client = await svc.dokploy()
        for row in await client.overview_services():
            if row.app_name == app_name and row.type == "compose":
                compose = await client.compose_one(row.id)
                return await anyio.to_thread.run_sync(dokploy_compose_text, compose, base)
    except DokployUnavailable:
        pass
    if not svc.docker.is_local_socket:
        raise fail(
            f"cannot read the compose file of {app_name!r}: Dokploy does not know it and the Docker "
            "engine is on another host, whose files this server does not read; configure DOKPLOY_URL"
        )
    group = find_group(await inventory(svc.docker), app_name)
    # Compose recorded the file it deployed in a label on each container: only a hint, checked.
    named: str | None = None
    for name in [c.name for s in group.services for c in s.containers]:
        named = (await container_details(svc.docker, name)).labels.get(CONFIG_FILES_LABEL)
        if named:
            break
    what = f"named by the container label {CONFIG_FILES_LABEL}" if named else "Dokploy's default file"
    return await anyio.to_thread.run_sync(
        functools.partial(read_code_dir_compose, base, app_name, named, what=what)
    )


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("compose_graph"))
    async def compose_graph(
        ctx: Context,
        app_name: Annotated[str, Field(description="Dokploy appName of the compose stack")],
        include_file: Annotated[bool, Field(description="also return the compose file (redacted)")] = False,
    ) -> GraphResult:
        """Dependency graph of a compose stack: per service its kind, explicit and implicit
        dependencies, blast radius (what breaks if it is down) and upstream (what to check first),
        the start order, and findings such as missing memory limits or health checks.
        Use it before acting on a service. Cost: one Dokploy call and a parse."""
        svc = services(ctx)
        with tool_errors():
            try:
                found = await _compose_text(svc, app_name)
            except HostFileError as exc:
                raise fail(str(exc)) from None
            graph = await anyio.to_thread.run_sync(
                lambda: ComposeGraph.from_text(found.text, env_file_text=found.env or "")
            )
            kinds = graph.kinds()
            nodes = [
                ServiceNode(
                    name=name,
                    kind=kinds[name].kind if name in kinds else "app",
                    depends_on=[d.service for d in graph.explicit_dependencies(name)],
                    implicit=[f"{d.service} ({d.evidence})" for d in graph.implicit_dependencies(name)],
                    blast_radius=graph.blast_radius(name),
                    upstream=graph.upstream(name),
                )
                for name in graph.start_order()
            ]
            findings = [f"{f.service or 'file'}: {f.message}" for f in graph.findings()]
        await audit_read(
            ctx,
            "compose_graph",
            Target(kind="compose_project", host=svc.host_name, project=app_name),
            {"app_name": app_name},
        )
        return safe(
            GraphResult(
                app_name=app_name,
                source=found.source,
                start_order=graph.start_order(),
                services=nodes,
                findings=findings,
                compose_file=redact_text(found.text) if include_file else None,
            )
        )
