"""Start, stop, take down and bring back an Ollama stand-in; script it and read what it received.

The server is uvicorn in a background thread (`standins.background.BackgroundServer`), on a socket
bound before it starts (port 0 = a free port), so `url` is known at once and sync and async tests
use it alike. `down()` closes the port (clients get "connection refused") and drops open connections,
like a crashed Ollama; `down("unavailable")` keeps it open and answers 503; `up()` serves again on the
same port with the same script and recordings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, Self

from ..background import ASGIApp, BackgroundServer
from .app import OLLAMA_VERSION, OllamaApp, StandInState
from .catalog import Catalog, ModelCard
from .estimate import warm_up
from .records import RecordedRequest
from .script import Turn, load_script_file


class OllamaStandIn(BackgroundServer):
    """A local server that answers Ollama's HTTP API from a script (see the package docstring).

    `url` is the base URL for `ollama.Client(host=...)` or `OLLAMA_HOST`, e.g. `http://127.0.0.1:41234`.
    """

    standin_name = "ollama"

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
        self.state = StandInState(
            catalog=Catalog(list(models) if models is not None else None),
            version=version,
            embedding_dimension=embedding_dimension,
        )
        self.state.recorder.on_answered = on_answered
        super().__init__(host=host, port=port)
        if script is not None:
            self.script(script)

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
        super().down()

    def up(self) -> None:
        """Serve again on the same port (after `down()`), with the same script and recordings."""
        self.state.unavailable = False
        super().up()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Self:
        """Serve from a background thread; returns once requests are accepted."""
        warm_up()
        return super().start(timeout)

    def _asgi_app(self) -> ASGIApp:
        return OllamaApp(self.state)

    def _set_stopping(self, stopping: bool) -> None:
        self.state.stopping = stopping  # delays end and streams stop while the server goes down
