"""`ServerLink`: the agent host's one connection to the MCP server, kept alive across restarts.

The agent touches Dokploy and Docker only through the server's tools, so this link is its only
way to act. It keeps one session open in a background task and reconnects with backoff (at once,
then 1 s, 2 s, 4 s … up to `reconnect_max_s`, with jitter) whenever the server goes away: killed,
restarted or upgraded. Over HTTP (protocol 2026-07-28, stateless) a restart between two calls is
not even noticed; a call that finds the server gone is noticed and waits.

What a call gets when the connection fails:
- not connected: the call waits up to `connect_timeout_s` for a connection, then raises
  `ServerUnavailable` (nothing was sent);
- the request never reached the server (connection refused): it is sent once connected again;
- the connection died after the request was sent: a read-only tool (its ToolAnnotations say
  readOnlyHint) is sent once more; any other tool is NEVER repeated by the link: the caller gets
  a `ToolOutcome` with `outcome_unknown=True` and decides (check the target, or send the same
  idempotency key again: the server answers a key it has seen from its record).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

import anyio
from anyio.abc import TaskGroup
from mcp import Client, MCPError
from mcp.types import Implementation, TextResourceContents, Tool, ToolAnnotations
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, RequestParamsMeta

from agent_host import __version__
from agent_host.server_link.confirmation import (
    NOT_APPROVED,
    CallConfirmation,
    answer_confirmation,
    current_confirmation,
)
from agent_host.server_link.outcome import (
    IDEMPOTENCY_KEY_META,
    LinkError,
    ServerAuthError,
    ServerRequestError,
    ServerUnavailable,
    ToolOutcome,
    lost_outcome,
    needs_approval,
    outcome_from_result,
)
from agent_host.server_link.settings import LinkSettings, public_url
from agent_host.server_link.transports import (
    HttpStatus,
    SendRecord,
    SpawnedServer,
    current_send,
    http_transport,
)

log = logging.getLogger("infraguardian.agent.link")
T = TypeVar("T")

SIGNALS_URI = "infraguardian://signals"  # not audited by the server, unlike the active_signals tool
SHORT_LIVED_S = 2.0  # a connection that dies sooner counts as a failed attempt (no tight loop)


class ServerLink:
    """An MCP client session to our server that survives the server going away.

    Use as `async with ServerLink(settings) as link:`. Entering waits up to `connect_timeout_s`
    for the first connection and raises `ServerUnavailable` (or `ServerAuthError` for a refused
    token) if there is none. `env` is the environment of a spawned server (default: this one's).
    """

    def __init__(
        self,
        settings: LinkSettings | None = None,
        *,
        client_name: str = "infraguardian-agent",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings or LinkSettings()
        self.client_name = client_name
        self._spawned = (
            None
            if self.settings.server_url
            else SpawnedServer(
                self.settings.spawn_command(), env if env is not None else os.environ, self._child_exited
            )
        )
        self._http = HttpStatus()
        self._tools: list[Tool] = []
        self._client: Client | None = None
        self._generation = 0
        self._lost = anyio.Event()
        self._changed = anyio.Event()
        self._annotations: dict[str, ToolAnnotations] = {}
        self._last_error = "not connected yet"
        # Errors no wait can cure: a refused token, a spawned server that exits before it ever answered
        self._fatal: ServerUnavailable | None = None
        self._ever_connected = False
        self._tg: TaskGroup | None = None
        self._token_text: str | None = None  # only to scrub it from messages, never shown
        self._closing = False

    # -- lifecycle ----------------------------------------------------------------------------------

    async def __aenter__(self) -> ServerLink:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._supervise)
        try:
            await self._wait_client(anyio.current_time() + self.settings.connect_timeout_s, "connect")
        except BaseException:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._tg is not None
        self._closing = True
        self._tg.cancel_scope.cancel()
        try:
            await self._tg.__aexit__(None, None, None)
        except Exception as exc:  # a transport failing while it is torn down: nothing is left to do
            log.warning("closing the link to the MCP server: %s", self._scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            self._tg = None

    @property
    def connected(self) -> bool:
        """Whether a session is open now. Over HTTP a server that went away since the last request
        is noticed at the next one."""
        return self._client is not None

    def describe(self) -> str:
        """Which server this link talks to, e.g. `http://127.0.0.1:8765/mcp` or
        `stdio: spawned infraguardian-mcp (pid 123)` (never the token)."""
        if self._spawned is None:
            return public_url(self.settings.server_url or "")
        if self._spawned.pid is None:
            return "stdio: infraguardian-mcp (not running)"
        return f"stdio: spawned infraguardian-mcp (pid {self._spawned.pid})"

    # -- what callers use ---------------------------------------------------------------------------

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        timeout_s: float | None = None,
        confirmed: bool = False,
    ) -> ToolOutcome:
        """Call tool `name` and say how it went (see `ToolOutcome`). `idempotency_key` (1-128 of
        letters, digits, `. _ : -`, e.g. `inc-42:step-3`) lets the server answer a repeat of a
        changing call from its record instead of acting twice. `confirmed=True` only for a call a
        human approved: it answers the server's confirmation question (confirmation.py). Raises
        `ServerUnavailable` only when nothing could be sent (or a read-only call lost its
        connection twice)."""
        arguments = dict(arguments)
        timeout = timeout_s or self.settings.call_timeout_s
        # The key travels in the request's _meta, where the server reads it (idempotent_calls.py).
        meta = cast(RequestParamsMeta, {IDEMPOTENCY_KEY_META: idempotency_key}) if idempotency_key else None
        started = time.monotonic()
        deadline = anyio.current_time() + self.settings.connect_timeout_s
        read_retried = False

        def took_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        while True:
            client, generation = await self._wait_client(deadline, f"call {name}")
            mutating = self._is_mutating(name)
            record, approval = SendRecord(), CallConfirmation(confirmed)
            token, asked = current_send.set(record), current_confirmation.set(approval)
            try:
                result = await client.call_tool(name, arguments, read_timeout_seconds=timeout, meta=meta)
            except MCPError as exc:
                if exc.error.code == NOT_APPROVED:
                    return needs_approval(name, arguments, approval.question, took_ms())
                if exc.error.code == REQUEST_TIMEOUT:
                    why = f"no answer within {timeout:g} s"
                    if mutating:
                        return lost_outcome(
                            name, arguments, why, idempotency_key=idempotency_key, duration_ms=took_ms()
                        )
                    return self._failed(
                        name, arguments, f"{name}: {why}; nothing was changed (read-only)", took_ms()
                    )
                if exc.error.code != CONNECTION_CLOSED:
                    message = self._scrub(exc.error.message)
                    return self._failed(
                        name, arguments, f"the server rejected the call: {message}", took_ms()
                    )
                self._connection_lost(generation, f"the connection closed during {name}")
                if record.not_delivered:
                    continue  # it never reached the server: send it once connected again
                if not mutating and not read_retried:
                    read_retried = True
                    continue
                if mutating:
                    why = "the connection to the server was lost"
                    return lost_outcome(
                        name, arguments, why, idempotency_key=idempotency_key, duration_ms=took_ms()
                    )
                raise ServerUnavailable(
                    f"the connection to the MCP server ({self.describe()}) was lost twice during {name}"
                ) from None
            except RuntimeError:
                if generation != self._generation or self._client is None:
                    continue  # the session closed before the request left: nothing was sent
                raise
            finally:
                current_send.reset(token)
                current_confirmation.reset(asked)
            return outcome_from_result(
                name, arguments, result, idempotency_key=idempotency_key, duration_ms=took_ms()
            )

    async def read_resource(self, uri: str) -> str:
        """The text of resource `uri` (its text parts joined). Raises ServerRequestError when the
        server has no such resource, ServerUnavailable when it cannot be reached."""
        result = await self._read(
            f"read {uri}", lambda client: client.read_resource(uri, cache_mode="bypass")
        )
        return "".join(part.text for part in result.contents if isinstance(part, TextResourceContents))

    async def active_signals(self) -> list[dict[str, Any]]:
        """The detectors' active signals, from the `infraguardian://signals` resource (cheap and not
        audited, so fit for polling; the `active_signals` tool filters but writes an audit row)."""
        text = await self.read_resource(SIGNALS_URI)
        signals = json.loads(text) if text else []
        if not isinstance(signals, list) or not all(isinstance(s, dict) for s in signals):
            raise LinkError(f"{SIGNALS_URI} did not hold a JSON list of signals")
        return signals

    async def tool_annotations(self) -> dict[str, ToolAnnotations]:
        """Each tool's ToolAnnotations (read_only_hint, destructive_hint, idempotent_hint, …), as
        the server listed them on the current connection."""
        await self._wait_client(anyio.current_time() + self.settings.connect_timeout_s, "list tools")
        return dict(self._annotations)

    # -- internals ----------------------------------------------------------------------------------

    async def list_tools(self) -> list[Tool]:
        """The server's tools (name, description, schemas, annotations) on the current connection."""
        await self._wait_client(anyio.current_time() + self.settings.connect_timeout_s, "list tools")
        return list(self._tools)

    def _is_mutating(self, name: str) -> bool:
        """A tool may change something unless the server marks it read-only (unknown tools too)."""
        annotations = self._annotations.get(name)
        return not (annotations is not None and annotations.read_only_hint is True)

    def _failed(self, name: str, arguments: dict[str, Any], error: str, took_ms: int) -> ToolOutcome:
        return ToolOutcome(tool=name, arguments=arguments, ok=False, error=error, duration_ms=took_ms)

    async def _read(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        """A read-only request: waits for a connection, is sent again once if the connection dies
        after it was sent (and as often as needed while it cannot be delivered, until the wait ends)."""
        deadline = anyio.current_time() + self.settings.connect_timeout_s
        lost_after_sending = 0
        while lost_after_sending < 2:
            client, generation = await self._wait_client(deadline, what)
            record = SendRecord()
            token = current_send.set(record)
            try:
                with anyio.fail_after(self.settings.call_timeout_s):
                    return await send(client)
            except TimeoutError:
                raise ServerUnavailable(
                    f"{what}: no answer within {self.settings.call_timeout_s:g} s"
                ) from None
            except MCPError as exc:
                if exc.error.code != CONNECTION_CLOSED:
                    raise ServerRequestError(f"{what}: {self._scrub(exc.error.message)}") from None
                self._connection_lost(generation, f"the connection closed during {what}")
                lost_after_sending += 0 if record.not_delivered else 1
            except RuntimeError:
                if generation == self._generation and self._client is not None:
                    raise
            finally:
                current_send.reset(token)
        raise ServerUnavailable(
            f"the connection to the MCP server ({self.describe()}) was lost twice during {what}"
        )

    async def _wait_client(self, deadline: float, what: str) -> tuple[Client, int]:
        """The open session and its generation, waiting until `deadline` for one."""
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
            while True:
                if self._client is not None and not self._lost.is_set():
                    return self._client, self._generation
                if self._fatal is not None:
                    raise self._fatal
                await self._changed.wait()
        raise ServerUnavailable(
            f"cannot {what}: the MCP server ({self.describe()}) is not reachable ({self._last_error}); "
            f"waited {self.settings.connect_timeout_s:g} s. {self.settings.remedy()}"
        )

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def _connection_lost(self, generation: int, why: str) -> None:
        if generation == self._generation and not self._lost.is_set():
            self._last_error = why
            self._lost.set()

    def _child_exited(self) -> None:
        self._connection_lost(self._generation, "the spawned server exited")

    async def _supervise(self) -> None:
        """Keep a session open for as long as the link is: connect, wait until it is lost,
        reconnect (at once after a working connection, then with growing waits)."""
        failures = 0
        while True:
            opened_at: float | None = None
            try:
                async with self._session() as client:
                    opened_at = anyio.current_time()
                    await self._opened(client)
                    await self._lost.wait()
            except Exception as exc:  # an ExceptionGroup from the transport's task group, mostly
                self._note_failure(exc)
            finally:
                was_open = self._client is not None
                self._client = None
                if was_open and not self._closing:
                    why = self._last_error or "the connection ended"
                    log.warning("lost the MCP server (%s): %s; reconnecting", self.describe(), why)
                self._notify()
            if opened_at is not None and anyio.current_time() - opened_at >= SHORT_LIVED_S:
                failures = 0
                continue
            failures += 1
            await anyio.sleep(self._backoff_s(failures))

    def _backoff_s(self, failures: int) -> float:
        """1, 2, 4 … s up to reconnect_max_s, each ±25 % so many agents do not retry in step."""
        base = min(self.settings.reconnect_max_s, 2.0 ** min(failures - 1, 30))
        return float(min(self.settings.reconnect_max_s, base * random.uniform(0.75, 1.25)))

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[Client]:
        """One connection: the transport, then the SDK's Client on it (protocol negotiated)."""
        self._generation += 1
        self._lost = anyio.Event()
        info = Implementation(name=self.client_name, version=__version__)
        if self._spawned is not None:
            transport: Any = self._spawned.transport()
        else:
            self._token_text = self.settings.bearer_token()
            transport = http_transport(
                self.settings.server_url or "",
                self._token_text,
                self._http,
                connect_timeout_s=self.settings.connect_timeout_s,
            )
        async with Client(
            transport, client_info=info, cache=None, elicitation_callback=answer_confirmation
        ) as client:
            yield client

    async def _opened(self, client: Client) -> None:
        """Learn the tools' annotations, then publish the session."""
        annotations: dict[str, ToolAnnotations] = {}
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                annotations[tool.name] = tool.annotations or ToolAnnotations()
                tools.append(tool)
            cursor = page.next_cursor
            if not cursor:
                break
        self._annotations = annotations
        self._tools = tools
        self._client = client
        self._ever_connected = True
        self._fatal = None
        self._last_error = ""
        log.info("connected to the MCP server (%s), %d tools", self.describe(), len(annotations))
        self._notify()

    def _note_failure(self, exc: BaseException) -> None:
        """Remember why the last attempt failed, as one line without secrets."""
        if isinstance(exc, ServerAuthError):
            self._fatal = ServerAuthError(self._scrub(str(exc)))
        elif self._http.refused_token is not None:
            self._fatal = ServerAuthError(self.settings.token_refused(self._http.refused_token))
        else:
            self._fatal = None
        leaf: BaseException = exc
        while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
            leaf = leaf.exceptions[0]
        text = str(self._fatal) if self._fatal else f"{type(leaf).__name__}: {leaf}".rstrip(": ")
        if self._spawned is not None and self._spawned.last_exit not in (None, 0):
            text = f"the spawned server exited with status {self._spawned.last_exit} (its error is on stderr)"
            if not self._ever_connected:  # a settings or install problem: say it now, not after the wait
                self._fatal = ServerUnavailable(
                    f"cannot start the MCP server: {text}. {self.settings.remedy()}"
                )
        self._last_error = self._scrub(" ".join(text.split()))[:500]
        log.debug("connecting to the MCP server failed: %s", self._last_error)

    def _scrub(self, text: str) -> str:
        """`text` with the token masked, should anything ever echo it."""
        return text.replace(self._token_text, "***") if self._token_text else text
