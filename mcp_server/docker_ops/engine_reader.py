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
    """The read-only engine calls the inventory and `status` need. Each returns the engine's JSON
    as parsed (the same dicts docker-py's `APIClient` methods of the same name return)."""

    def containers(self, all: bool = False) -> list[dict[str, Any]]:
        """`GET /containers/json`: running containers, or every container with `all=True`."""
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

    One kept-alive connection, used by one call at a time (calls from several threads wait for
    each other); it is opened on the first call and again if the engine closed it.

    Args:
        socket_path: the socket file, e.g. /var/run/docker.sock.
        timeout: seconds to wait for the engine to accept and to answer.
    """

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._lock = threading.Lock()
        self._connection: _UnixConnection | None = None

    def __repr__(self) -> str:
        return f"UnixSocketReader({self.socket_path!r})"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes:
        """The body of `GET path?params`; raises `EngineApiError` for an HTTP error status."""
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        target = f"{path}?{query}" if query else path
        with self._lock:
            status, body = self._exchange(target)
        if status >= 400:
            raise _api_error(status, body)
        return body

    def _exchange(self, target: str) -> tuple[int, bytes]:
        # A GET is safe to send again: a kept-alive connection the engine has closed is retried once.
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or _UnixConnection(self.socket_path, self.timeout)
            self._connection = None
            try:
                connection.request("GET", target, headers={"Accept": "application/json"})
                response = connection.getresponse()
                body = response.read()
            except _STALE_CONNECTION:
                connection.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._connection = connection
            return response.status, body
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return json.loads(self._get(path, params))

    def containers(self, all: bool = False) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get_json("/containers/json", {"all": 1 if all else 0})
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

    def close(self) -> None:
        """Close the kept-alive connection (the next call opens a new one)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


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

    def containers(self, all: bool = False) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self.api.containers, all=all)
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
