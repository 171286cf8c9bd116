"""Read-only Docker Engine API calls, behind one small interface (`EngineReads`).

`infraguardian-mcp status` is a one-shot command: importing docker-py (with requests and urllib3)
used to cost more than all its engine calls together. For `unix://` engines `UnixSocketReader`
asks the engine directly over its socket with the standard library (`http.client`), for the few
GET requests the inventory and `status` make. Other engines (tcp, ssh, TLS) are read through
docker-py's API client wrapped in `DockerPyReads`. Both give the same answers (the engine's JSON,
unchanged) and raise the same errors (`EngineApiError`, `EngineNotFound`), so their callers never
import docker-py. Get one through `DockerHost.read`, which also turns failures into
`DockerOpsError`s.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    import docker


class EngineApiError(Exception):
    """The engine answered a request with an HTTP error (`status_code`, and its `explanation`)."""

    def __init__(self, status_code: int, explanation: str) -> None:
        self.status_code = status_code
        self.explanation = explanation
        super().__init__(f"{status_code}: {explanation}")


class EngineNotFound(EngineApiError):
    """The engine answered 404: the container (or other object) does not exist (any more)."""


class EngineReads(Protocol):
    """The read-only engine calls the inventory, `status` and the detectors need. Each returns the
    engine's JSON as parsed (the same dicts docker-py's `APIClient` methods of the same name return)."""

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """`GET /containers/json`: running containers, or every container with `all=True`;
        `filters` as in docker-py (`{"label": ["k=v"], "status": "exited"}`)."""
        ...

    def inspect_container(self, container: str) -> dict[str, Any]:
        """`GET /containers/{id}/json`; raises `EngineNotFound` when it does not exist."""
        ...

    def info(self) -> dict[str, Any]:
        """`GET /info` (what `docker info` shows: Swarm, DockerRootDir, …)."""
        ...

    def services(self) -> list[dict[str, Any]]:
        """`GET /services`: swarm services (a manager node only)."""
        ...

    def tasks(self) -> list[dict[str, Any]]:
        """`GET /tasks`: swarm tasks (a manager node only)."""
        ...

    def events(
        self, *, since: float, until: float, filters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """`GET /events` between two Unix times, as one finite list (`until` must not be in the
        future, or the engine keeps the answer open until then)."""
        ...

    def volumes(self, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """`GET /volumes`: `{"Volumes": [...], "Warnings": ...}`."""
        ...

    def container_logs(self, container_id: str, params: dict[str, Any]) -> Iterator[bytes]:
        """`GET /containers/{id}/logs` (no follow) as raw chunks of the answer, read as they come
        (a long log is never held whole); close the iterator to stop early."""
        ...


def _filters_param(filters: dict[str, Any] | None) -> dict[str, str]:
    """The `filters` query parameter the way docker-py encodes it: every value a list of strings."""
    if not filters:
        return {}
    encoded: dict[str, list[str]] = {}
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        items = value if isinstance(value, list) else [value]
        encoded[key] = [item if isinstance(item, str) else str(item) for item in items]
    return {"filters": json.dumps(encoded)}


def _json_stream(body: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a streamed answer (events are written one after another)."""
    text = body.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return objects
        value, position = decoder.raw_decode(text, position)
        objects.append(value)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket; a missing or forbidden socket names its path in the error."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            if exc.errno is None:
                raise
            raise type(exc)(exc.errno, exc.strerror, self.socket_path) from None
        self.sock = sock


