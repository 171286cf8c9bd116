"""Shared fixtures: a scripted local HTTP server (a misbehaving proxy in front of Dokploy)."""

from __future__ import annotations

import inspect
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# the stand-in fixtures (`dokploy_standin`, `ollama_standin`, `telegram_standin`) for every test folder
pytest_plugins = [
    "standins.dokploy.pytest_plugin",
    "standins.ollama.pytest_plugin",
    "standins.telegram.pytest_plugin",
]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
OPENAPI_FILE = SHARED / "dokploy" / "openapi.json"
CAPTURES = SHARED / "dokploy" / "captures"
# PostgreSQL as .ci/setup starts it (Debian's cluster, role and database `infraguardian`)
DEFAULT_TEST_POSTGRES_URL = "postgresql://infraguardian:infraguardian@127.0.0.1:5432/infraguardian"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted response; records what it received."""

    url: str
    script: list[Callable[[Request], Response] | Response] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, *responses: Callable[[Request], Response] | Response) -> None:
        self.script.extend(responses)


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    port = free_port()
    server_state = ScriptedServer(url=f"http://127.0.0.1:{port}")

    async def handle(request: Request) -> Response:
        body = await request.body()
        server_state.received.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": str(request.url.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )
        if not server_state.script:
            return Response("script exhausted", status_code=599)
        step = server_state.script.pop(0)
        if isinstance(step, Response):
            return step
        result = step(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    app = Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "scripted server did not start"
    yield server_state
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, as a `postgresql://` URL; dropped at
    the end. The server comes from env INFRAGUARDIAN_TEST_POSTGRES_URL (default: .ci/setup's)."""
    import psycopg  # the agent extra's driver; only the tests that use PostgreSQL need it

    base = os.environ.get("INFRAGUARDIAN_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL
    name = f"ig_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        parts = urlsplit(base)
        where = f"{parts.hostname}:{parts.port or 5432}"  # the URL without its password
        pytest.fail(
            f"PostgreSQL at {where} is not reachable ({str(exc).strip().splitlines()[0]}): run .ci/setup, "
            "or set INFRAGUARDIAN_TEST_POSTGRES_URL to a server whose role may CREATE DATABASE",
            pytrace=False,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlsplit(base)._replace(path=f"/{name}").geturl()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
