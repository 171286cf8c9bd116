"""prune: remove unused images, build cache and stopped containers (never volumes).

A dry run is the default: it lists what would go and the space it frees. A real prune makes its own
fresh plan in the same call and removes exactly that, so nothing planned long ago is removed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.prune import (
    PruneCandidate,
    PruneKind,
    PrunePlan,
    StoppedContainer,
    execute_prune,
    list_stopped_containers,
    plan_prune,
    remove_stopped_containers,
)
from mcp_server.safety import Target, describe_blast_radius, protection_reason
from mcp_server.safety.policy import human_bytes
from mcp_server.server.arguments import LabelFilter
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.services import Services

TOOL = "prune"
What = Literal["images", "build_cache", "containers"]
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*(=[^\s,]*)?$")


class PruneItem(BaseModel):
    kind: What
    id: str = Field(description="short id, or build cache record id")
    name: str = Field(description="tags, container name or cache description")
    size: str


class PruneOutcome(BaseModel):
    dry_run: bool
    what: list[What]
    label: str | None
    items: list[PruneItem] = Field(description="what would go (dry run) or what went")
    space: str = Field(description="space freed, or that would be freed")
    kept: list[str] = Field(description="planned but kept by the engine (e.g. in use again)")
    errors: list[str]
    notes: list[str]
    policy: str = Field(description="the safety decision")


class _Plan:
    """Images/build cache from docker_ops' planner, plus the stopped containers that are not protected."""

    def __init__(
        self, engine: PrunePlan | None, containers: list[StoppedContainer], notes: list[str]
    ) -> None:
        self.engine = engine
        self.containers = containers
        self.notes = notes

    def items(self) -> list[PruneItem]:
        engine = [_engine_item(c) for c in (self.engine.candidates if self.engine else [])]
        return engine + [_container_item(c) for c in self.containers]

    def space_bytes(self) -> int:
        engine = self.engine.reclaimable_bytes if self.engine else 0
        return engine + sum(c.size_bytes for c in self.containers)


def _engine_item(candidate: PruneCandidate) -> PruneItem:
    kind: What = "images" if candidate.kind == "images" else "build_cache"
    short = candidate.id.removeprefix("sha256:")[:12]
    return PruneItem(kind=kind, id=short, name=candidate.description, size=human_bytes(candidate.size_bytes))


def _container_item(row: StoppedContainer) -> PruneItem:
    return PruneItem(kind="containers", id=row.id[:12], name=row.name, size=human_bytes(row.size_bytes))


async def _container_plan(
    svc: Services, host: DockerHost, label: str | None, notes: list[str]
) -> list[StoppedContainer]:
    """Stopped containers (with `label`), minus protected ones (Dokploy, Traefik, InfraGuardian)."""
    found = []
    for row in await list_stopped_containers(host, label or None):
        target = Target.for_container(host.name, row.name, image=row.image, labels=row.labels)
        why = protection_reason(target, svc.safety.settings)
        if why:
            notes.append(f"kept {row.name}: protected because {why}")
            continue
        if row.compose_project:
            notes.append(
                f"{row.name} belongs to a compose project: its next deploy/start_compose recreates it"
            )
        found.append(row)
    return found


async def prune(
    ctx: Context,
    what: Annotated[list[What], Field(min_length=1, max_length=3)],
    dry_run: bool = True,
    label: Annotated[LabelFilter, Field(description="only objects with this label (k or k=v)")] = "",
    host: DockerHostName = None,
) -> PruneOutcome:
    """Free disk: dangling images, unused build cache, stopped containers; never volumes.
    The default dry run lists them and the space; dry_run=false re-plans, asks a human and
    removes. Admin mode only."""
    svc = services(ctx)
    if label and not _LABEL.match(label):
        raise fail(f"label {label!r} is not a label filter; write key or key=value, e.g. 'ig.test=x'")
    kinds = list(dict.fromkeys(what))
    notes: list[str] = []
    with tool_errors():
        docker_host = svc.host(host)
        engine_kinds: list[PruneKind] = [k for k in ("images", "build_cache") if k in kinds]
        engine = (
            await plan_prune(docker_host, engine_kinds, labels=[label] if label else None)
            if engine_kinds
            else None
        )
        containers = await _container_plan(svc, docker_host, label, notes) if "containers" in kinds else []
        plan = _Plan(engine, containers, [*(engine.notes if engine else []), *notes])
        items = plan.items()
        target = Target.for_host(docker_host.name)
        confirmation = describe_blast_radius(
            target,
            [],
            f"Removes {len(items)} objects ({', '.join(kinds)}"
            f"{', label ' + label if label else ''}), freeing {human_bytes(plan.space_bytes())}. "
            "Volumes are never pruned.",
            action="prune",
        )
        async with guarded(
            ctx,
            tool=TOOL,
            action="prune",
            target=target,
            dry_run=dry_run,
            details={"what": kinds, "label": label or None},
            confirm_message=confirmation,
        ) as call:
            result = PruneOutcome(
                dry_run=dry_run,
                what=kinds,
                label=label or None,
                items=items,
                space=human_bytes(plan.space_bytes()),
                kept=[],
                errors=[],
                notes=plan.notes,
                policy=call.decision.reason,
            )
            if not dry_run:
                await _execute(docker_host, plan, result)
                if result.errors:
                    call.result = "error"
            call.summary = (
                f"{'would remove' if dry_run else 'removed'} {len(result.items)} objects, {result.space}"
            )
            return safe(result)


async def _execute(host: DockerHost, plan: _Plan, result: PruneOutcome) -> None:
    freed = 0
    removed: list[PruneItem] = []
    if plan.engine is not None and plan.engine.candidates:
        done = await execute_prune(host, plan.engine)
        freed += done.space_reclaimed_bytes
        removed += [_engine_item(c) for c in done.removed]
        result.kept += done.planned_not_removed
        result.errors += done.errors + [f"removed beyond the plan: {x}" for x in done.removed_not_planned]
    if plan.containers:
        gone = await remove_stopped_containers(host, plan.containers)
        freed += sum(r.size_bytes for r in gone.removed)
        removed += [_container_item(r) for r in gone.removed]
        result.kept += gone.kept
        result.errors += gone.errors
    result.items = removed
    result.space = human_bytes(freed)
