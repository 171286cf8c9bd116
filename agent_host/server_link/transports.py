"""The two ways the link reaches the server, as transports the SDK's `mcp.Client` accepts.

- HTTP (`http_transport`): the SDK's streamable-HTTP client on our own httpx2 client, which sends
  the bearer token and watches each request at the socket level (`WatchedTransport`): a request
  whose connection could not even be opened never reached the server, so the link may send it
  again; a 401 means the token is wrong.
- stdio (`SpawnedServer`): `python -m mcp_server serve --transport stdio` as a child process, with
  newline-delimited JSON-RPC on its stdin/stdout. Our own small version of the SDK's
  `stdio_client`, because the link needs the child's pid (to say which server it talks to) and to
  know at once when the child exits.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import anyio
import httpx2
import mcp_types
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from mcp.client._transport import TransportStreams
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

log = logging.getLogger("infraguardian.agent.link")

STDIN_CLOSE_WAIT_S = 5.0  # the server ends when its stdin closes; give it this long to finish
TERMINATE_WAIT_S = 2.0  # then SIGTERM, and SIGKILL after this


# -- HTTP --------------------------------------------------------------------------------------------


@dataclass
class SendRecord:
    """What the socket layer saw of one call's request (set through `current_send`)."""

    not_delivered: bool = False  # the connection could not be opened: the server never saw it


# The call being sent in this task. The SDK runs each HTTP request in a task that carries the
# caller's context variables, so `WatchedTransport` finds the caller's record here.
current_send: contextvars.ContextVar[SendRecord | None] = contextvars.ContextVar(
    "infraguardian_link_send", default=None
)


@dataclass
class HttpStatus:
    """What the link learned from the last HTTP exchanges (no secrets in here)."""

    refused_token: str | None = None  # why the server answered 401, once it did


class WatchedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that notes undelivered requests and token refusals, then passes on."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, status: HttpStatus) -> None:
        self.inner = inner
        self.status = status

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except (httpx2.ConnectError, httpx2.ConnectTimeout):
            record = current_send.get()
            if record is not None:
                record.not_delivered = True
            raise
        if response.status_code == 401:
            challenge = response.headers.get("www-authenticate", "")
            self.status.refused_token = (
                "wrong bearer token" if "invalid_token" in challenge else "no bearer token"
            )
        else:
            self.status.refused_token = None
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def http_transport(
    url: str, token: str, status: HttpStatus, *, connect_timeout_s: float
) -> AsyncIterator[TransportStreams]:
    """Streamable HTTP to `url` with `Authorization: Bearer <token>` on every request. No read
    timeout at the socket: an action may stream nothing for minutes; each MCP request has its own
    (the link's `call_timeout_s`)."""
    timeout = httpx2.Timeout(30.0, connect=min(connect_timeout_s, 10.0), read=None)
    transport = WatchedTransport(httpx2.AsyncHTTPTransport(), status)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout, transport=transport) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


# -- stdio -------------------------------------------------------------------------------------------


class SpawnedServer:
    """One spawn of the server over stdio. `transport()` starts it (each call a new process);
    `pid` is the running child's, `on_exit` is called when its stdout ends (it exited)."""

    def __init__(self, command: list[str], env: Mapping[str, str], on_exit: Callable[[], None]) -> None:
        self.command = command
        self.env = dict(env)
        self.on_exit = on_exit
        self.pid: int | None = None
        self.last_exit: int | None = None  # the exit status of the last child that ended

    @contextlib.asynccontextmanager
    async def transport(self) -> AsyncIterator[TransportStreams]:
        # Its own session: a Ctrl-C meant for the agent does not kill the server mid-action; the
        # link stops it when it closes. stderr is ours, so its logs reach the operator.
        process = await anyio.open_process(self.command, env=self.env, stderr=None, start_new_session=True)
        self.pid = process.pid
        log.info("spawned the MCP server over stdio (pid %d)", process.pid)
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read_stdout, process, read_writer)
                tg.start_soon(self._write_stdin, process, write_reader)
                try:
                    yield read_stream, write_stream
                finally:
                    with anyio.CancelScope(shield=True):
                        await _stop(process)
                    tg.cancel_scope.cancel()
        finally:
            self.pid = None
            self.last_exit = process.returncode
            for stream in (read_stream, write_stream, read_writer, write_reader):
                stream.close()

    async def _read_stdout(
        self, process: Process, out: anyio.abc.ObjectSendStream[SessionMessage | Exception]
    ) -> None:
        assert process.stdout is not None
        buffer = ""
        try:
            async with out:
                async for chunk in TextReceiveStream(process.stdout):
                    lines = (buffer + chunk).split("\n")
                    buffer = lines.pop()
                    for line in lines:
                        if line.strip():
                            await out.send(_parse_line(line))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
            pass  # the link is closing, or the pipe broke as the child died: both end the session
        finally:
            self.on_exit()

    async def _write_stdin(
        self, process: Process, messages: anyio.abc.ObjectReceiveStream[SessionMessage]
    ) -> None:
        assert process.stdin is not None
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async with messages:
                async for message in messages:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode())


def _parse_line(line: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:  # the session surfaces it to the waiting request
        log.warning("the MCP server wrote a line that is not JSON-RPC: %.200s", line)
        return exc


async def _stop(process: Process) -> None:
    """Close stdin (the server's signal to finish), then SIGTERM, then SIGKILL its process group."""
    if process.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdin.aclose()
    for sig, wait_s in (
        (None, STDIN_CLOSE_WAIT_S),
        (signal.SIGTERM, TERMINATE_WAIT_S),
        (signal.SIGKILL, 5.0),
    ):
        if sig is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        with anyio.move_on_after(wait_s):
            while process.returncode is None:  # noqa: ASYNC110 - process.wait() also waits for pipe EOF
                await anyio.sleep(0.05)
        if process.returncode is not None:
            break
    if process.stdout is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            await process.stdout.aclose()
