"""Fixtures for the MCP server: settings on a temp state dir (optionally pointing at the Dokploy
stand-in), and an in-process MCP client (`mcp.Client(server)`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from tests.conftest import OPENAPI_FILE


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(standin: StandIn | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"state_dir": tmp_path / "state", "dokploy_openapi_file": OPENAPI_FILE}
        if standin is not None:
            values.update(dokploy_url=standin.url, dokploy_api_key=standin.api_key)
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def mcp_client(
    make_settings: Callable[..., Settings], dokploy_standin: StandIn
) -> AsyncIterator[Client]:
    """In-process client of a server wired to the stand-in and the real engine (detectors off)."""
    server = build_server(make_settings(dokploy_standin), run_detectors=False)
    async with Client(server, raise_exceptions=True) as client:
        yield client
