"""Serve a stand-in's ASGI app with uvicorn from a background thread; the Ollama and Telegram stand-ins
build on `BackgroundServer`.

The socket is bound before uvicorn starts (port 0 = a free port), so `url` is known at once and
sync and async tests use it alike: connections wait in the listen backlog until uvicorn accepts them.
`down()` closes the port (clients get "connection refused") and drops open connections, like a crashed
service; `up()` serves again on the same port. What is kept across `down()`/`up()` (scripts,
recordings, queued updates) lives in the subclass, not here.

A subclass gives:
- `_asgi_app()`: the app to serve (called at each start);
- `_set_stopping(flag)`: tells the app the server is going down, so long waits and streams end at once;
- `problems()`: what went wrong inside the stand-in (the pytest fixtures fail the test on these);
- optionally `_beside_server()`: a coroutine run on the server's loop while it serves (the Telegram
  stand-in delivers webhook updates with it); it must return soon after `_set_stopping(True)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Self

import uvicorn

ASGIApp = Callable[..., Any]  # what uvicorn.Config accepts as `app`


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (pytest, a tool) keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class BackgroundServer(ABC):
    """A stand-in served by uvicorn on `host:port`, in a background thread (`start`/`stop`, `with`,
    `async with`) or in this thread (`serve_forever`, for a command line)."""

    #: names the thread ("ollama-standin") and the start errors ("ollama stand-in failed to start")
    standin_name = "background"

    def __init__(self, *, host: str, port: int) -> None:
        self.host = host
        self._sock: socket.socket | None = self._bind(port)
        self.port = int(self._sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    # -- what a subclass gives --------------------------------------------------------------------
    @abstractmethod
    def _asgi_app(self) -> ASGIApp:
        """The ASGI app to serve; called at each start."""

    @abstractmethod
    def _set_stopping(self, stopping: bool) -> None:
        """Tell the app the server is going down (True) or serving again (False)."""

    @abstractmethod
    def problems(self) -> list[str]:
        """What went wrong inside the stand-in, one line each (empty: nothing)."""

    def _beside_server(self) -> Coroutine[Any, Any, None] | None:
        """A coroutine to run on the server's loop while it serves (None: nothing)."""
        return None

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:41234` (an IPv6 host gets brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- going away and coming back ---------------------------------------------------------------
    def down(self) -> None:
        """Unreachable: the port closes (connection refused), open connections drop at once."""
        if self._loop is not None and self._running:
            asyncio.run_coroutine_threadsafe(self._cut_connections(), self._loop).result(10)
        self._stop_thread(force=True)

    def up(self) -> None:
        """Serve again on the same port (after `down()`)."""
        if not self._running:
            self._sock = self._bind(self.port)
            self.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Self:
        """Serve from a background thread; returns once requests are accepted."""
        if self._sock is None:
            self._sock = self._bind(self.port)
        self._thread_error = None
        self._set_stopping(False)
        self._server = _QuietServer(
            uvicorn.Config(
                self._asgi_app(),
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=1,
            )
        )
        name = self.standin_name
        self._thread = threading.Thread(target=self._thread_main, name=f"{name}-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._thread_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"{name} stand-in failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} stand-in did not start within {timeout}s")
            time.sleep(0.005)
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop_thread(force=False)

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM (the command line); uvicorn then re-raises the
        KeyboardInterrupt it handled."""
        assert self._sock is not None
        server = uvicorn.Server(
            uvicorn.Config(self._asgi_app(), lifespan="off", log_level="warning", server_header=False)
        )
        # the event loop uvicorn itself would pick (uvloop when installed)
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(self._serve(server, self._sock))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- internals -------------------------------------------------------------------------
    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small chunks (NDJSON) go out at once
        sock.bind((self.host, port))
        sock.listen(512)  # connections queue in the backlog before uvicorn runs: `url` works at once
        return sock

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        """Serve, with the subclass's coroutine beside the server while it runs."""
        beside = self._beside_server()
        task = asyncio.create_task(beside) if beside is not None else None
        try:
            await server.serve(sockets=[sock])
        finally:
            if task is not None:
                self._set_stopping(True)
                await asyncio.wait([task], timeout=5)
                task.cancel()

    def _thread_main(self) -> None:
        server, sock = self._server, self._sock
        assert server is not None and sock is not None

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._serve(server, sock)
            # handlers end quickly once `stopping` is set; let them, rather than cancel them mid-send
            pending = list(server.server_state.tasks)
            if pending:
                await asyncio.wait(pending, timeout=5)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._thread_error = exc

    async def _cut_connections(self) -> None:
        """Drop every open connection at once (on the server's loop), like a crash or a network outage."""
        self._set_stopping(True)
        if self._server is not None:
            for connection in list(self._server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

    def _stop_thread(self, *, force: bool) -> None:
        self._set_stopping(True)
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = force
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()  # uvicorn closes it too; this covers a never-started stand-in
            self._sock = None
        self._running = False
        self._loop = None
        self._set_stopping(False)
