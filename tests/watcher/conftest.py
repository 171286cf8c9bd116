"""Fixtures of the watcher tests: the real engine for fault tests, cleaned by label afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.detectors.helpers import cleanup_labelled


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    yield client
    cleanup_labelled(client)
    client.close()
