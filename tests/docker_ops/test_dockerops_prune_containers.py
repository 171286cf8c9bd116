"""Stopped-container pruning in docker_ops, on the real engine, scoped to this test's own label:
what is listed (stopped states only, with sizes and labels) and what is removed (exactly the plan,
never a container that runs again, never its volumes)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.prune import (
    StoppedContainer,
    list_stopped_containers,
    remove_stopped_containers,
)

from .dockerops_helpers import LABELS, TEST_IMAGE, unique

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


def _exists(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.containers.get(ref)
    except docker.errors.NotFound:
        return False
    return True


@pytest.fixture
def case(docker_client: docker.DockerClient) -> Iterator[dict[str, Any]]:
    """An exited container that wrote 1 MB, a created one in a compose project, a running one and a
    volume, all with this test's own `ig.case` label."""
    labels = {**LABELS, "ig.case": secrets.token_hex(4)}
    volume = docker_client.volumes.create(name=unique("prune-vol"), labels=labels)
    exited = docker_client.containers.run(
        TEST_IMAGE,
        ["sh", "-c", "head -c 1000000 /dev/zero > /blob"],
        name=unique("exited"),
        labels=labels,
        volumes={volume.name: {"bind": "/data"}},
        network_mode="none",
        detach=True,
    )
    exited.wait(timeout=30)
    created = docker_client.containers.create(
        TEST_IMAGE, ["true"], name=unique("created"), labels={**labels, "com.docker.compose.project": "shop"}
    )
    running = docker_client.containers.run(
        TEST_IMAGE, ["sleep", "300"], name=unique("running"), labels=labels, network_mode="none", detach=True
    )
    try:
        yield {
            "label": f"ig.case={labels['ig.case']}",
            "exited": exited.name,
            "created": created.name,
            "running": running.name,
            "volume": volume.name,
        }
    finally:
        for container in docker_client.containers.list(
            all=True, filters={"label": f"ig.case={labels['ig.case']}"}
        ):
            container.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove()


async def test_only_stopped_labelled_containers_are_listed_with_their_sizes(
    host: DockerHost, case: dict[str, Any]
) -> None:
    found = {c.name: c for c in await list_stopped_containers(host, case["label"])}
    assert sorted(found) == sorted([case["exited"], case["created"]])  # not the running one
    exited, created = found[case["exited"]], found[case["created"]]
    assert exited.size_bytes >= 1_000_000 and exited.image == TEST_IMAGE and len(exited.id) == 64
    assert exited.labels["ig.case"] == case["label"].split("=", 1)[1]
    assert (exited.compose_project, created.compose_project) == (None, "shop")


async def test_removal_takes_exactly_the_plan_and_keeps_volumes(
    host: DockerHost, case: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    planned = [c for c in await list_stopped_containers(host, case["label"]) if c.name == case["exited"]]
    done = await remove_stopped_containers(host, planned)
    assert [c.name for c in done.removed] == [case["exited"]] and done.kept == [] and done.errors == []
    assert not _exists(docker_client, case["exited"])
    assert _exists(docker_client, case["created"])  # listed, but not in the plan
    docker_client.volumes.get(case["volume"])  # its volume stays (v=False)


async def test_a_container_started_again_is_kept_and_one_gone_is_skipped(
    host: DockerHost, case: dict[str, Any], docker_client: docker.DockerClient
) -> None:
    planned = {c.name: c for c in await list_stopped_containers(host, case["label"])}
    # a container that runs again since the plan: the running sleeper, planned as if it were stopped
    sleeper = StoppedContainer(
        id=docker_client.containers.get(case["running"]).id or "", name=case["running"], size_bytes=0
    )
    docker_client.containers.get(case["exited"]).remove()
    done = await remove_stopped_containers(host, [planned[case["exited"]], sleeper])
    assert done.removed == [] and done.errors == []
    assert len(done.kept) == 1 and done.kept[0].startswith(f"container {case['running']}: ")
    assert "running" in done.kept[0] or "stop" in done.kept[0]
    assert _exists(docker_client, case["running"])
