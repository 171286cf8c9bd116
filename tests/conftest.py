"""Shared fixtures: a scripted local HTTP server (a misbehaving proxy in front of Dokploy)."""

from __future__ import annotations

import inspect
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# the Dokploy stand-in fixture (`dokploy_standin`) for every test folder
pytest_plugins = ["standins.dokploy.pytest_plugin"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
OPENAPI_FILE = SHARED / "dokploy" / "openapi.json"
CAPTURES = SHARED / "dokploy" / "captures"


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
