"""Fixtures of the detector tests (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from mcp_server.docker_ops.host import DockerHost

from .helpers import cleanup_labelled


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    yield client
    cleanup_labelled(client)
    client.close()


@pytest.fixture
def labelled_cleanup(docker_client: docker.DockerClient) -> Iterator[None]:
    """After the test, remove what it created on the engine (this session's labelled objects)."""
    yield
    cleanup_labelled(docker_client)


@pytest.fixture
def host() -> DockerHost:
    return DockerHost("unix:///var/run/docker.sock", name="testhost")


@pytest.fixture
def offline_host() -> DockerHost:
    """A host whose engine never answers: event logic must still work from the event alone."""
    return DockerHost("unix:///nonexistent/ig-detectors-test.sock", name="offline", timeout=2)
