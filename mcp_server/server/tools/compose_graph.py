"""compose_graph: a stack's compose file (redacted) with dependencies, start order and blast radius."""

from __future__ import annotations

import functools
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.compose_graph import ComposeGraph
from mcp_server.compose_graph.summary import GraphSummary, summarize
from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy.host_files import (
    CONFIG_FILES_LABEL,
    ComposeText,
    HostFileError,
    dokploy_compose_text,
    read_code_dir_compose,
)
from mcp_server.redaction import redact_text
from mcp_server.safety import Target
from mcp_server.server.arguments import AppName, ServiceName
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import resolve_app
from mcp_server.server.services import DokployUnavailable, Services


class ServiceNode(BaseModel):
    name: str
    kind: str = Field(description="database, cache, queue, search, vector-db, storage, proxy or app")
    depends_on: list[str] = Field(description="explicit: depends_on, links, volumes_from, network_mode")
    implicit: list[str] = Field(description="hosts named in env/command, e.g. 'db (DATABASE_URL)'")
    blast_radius: list[str] = Field(description="everything that breaks if this service is down")
    upstream: list[str] = Field(description="check these first when this service fails")
    blast_radius_total: int = Field(description="length of the whole blast radius (the list shows ≤ 25)")
    upstream_total: int = Field(description="length of the whole upstream (the list shows ≤ 25)")


class GraphResult(BaseModel):
    app_name: str
    source: str = Field(
        description="where the file came from: dokploy, or the deployed file under Dokploy's directory"
    )
    services_total: int
    start_order: list[str]
    services: list[ServiceNode]
    findings: list[str] = Field(description="missing memory limits, missing health checks, ...")
    compose_file: str | None = Field(description="the file with secrets masked (include_file=true)")
    omitted: list[str] = Field(
        description="what was left out to keep the answer small, and how to ask for it"
    )


async def _compose_text(svc: Services, docker: DockerHost, app_name: str) -> ComposeText:
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
    if not docker.is_local_socket:
        raise fail(
            f"cannot read the compose file of {app_name!r}: Dokploy does not know it and the Docker "
            "engine is on another host, whose files this server does not read; configure DOKPLOY_URL"
        )
    app = await resolve_app(svc, docker, app_name, with_dokploy=False)
    app.require_group()
    # Compose recorded the file it deployed in a label on each container: only a hint, checked.
    named = next((n for d in app.containers() if (n := d.labels.get(CONFIG_FILES_LABEL))), None)
    what = f"named by the container label {CONFIG_FILES_LABEL}" if named else "Dokploy's default file"
    return await anyio.to_thread.run_sync(
        functools.partial(read_code_dir_compose, base, app_name, named, what=what)
    )


async def compose_graph(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName of the compose stack")],
    include_file: Annotated[bool, Field(description="also return the compose file (redacted)")] = False,
    service: Annotated[
        ServiceName | None, Field(description="describe this service and its neighbours first")
    ] = None,
    host: DockerHostName = None,
) -> GraphResult:
    """Dependency graph of a compose stack: per service its kind, explicit and implicit
    dependencies, blast radius (what breaks if it is down) and upstream (what to check first),
    the start order, and findings such as missing memory limits or health checks.
    Use it before acting on a service. Big stacks: at most 40 services in detail, `omitted` says
    what was left out. Cost: one Dokploy call and a parse."""
    svc = services(ctx)
    with tool_errors():
        try:
            docker = svc.host(host)
            found = await _compose_text(svc, docker, app_name)
        except HostFileError as exc:
            raise fail(str(exc)) from None
        summary = await anyio.to_thread.run_sync(
            lambda: summarize(ComposeGraph.from_text(found.text, env_file_text=found.env or ""), service)
        )
    await audit_read(
        ctx,
        "compose_graph",
        Target.for_app(docker.name, app_name),
        {"app_name": app_name},
    )
    compose_file = _bounded_file(redact_text(found.text), summary) if include_file else None
    return safe(
        GraphResult(
            app_name=app_name,
            source=found.source,
            services_total=summary.services_total,
            start_order=summary.start_order,
            services=[ServiceNode(**vars(detail)) for detail in summary.services],
            findings=summary.findings,
            compose_file=compose_file,
            omitted=summary.omitted,
        )
    )


COMPOSE_FILE_MAX_CHARS = 64 * 1024


def _bounded_file(text: str, summary: GraphSummary) -> str:
    """The (redacted) file, cut at a line end after 64 KiB; the cut is noted in `omitted`."""
    if len(text) <= COMPOSE_FILE_MAX_CHARS:
        return text
    cut = text.rfind("\n", 0, COMPOSE_FILE_MAX_CHARS) + 1 or COMPOSE_FILE_MAX_CHARS
    summary.omitted.append(
        f"compose_file: cut after {cut:,} of {len(text):,} characters (line {text.count(chr(10), 0, cut) + 1}); "
        "the graph above covers the whole file"
    )
    return text[:cut]
