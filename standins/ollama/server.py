"""Start, stop, take down and bring back an Ollama stand-in; script it and read what it received.

The server is uvicorn in a background thread with its own event loop, on a socket bound before
it starts (port 0 = a free port), so `url` is known at once and sync and async tests use it alike.
`down()` closes the port (clients get "connection refused") and drops open connections, like a
crashed Ollama; `down("unavailable")` keeps it open and answers 503; `up()` serves again on the
same port with the same script and recordings.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, Literal

import uvicorn

from .app import OLLAMA_VERSION, OllamaApp, StandInState
from .catalog import Catalog, ModelCard
from .estimate import warm_up
from .records import RecordedRequest
from .script import Turn, load_script_file


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (pytest, a tool) keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class OllamaStandIn:
    """A local server that answers Ollama's HTTP API from a script (see the package docstring)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Iterable[ModelCard | str] | None = None,
        script: Iterable[Any] | str | Path | None = None,
        version: str = OLLAMA_VERSION,
        embedding_dimension: int | None = None,
        on_answered: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        self.host = host
        self.state = StandInState(
            catalog=Catalog(list(models) if models is not None else None),
            version=version,
            embedding_dimension=embedding_dimension,
        )
        self.state.recorder.on_answered = on_answered
        self._sock: socket.socket | None = self._bind(port)
        self.port = int(self._sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        if script is not None:
            self.script(script)

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL for `ollama.Client(host=...)` or `OLLAMA_HOST`, e.g. `http://127.0.0.1:41234`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- scripting -------------------------------------------------------------------------
    def script(self, entries: Iterable[Any] | str | Path) -> OllamaStandIn:
        """Queue turns and add rules: a list of dicts/turns, or a YAML/JSON script file."""
        if isinstance(entries, str | Path):
            loaded = load_script_file(entries)
            self.state.script.add([*loaded["turns"], *loaded["rules"]])
            if loaded["default"] is not None:
                self.state.script.set_default(loaded["default"])
        else:
            self.state.script.add(entries)
        return self

    def set_default(self, reply: Any) -> None:
        """The answer when no turn is queued and no rule matches (None: such requests fail)."""
        self.state.script.set_default(reply)

    def remaining_turns(self) -> list[Turn]:
        """Queued turns no request has taken yet."""
        return self.state.script.remaining()

    # -- what was received ---------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        return self.state.recorder.requests

    @property
    def chats(self) -> list[RecordedRequest]:
        """The `POST /api/chat` requests, in order."""
        return [r for r in self.requests if r.path == "/api/chat"]

    def problems(self) -> list[str]:
        """Script mistakes and stand-in crashes (the pytest fixture fails the test on these)."""
        return self.state.recorder.problems

    # -- going away and coming back ---------------------------------------------------------------
    def down(self, mode: Literal["refused", "unavailable"] = "refused") -> None:
        """Simulate Ollama going away: "refused" closes the port (open streams are cut),
        "unavailable" answers every request 503 `{"error": "server busy, ..."}`."""
        if mode == "unavailable":
            self.state.unavailable = True
            return
        if mode != "refused":
            raise ValueError(f"unknown mode {mode!r}; use 'refused' or 'unavailable'")
        if self._loop is not None and self._running:
            asyncio.run_coroutine_threadsafe(self._cut_connections(), self._loop).result(10)
        self._stop_thread(force=True)

    def up(self) -> None:
        """Serve again on the same port (after `down()`)."""
        self.state.unavailable = False
        if not self._running:
            self._sock = self._bind(self.port)
            self.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> OllamaStandIn:
        """Serve from a background thread; returns once requests are accepted."""
        if self._sock is None:
            self._sock = self._bind(self.port)
        warm_up()
        self._thread_error = None
        self._server = _QuietServer(
            uvicorn.Config(
                OllamaApp(self.state),
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._thread_main, name="ollama-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._thread_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"ollama stand-in failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"ollama stand-in did not start within {timeout}s")
            time.sleep(0.005)
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop_thread(force=False)

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM (the command line)."""
        assert self._sock is not None
        server = uvicorn.Server(
            uvicorn.Config(OllamaApp(self.state), lifespan="off", log_level="warning", server_header=False)
        )
        server.run(sockets=[self._sock])

    def __enter__(self) -> OllamaStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> OllamaStandIn:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- internals -------------------------------------------------------------------------
    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small NDJSON chunks go out at once
        sock.bind((self.host, port))
        sock.listen(512)  # connections queue in the backlog before uvicorn runs: `url` works at once
        return sock

    def _thread_main(self) -> None:
        server, sock = self._server, self._sock
        assert server is not None and sock is not None

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])
            # handlers end quickly once `stopping` is set; let them, rather than cancel them mid-send
            pending = list(server.server_state.tasks)
            if pending:
                await asyncio.wait(pending, timeout=5)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._thread_error = exc

    async def _cut_connections(self) -> None:
        """Drop every open connection at once (on the server's loop), like a crashed Ollama."""
        self.state.stopping = True
        if self._server is not None:
            for connection in list(self._server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

    def _stop_thread(self, *, force: bool) -> None:
        self.state.stopping = True
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
        self.state.stopping = False
