"""Fixtures for the stand-in's own tests: the shared `dokploy_standin` fixture and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from standins.dokploy.server import StandIn


@pytest.fixture
def api(dokploy_standin: StandIn) -> Iterator[httpx.Client]:
    """Plain httpx client authenticated against the fixture's stand-in."""
    with httpx.Client(base_url=dokploy_standin.url, headers=dokploy_standin.headers, timeout=120) as client:
        yield client
