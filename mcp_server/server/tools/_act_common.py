"""What the action tools share besides resolving (server/resolve.py): per-container outcomes, start
order, memory in use, diffs for dry runs, env changes, and progress notifications."""

from __future__ import annotations

import difflib

import docker
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.host import DockerHost, get_container
from mcp_server.docker_ops.models import ContainerDetails
from mcp_server.docker_ops.stats import memory_without_cache
from mcp_server.redaction import redact_text

COMPOSE_DEPENDS_ON = "com.docker.compose.depends_on"  # "db:service_healthy:false,cache:service_started:true"
GIT_SOURCES_NOTE = "its compose file comes from git, so change it in the repository"


class ContainerOutcome(BaseModel):
    """One container before and after an action (after is None in a dry run)."""

    container: str
    status_before: str
    status_after: str | None = None
    ok: bool = True
    message: str = ""


class EnvChanges(BaseModel):
    """Env variables that differ, by name only (values are never shown)."""

    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


def start_order(details: list[ContainerDetails]) -> list[ContainerDetails]:
    """Containers ordered so a service's dependencies come first (compose's depends_on label);
    cycles and unknown services keep their original order at the end."""
    by_service: dict[str, list[ContainerDetails]] = {}
    for d in details:
        by_service.setdefault(d.compose_service or d.name, []).append(d)
    needs = {
        name: [
            dep.split(":", 1)[0]
            for dep in (group[0].labels.get(COMPOSE_DEPENDS_ON) or "").split(",")
            if dep.split(":", 1)[0] in by_service
        ]
        for name, group in by_service.items()
    }
    ordered: list[str] = []
    remaining = list(by_service)
    while remaining:
        ready = [n for n in remaining if all(d in ordered for d in needs[n])]
        if not ready:
            ordered += remaining
            break
        ordered += ready
        remaining = [n for n in remaining if n not in ready]
    return [d for name in ordered for d in by_service[name]]


async def memory_usage(host: DockerHost, container: str) -> int | None:
    """Memory in use now without page cache (like docker stats), or None when not running."""

    def read(client: docker.DockerClient) -> int | None:
        found = get_container(client, container, host.base_url)
        if not (found.attrs.get("State") or {}).get("Running"):
            return None
        raw = client.api.stats(found.id, stream=False, one_shot=True) or {}
        return memory_without_cache(raw.get("memory_stats") or {})[0]

    return await host.run(read, what=f"read memory use of {container}")


def file_diff(old: str, new: str, label: str) -> str:
    """Unified diff of two versions of a file, secrets masked on both sides."""
    a = [line + "\n" for line in redact_text(old).splitlines()]
    b = [line + "\n" for line in redact_text(new).splitlines()]
    diff = "".join(difflib.unified_diff(a, b, f"{label} (now)", f"{label} (after)"))
    if not diff and old != new:
        return "(only masked secret values differ)"
    return diff


def env_values(text: str | None) -> dict[str, str]:
    """KEY=value lines of a dotenv text (comments, blanks and `export ` prefixes handled)."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.removeprefix("export ").split("=", 1)
        out[key.strip()] = value
    return out


def env_changes(old: str | None, new: str | None) -> EnvChanges:
    a, b = env_values(old), env_values(new)
    return EnvChanges(
        added=sorted(set(b) - set(a)),
        removed=sorted(set(a) - set(b)),
        changed=sorted(k for k in set(a) & set(b) if a[k] != b[k]),
    )


def is_git_source(source_type: str | None) -> bool:
    return source_type not in (None, "", "raw")


class Progress:
    """MCP progress notifications with an increasing step counter (no-op without a progress token)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.step = 0

    async def __call__(self, message: str) -> None:
        self.step += 1
        await self.ctx.report_progress(self.step, None, message)
