"""Shared helpers of the docker_ops tests (imported by conftest and the test modules).

Everything a test creates on the shared engine carries the labels `ig.test=dockerops` and
`ig.run=<random id of this test session>` and a name starting with `ig-dockerops-`; teardown
removes exactly those objects (label filter), never anything else.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

import docker
import docker.errors
import pytest

TEST_IMAGE = "ig/busybox:test"
RUN_ID = secrets.token_hex(4)
LABELS = {"ig.test": "dockerops", "ig.run": RUN_ID}
LABEL_FILTER = [f"{k}={v}" for k, v in LABELS.items()]


def unique(prefix: str) -> str:
    """A fresh name like `ig-dockerops-<prefix>-<run>-<n>`."""
    return f"ig-dockerops-{prefix}-{RUN_ID}-{secrets.token_hex(2)}"


def run_container(client: docker.DockerClient, name: str, command: Any, **kwargs: Any) -> Any:
    """Start a detached labelled container from the test image."""
    labels = {**LABELS, **kwargs.pop("labels", {})}
    return client.containers.run(
        TEST_IMAGE, command, name=name, labels=labels, detach=True, network_mode="none", **kwargs
    )


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll until predicate() is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def cleanup_labelled(client: docker.DockerClient) -> None:
    """Remove this session's containers, services, volumes, images and networks (label filter)."""
    for service in client.services.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            service.remove()
    # swarm removes task containers by itself; a container already gone is fine
    for container in client.containers.list(all=True, filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for volume in client.volumes.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
    for image in client.images.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(image.id, force=True)
    for network in client.networks.list(filters={"label": LABEL_FILTER}):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
