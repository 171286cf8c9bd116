"""Prune images, volumes and build cache: always a dry-run plan first, then the real prune.

The Engine API has no dry run, so `plan_prune` computes what would go from the same lists the
engine uses (dangling or unused images, volumes no container references, build cache records not
in use) with their sizes. `execute_prune(plan)` then removes with the plan's exact scope:
- images: the engine's prune with the plan's filters (dangling/unused + labels), so the engine
  itself re-checks that no container uses them;
- volumes: one by one, only the planned names, without force: the engine refuses a volume a
  container uses, so a volume that got a user since the plan is kept. Named volumes are only
  planned with `include_named_volumes=True` (Dokploy database data lives in named volumes
  `<appName>-data`, which become "unused" while the database is stopped);
- build cache: the engine's build-cache prune; it has no labels, so a label-scoped plan never
  touches it.

Stopped containers have their own pair: `list_stopped_containers` (exited, created or dead, with
the space each frees) and `remove_stopped_containers(planned)`, which removes only those, without
force, so one started again since the plan is kept. Which of them are protected is the caller's
decision (the safety layer's rules), made between the two calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import docker
import docker.errors
from pydantic import BaseModel, Field

from .host import ActionRefused, DockerHost, InvalidArgument
from .models import COMPOSE_PROJECT

PruneKind = Literal["images", "volumes", "build_cache"]
ALL_KINDS: tuple[PruneKind, ...] = ("images", "volumes", "build_cache")
STOPPED_STATES = ("exited", "created", "dead")
"""Container states a prune may remove (never running, restarting or paused ones)."""
PLAN_MAX_AGE = timedelta(minutes=15)
"""A plan older than this is refused: the engine has changed too much since the dry run."""
_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")


class PruneCandidate(BaseModel):
    kind: PruneKind
    id: str = Field(description="image id, volume name, or build cache record id")
    description: str = Field(description="tags, volume driver/labels, or cache description")
    size_bytes: int = Field(description="space freed by removing it (estimate for images, see plan notes)")


class PrunePlan(BaseModel):
    """What a prune would remove, and how much space it would free. Pass it to execute_prune."""

    base_url: str
    created_at: datetime
    kinds: list[PruneKind]
    labels: list[str] = Field(description="label filters (key or key=value); empty = not scoped")
    images_all_unused: bool = Field(description="False = only dangling (untagged) images")
    include_named_volumes: bool
    build_cache_all: bool
    candidates: list[PruneCandidate]
    reclaimable_bytes: int
    reclaimable_by_kind: dict[str, int]
    notes: list[str] = Field(default_factory=list)


class PruneResult(BaseModel):
    """What the real prune removed."""

    base_url: str
    removed: list[PruneCandidate]
    space_reclaimed_bytes: int
    planned_not_removed: list[str] = Field(description="planned ids the engine kept (e.g. now in use)")
    removed_not_planned: list[str] = Field(description="ids the engine removed beyond the plan")
    errors: list[str] = Field(default_factory=list)


def _label_filters(labels: Mapping[str, str] | Sequence[str] | None) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, Mapping):
        return [f"{k}={v}" for k, v in labels.items()]
    if isinstance(labels, str):
        raise InvalidArgument("labels must be a list like ['ig.test=dockerops'] or a dict, not a string")
    return [str(label) for label in labels]


def _plan_images(
    client: docker.DockerClient, df: dict[str, Any], labels: list[str], all_unused: bool
) -> list[PruneCandidate]:
    filters: dict[str, Any] = {"label": labels} if labels else {}
    if not all_unused:
        filters["dangling"] = True
    images = client.api.images(all=False, filters=filters)
    used = {c.get("ImageID") for c in client.api.containers(all=True)}
    unique_size = {
        i.get("Id"): int(i.get("Size", 0)) - max(int(i.get("SharedSize", 0)), 0)
        for i in df.get("Images") or []
    }
    out = []
    for image in images:
        image_id = image.get("Id", "")
        if image_id in used:
            continue
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        out.append(
            PruneCandidate(
                kind="images",
                id=image_id,
                description=", ".join(tags) or "<untagged>",
                size_bytes=unique_size.get(image_id, int(image.get("Size", 0))),
            )
        )
    return out


def _plan_volumes(
    client: docker.DockerClient, df: dict[str, Any], labels: list[str], include_named: bool
) -> list[PruneCandidate]:
    filters: dict[str, Any] = {"dangling": True}
    if labels:
        filters["label"] = labels
    volumes = client.api.volumes(filters=filters).get("Volumes") or []
    usage = {v.get("Name"): v.get("UsageData") or {} for v in df.get("Volumes") or []}
    out = []
    for volume in volumes:
        name = volume.get("Name", "")
        anonymous = bool(_ANONYMOUS_VOLUME.match(name)) or "com.docker.volume.anonymous" in (
            volume.get("Labels") or {}
        )
        if volume.get("Driver") != "local" or (not anonymous and not include_named):
            continue
        if int(usage.get(name, {}).get("RefCount", 0)) > 0:
            continue  # a container (even a stopped one) refers to it
        size = int(usage.get(name, {}).get("Size", -1))
        labels_text = ",".join(f"{k}={v}" for k, v in sorted((volume.get("Labels") or {}).items()))
        out.append(
            PruneCandidate(
                kind="volumes",
                id=name,
                description=("anonymous" if anonymous else "named")
                + (f" [{labels_text}]" if labels_text else ""),
                size_bytes=max(size, 0),
            )
        )
    return out


def _plan_build_cache(df: dict[str, Any], build_all: bool) -> list[PruneCandidate]:
    out = []
    for record in df.get("BuildCache") or []:
        if record.get("InUse"):
            continue
        # without --all BuildKit keeps records of the frontend/internal types
        if not build_all and record.get("Type") in ("internal", "frontend"):
            continue
        out.append(
            PruneCandidate(
                kind="build_cache",
                id=str(record.get("ID", "")),
                description=str(record.get("Description") or record.get("Type") or ""),
                size_bytes=0 if record.get("Shared") else int(record.get("Size") or 0),
            )
        )
    return out


async def plan_prune(
    host: DockerHost,
    kinds: Sequence[PruneKind] = ALL_KINDS,
    *,
    labels: Mapping[str, str] | Sequence[str] | None = None,
    images_all_unused: bool = False,
    include_named_volumes: bool = False,
    build_cache_all: bool = False,
) -> PrunePlan:
    """Dry run: list what a prune would remove and the space it would free. Changes nothing.

    Args:
        kinds: any of "images", "volumes", "build_cache".
        labels: only objects with these labels (e.g. {"ig.test": "dockerops"}); build cache has
            no labels and is skipped when this is set.
        images_all_unused: also tagged images no container uses (like `docker image prune -a`).
        include_named_volumes: also unused NAMED volumes (careful: stopped databases' data).
        build_cache_all: also BuildKit's internal/frontend records (like `docker builder prune -a`).
    """
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        raise InvalidArgument(f"prune kinds must be some of {', '.join(ALL_KINDS)}, got {list(kinds)}")
    label_list = _label_filters(labels)
    notes: list[str] = []

    def collect(client: docker.DockerClient) -> list[PruneCandidate]:
        df = client.df()
        found: list[PruneCandidate] = []
        if "images" in kinds:
            found += _plan_images(client, df, label_list, images_all_unused)
            notes.append("image sizes count layers no other image shares; the real figure can be lower")
        if "volumes" in kinds:
            found += _plan_volumes(client, df, label_list, include_named_volumes)
            if not include_named_volumes:
                notes.append("named volumes are kept (include_named_volumes=False)")
        if "build_cache" in kinds:
            if label_list:
                notes.append(
                    "build cache skipped: it has no labels, so a label-scoped prune can't include it"
                )
            else:
                found += _plan_build_cache(df, build_cache_all)
        return found

    candidates = await host.run(collect, what="plan prune")
    by_kind: dict[str, int] = {k: 0 for k in kinds}
    for candidate in candidates:
        by_kind[candidate.kind] += candidate.size_bytes
    return PrunePlan(
        base_url=host.base_url,
        created_at=datetime.now(UTC),
        kinds=list(kinds),
        labels=label_list,
        images_all_unused=images_all_unused,
        include_named_volumes=include_named_volumes,
        build_cache_all=build_cache_all,
        candidates=candidates,
        reclaimable_bytes=sum(by_kind.values()),
        reclaimable_by_kind=by_kind,
        notes=notes,
    )


def _execute(client: docker.DockerClient, plan: PrunePlan) -> PruneResult:
    planned = {(c.kind, c.id): c for c in plan.candidates}
    removed: list[PruneCandidate] = []
    extra: list[str] = []
    errors: list[str] = []
    reclaimed = 0
    if "images" in plan.kinds and any(c.kind == "images" for c in plan.candidates):
        filters: dict[str, Any] = {"dangling": not plan.images_all_unused}
        if plan.labels:
            filters["label"] = plan.labels
        # the prune answer mixes image ids with layer ids, so compare the image lists instead
        # (for listing, dangling=false would mean "tagged only", so it's left out in -a mode)
        list_filters = {k: v for k, v in filters.items() if k != "dangling" or v}
        before = {i.get("Id", "") for i in client.api.images(filters=list_filters)}
        answer = client.api.prune_images(filters=filters)
        reclaimed += int(answer.get("SpaceReclaimed") or 0)
        after = {i.get("Id", "") for i in client.api.images(filters=list_filters)}
        for image_id in sorted(before - after):
            if ("images", image_id) in planned:
                removed.append(planned[("images", image_id)])
            else:
                extra.append(f"image {image_id}")
    for candidate in (c for c in plan.candidates if c.kind == "volumes"):
        try:
            client.api.remove_volume(candidate.id, force=False)
        except docker.errors.NotFound:
            continue  # already gone: nothing to report
        except docker.errors.APIError as exc:
            errors.append(f"volume {candidate.id} kept: {exc.explanation or exc}")
            continue
        removed.append(candidate)
        reclaimed += candidate.size_bytes
    if (
        "build_cache" in plan.kinds
        and not plan.labels
        and any(c.kind == "build_cache" for c in plan.candidates)
    ):
        answer = client.api.prune_builds(all=plan.build_cache_all or None)
        reclaimed += int(answer.get("SpaceReclaimed") or 0)
        for cache_id in answer.get("CachesDeleted") or []:
            if ("build_cache", cache_id) in planned:
                removed.append(planned[("build_cache", cache_id)])
            else:
                extra.append(f"build cache {cache_id}")
    removed_keys = {(c.kind, c.id) for c in removed}
    return PruneResult(
        base_url=plan.base_url,
        removed=removed,
        space_reclaimed_bytes=reclaimed,
        planned_not_removed=[f"{kind} {key}" for (kind, key) in planned if (kind, key) not in removed_keys],
        removed_not_planned=extra,
        errors=errors,
    )


async def execute_prune(host: DockerHost, plan: PrunePlan) -> PruneResult:
    """Remove what `plan` lists (see module docstring for how each kind stays in scope).

    Refuses a plan made for another engine or older than PLAN_MAX_AGE: make a new dry run.
    """
    if plan.base_url != host.base_url:
        raise ActionRefused(f"this prune plan was made for {plan.base_url}, not {host.base_url}")
    age = datetime.now(UTC) - plan.created_at
    if age > PLAN_MAX_AGE:
        raise ActionRefused(
            f"this prune plan is {int(age.total_seconds() // 60)} minutes old; run the dry run again"
        )
    if not plan.candidates:
        return PruneResult(
            base_url=plan.base_url,
            removed=[],
            space_reclaimed_bytes=0,
            planned_not_removed=[],
            removed_not_planned=[],
        )
    return await host.run(lambda client: _execute(client, plan), what="prune")


class StoppedContainer(BaseModel):
    """A stopped container a prune could remove."""

    id: str
    name: str
    image: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    size_bytes: int = Field(description="its writable layer: the space removing it frees")

    @property
    def compose_project(self) -> str | None:
        """The compose project it belongs to (whose next deploy recreates it), if any."""
        return self.labels.get(COMPOSE_PROJECT) or None


class ContainerRemoval(BaseModel):
    """What `remove_stopped_containers` did."""

    removed: list[StoppedContainer]
    kept: list[str] = Field(description="planned but kept by the engine: 'container <name>: <why>'")
    errors: list[str]


async def list_stopped_containers(host: DockerHost, label: str | None = None) -> list[StoppedContainer]:
    """Containers in STOPPED_STATES (only those with `label`, `key` or `key=value`, when given),
    with their sizes. Changes nothing."""

    def collect(client: docker.DockerClient) -> list[StoppedContainer]:
        filters: dict[str, Any] = {"status": list(STOPPED_STATES)}
        if label:
            filters["label"] = [label]
        return [
            StoppedContainer(
                id=row["Id"],
                name=(row.get("Names") or ["/" + row["Id"][:12]])[0].lstrip("/"),
                image=row.get("Image"),
                labels=row.get("Labels") or {},
                size_bytes=int(row.get("SizeRw") or 0),
            )
            for row in client.api.containers(all=True, filters=filters, size=True)
        ]

    return await host.run(collect, what="list stopped containers")


async def remove_stopped_containers(
    host: DockerHost, planned: Sequence[StoppedContainer]
) -> ContainerRemoval:
    """Remove exactly `planned`, without force: the engine refuses a container that runs again
    (kept, with its reason); one already gone is skipped; volumes are never removed with it."""

    def remove(client: docker.DockerClient) -> ContainerRemoval:
        done = ContainerRemoval(removed=[], kept=[], errors=[])
        for container in planned:
            try:
                client.api.remove_container(container.id, v=False, force=False)
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as exc:
                (done.kept if exc.status_code == 409 else done.errors).append(
                    f"container {container.name}: {exc.explanation}"
                )
                continue
            done.removed.append(container)
        return done

    return await host.run(remove, what="remove stopped containers")
