"""Prune on the real engine, scoped to this session's labelled objects only (never engine-wide)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import docker
import docker.errors
import pytest

from mcp_server.docker_ops.host import ActionRefused, DockerHost
from mcp_server.docker_ops.prune import execute_prune, plan_prune

from .dockerops_helpers import LABELS, RUN_ID, TEST_IMAGE, unique

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


def _image_exists(client: docker.DockerClient, image_id: str) -> bool:
    try:
        client.images.get(image_id)
    except docker.errors.ImageNotFound:
        return False
    return True


def _volume_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


@pytest.fixture
def objects(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """Labelled images and volumes in every state a prune must tell apart. Each test gets its own
    `ig.case` label, so a plan scoped to `labels` sees this test's objects and nothing else."""
    labels = {**LABELS, "ig.case": secrets.token_hex(4)}
    changes = [f"LABEL {k}={v}" for k, v in labels.items()]
    base = docker_client.containers.create(TEST_IMAGE, ["true"], name=unique("commit"), labels=labels)
    dangling = base.commit(changes=changes)  # untagged
    tagged = base.commit(
        repository=f"ig-dockerops-img-{RUN_ID}", tag=f"unused-{labels['ig.case']}", changes=changes
    )
    in_use = base.commit(
        repository=f"ig-dockerops-img-{RUN_ID}", tag=f"in-use-{labels['ig.case']}", changes=changes
    )
    base.remove()

    free = docker_client.volumes.create(name=unique("vol-free"), labels=labels)
    used = docker_client.volumes.create(name=unique("vol-used"), labels=labels)
    anonymous = docker_client.volumes.create(labels=labels)  # gets a 64-hex name, like VOLUME ones
    writer = docker_client.containers.run(
        TEST_IMAGE,
        ["sh", "-c", "head -c 1000000 /dev/zero > /data/blob"],
        volumes={free.name: {"bind": "/data"}},
        labels=labels,
        network_mode="none",
        detach=True,
    )
    writer.wait(timeout=30)
    writer.remove()
    # a stopped container still "uses" its image and volume: neither may be pruned
    docker_client.containers.create(
        in_use.id, ["true"], name=unique("holder"), labels=labels, volumes={used.name: {"bind": "/data"}}
    )
    try:
        yield {
            "labels": labels,  # type: ignore[dict-item]
            "dangling": dangling.id or "",
            "tagged": tagged.id or "",
            "in_use": in_use.id or "",
            "free": free.name or "",
            "used": used.name or "",
            "anonymous": anonymous.name or "",
        }
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ig.case={labels['ig.case']}"}
        ):
            container.remove(force=True)
        for volume in (free, used, anonymous):
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove()
        for image in (in_use, tagged, dangling):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(image.id, force=True)


async def test_dry_run_lists_exactly_the_unused_labelled_objects(
    host: DockerHost, objects: dict[str, Any]
) -> None:
    default = await plan_prune(host, ["images", "volumes", "build_cache"], labels=objects["labels"])
    assert {(c.kind, c.id) for c in default.candidates} == {
        ("images", objects["dangling"]),
        ("volumes", objects["anonymous"]),
    }
    assert any("build cache skipped" in n for n in default.notes)
    assert any("named volumes are kept" in n for n in default.notes)

    wide = await plan_prune(
        host,
        ["images", "volumes"],
        labels=objects["labels"],
        images_all_unused=True,
        include_named_volumes=True,
    )
    assert {(c.kind, c.id) for c in wide.candidates} == {
        ("images", objects["dangling"]),
        ("images", objects["tagged"]),
        ("volumes", objects["free"]),
        ("volumes", objects["anonymous"]),
    }
    free = next(c for c in wide.candidates if c.id == objects["free"])
    assert free.size_bytes >= 1_000_000 and free.description.startswith("named")
    assert wide.reclaimable_by_kind["volumes"] >= 1_000_000
    assert wide.reclaimable_bytes == sum(c.size_bytes for c in wide.candidates)


async def test_real_prune_removes_the_plan_and_keeps_what_is_in_use(
    host: DockerHost, objects: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    plan = await plan_prune(
        host,
        ["images", "volumes"],
        labels=objects["labels"],
        images_all_unused=True,
        include_named_volumes=True,
    )
    # between the dry run and the prune, a container starts using a planned volume
    docker_client.containers.create(
        TEST_IMAGE,
        ["true"],
        name=unique("late"),
        labels=objects["labels"],
        volumes={objects["free"]: {"bind": "/d"}},
    )
    result = await execute_prune(host, plan)
    assert {(c.kind, c.id) for c in result.removed} == {
        ("images", objects["dangling"]),
        ("images", objects["tagged"]),
        ("volumes", objects["anonymous"]),
    }
    assert result.planned_not_removed == [f"volumes {objects['free']}"]
    assert len(result.errors) == 1 and objects["free"] in result.errors[0] and "in use" in result.errors[0]
    assert result.removed_not_planned == []
    assert not _image_exists(docker_client, objects["dangling"])
    assert not _image_exists(docker_client, objects["tagged"])
    assert _image_exists(docker_client, objects["in_use"])
    assert not _volume_exists(docker_client, objects["anonymous"])
    assert _volume_exists(docker_client, objects["free"]) and _volume_exists(docker_client, objects["used"])


async def test_stale_or_foreign_plans_are_refused(host: DockerHost, objects: dict[str, Any]) -> None:
    plan = await plan_prune(host, ["volumes"], labels=objects["labels"])
    stale = plan.model_copy(update={"created_at": plan.created_at - timedelta(hours=1)})
    with pytest.raises(ActionRefused, match="dry run again"):
        await execute_prune(host, stale)
    with pytest.raises(ActionRefused, match="made for"):
        await execute_prune(DockerHost("tcp://other-host:2375"), plan)
    assert plan.candidates  # nothing was removed by the refused calls