# a kept-alive connection the engine closed in the meantime fails with one of these on reuse
_STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class UnixSocketReader:
    """`EngineReads` over the engine's Unix socket with the standard library only.

    Kept-alive connections: each call takes an idle one (or opens one), so calls from several
    threads run side by side, and gives it back afterwards; up to `max_idle` are kept open, and
    one the engine closed in the meantime is replaced.

    Args:
        socket_path: the socket file, e.g. /var/run/docker.sock.
        timeout: seconds to wait for the engine to accept and to answer.
        max_idle: connections kept open between calls.
    """

    def __init__(self, socket_path: str, timeout: float = 60.0, max_idle: int = 8) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: list[_UnixConnection] = []

    def __repr__(self) -> str:
        return f"UnixSocketReader({self.socket_path!r})"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """The body of `GET path?params`; raises `EngineApiError` for an HTTP error status."""
        connection, response = self._open(_target(path, params))
        try:
            body = response.read()
        except BaseException:
            connection.close()
            raise
        self._give_back(connection, response)
        if response.status >= 400:
            raise _api_error(response.status, body)
        return body

    def _open(self, target: str) -> tuple[_UnixConnection, http.client.HTTPResponse]:
        """Send `GET target` and read the answer's head, on an idle connection or a new one."""
        # A GET is safe to send again: a kept-alive connection the engine has closed is retried once.
        for attempt in (1, 2):
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            reused = connection is not None
            connection = connection or _UnixConnection(self.socket_path, self.timeout)
            try:
                connection.request("GET", target, headers={"Accept": "application/json"})
                return connection, connection.getresponse()
            except _STALE_CONNECTION:
                connection.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _give_back(self, connection: _UnixConnection, response: http.client.HTTPResponse) -> None:
        """Keep a connection whose answer was read to the end for the next call."""
        with self._lock:
            if not response.will_close and len(self._idle) < self.max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return json.loads(self._get(path, params))

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = {"all": 1 if all else 0, **_filters_param(filters)}
        result: list[dict[str, Any]] = self._get_json("/containers/json", params)
        return result

    def inspect_container(self, container: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json(f"/containers/{quote(container, safe='/:')}/json")
        return result

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json("/info")
        return result

    def services(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get_json("/services")
        return result

    def tasks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get_json("/tasks")
        return result

    def events(
        self, *, since: float, until: float, filters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        params = {"since": since, "until": until, **_filters_param(filters)}
        return _json_stream(self._get("/events", params))

    def volumes(self, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._get_json("/volumes", _filters_param(filters))
        return result

    def container_logs(self, container_id: str, params: dict[str, Any]) -> Iterator[bytes]:
        path = f"/containers/{quote(container_id, safe='/:')}/logs"
        connection, response = self._open(_target(path, params))
        if response.status >= 400:
            try:
                body = response.read()
            finally:
                connection.close()
            raise _api_error(response.status, body)
        return _Chunks(
            lambda: response.read(65536),
            at_end=lambda: self._give_back(connection, response),
            # stopped early or failed: the rest of the answer is still on the socket
            on_abort=connection.close,
        )

    def close(self) -> None:
        """Close the kept-alive connections (the next call opens a new one)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _Chunks:
    """The chunks of one streamed answer (`read` returns b"" at its end). Read to the end it
    calls `at_end` (the connection can be reused); closed or failed before, `on_abort`. Unlike a
    generator, closing it before the first chunk also releases the connection."""

    def __init__(
        self, read: Callable[[], bytes], *, at_end: Callable[[], None], on_abort: Callable[[], None]
    ):
        self._read, self._at_end, self._on_abort = read, at_end, on_abort
        self._open = True

    def __iter__(self) -> _Chunks:
        return self

    def __next__(self) -> bytes:
        if not self._open:
            raise StopIteration
        try:
            chunk = self._read()
        except BaseException:
            self.close()
            raise
        if chunk:
            return chunk
        self._open = False
        self._at_end()
        raise StopIteration

    def close(self) -> None:
        if self._open:
            self._open = False
            self._on_abort()


def _target(path: str, params: dict[str, Any] | None) -> str:
    query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
    return f"{path}?{query}" if query else path


def _api_error(status: int, body: bytes) -> EngineApiError:
    """The engine's error answer ({"message": …}) as an `EngineApiError`."""
    text = body.decode("utf-8", "replace").strip()
    try:
        message = json.loads(text).get("message") or text
    except (ValueError, AttributeError):
        message = text
    explanation = str(message) or http.client.responses.get(status, "error")
    return (EngineNotFound if status == 404 else EngineApiError)(status, explanation)


class DockerPyReads:
    """`EngineReads` through docker-py's API client (for tcp://, ssh:// and TLS engines), with
    docker-py's HTTP errors turned into `EngineApiError` / `EngineNotFound`."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import docker.errors  # already loaded: the API client came from docker-py

        try:
            return fn(*args, **kwargs)
        except docker.errors.APIError as exc:
            status = exc.status_code or 0
            explanation = exc.explanation or str(exc)
            if isinstance(explanation, bytes):
                explanation = explanation.decode("utf-8", "replace")
            kind = EngineNotFound if isinstance(exc, docker.errors.NotFound) else EngineApiError
            raise kind(status, str(explanation)) from exc

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self.api.containers, all=all, filters=filters)
        return result

    def inspect_container(self, container: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self.api.inspect_container, container)
        return result

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self.api.info)
        return result

    def services(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self.api.services)
        return result

    def tasks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self.api.tasks)
        return result

    def events(
        self, *, since: float, until: float, filters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            return list(self.api.events(since=since, until=until, filters=filters, decode=True))

        result: list[dict[str, Any]] = self._call(read)
        return result

    def volumes(self, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self.api.volumes, filters=filters)
        return result

    def container_logs(self, container_id: str, params: dict[str, Any]) -> Iterator[bytes]:
        api = self.api
        response = self._call(
            api._get, api._url("/containers/{0}/logs", container_id), params=params, stream=True
        )
        try:
            self._call(api._raise_for_status, response)
        except BaseException:
            response.close()
            raise
        stream = response.raw.stream(65536, decode_content=False)
        return _Chunks(lambda: next(stream, b""), at_end=response.close, on_abort=response.close)
