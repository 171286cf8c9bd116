"""One Docker engine, reached by its URL, with an async API and clear errors.

`DockerHost("unix:///var/run/docker.sock")` (or `tcp://host:2376`, `ssh://user@host`) wraps a
`docker.DockerClient`. Every blocking SDK call runs in a worker thread (`anyio.to_thread`), so
the event loop never waits on the engine. Which engine to talk to is always a parameter: the
other modules take a `DockerHost` as their first argument, there is no global client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from .engine_reader import EngineApiError, EngineReads, UnixSocketReader

# anyio (with its asyncio backend, ~0.1 s) is imported by the async methods that use it, so a
# command that only calls `read_now` (`status --no-signals`) never starts an event loop.

# docker-py (with requests, ~0.2 s to import) is loaded when the first SDK client is made, so
# commands that only read (`status` on a unix:// engine, through `read`) never load it.
if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

    from .stats_stream import StatsStreams

T = TypeVar("T")

DEFAULT_BASE_URL = "unix:///var/run/docker.sock"
POOL_SIZE = 32
"""Connections kept open to the engine. Detector rounds run up to `concurrency` calls at once on
top of the server's own; docker-py's default of 10 made the surplus open a new connection per call
and throw it away afterwards."""
_SCHEMES = ("unix", "tcp", "ssh", "http", "https", "npipe")


class DockerOpsError(Exception):
    """Any failure of a Docker operation. `str(err)` is one actionable line."""


class InvalidDockerUrl(DockerOpsError):
    """The engine URL can't be used (unknown scheme, missing host)."""


class DockerUnavailable(DockerOpsError):
    """The engine at `base_url` did not answer: it is down, the URL is wrong, or access is denied."""

    def __init__(self, base_url: str, reason: str) -> None:
        self.base_url = base_url
        self.reason = reason
        super().__init__(f"Docker engine at {base_url} is not reachable ({reason}). {_how_to_fix(base_url)}")


class DockerTimeout(DockerOpsError):
    """The engine accepted the request but did not answer in time."""


class ContainerNotFound(DockerOpsError):
    """No container with this name or id exists on the engine."""

    def __init__(self, name: str, base_url: str) -> None:
        self.name = name
        self.base_url = base_url
        super().__init__(
            f"container {name!r} not found on {base_url}; list containers with the inventory "
            "(names look like <appName>-<service>-1 for compose, <appName>.1.<taskid> for swarm)"
        )


class ComposeServiceNotFound(DockerOpsError):
    """No container carries this compose project + service label pair."""

    def __init__(self, project: str, service: str, base_url: str) -> None:
        self.project = project
        self.service = service
        super().__init__(
            f"no container of compose project {project!r} service {service!r} on {base_url}; "
            "the project name is the Dokploy appName, check it in the inventory"
        )


class InvalidArgument(DockerOpsError, ValueError):
    """A caller's argument is malformed (bad size, unknown action, …). Fix the input and retry."""


class ActionRefused(DockerOpsError):
    """The operation was refused on purpose (unsafe, not allowed, or not possible in this state)."""


class DockerApiError(DockerOpsError):
    """The engine answered with an error we have no more specific class for."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


def _how_to_fix(base_url: str) -> str:
    scheme = urlparse(base_url).scheme
    if scheme == "unix":
        return (
            "Check that dockerd runs (`systemctl status docker`) and that this process may open the "
            "socket (run as root or in the `docker` group, or mount the socket into the container)."
        )
    if scheme == "ssh":
        return "Check `ssh <host> docker version` works without a password prompt (key-based login)."
    return "Check host, port and TLS settings, and that the engine listens on that address."


def _validate_url(base_url: str) -> str:
    parsed = urlparse(base_url)
    if parsed.scheme not in _SCHEMES:
        raise InvalidDockerUrl(
            f"Docker URL {base_url!r} has an unknown scheme; use unix:///var/run/docker.sock, "
            "tcp://host:2376 or ssh://user@host"
        )
    if parsed.scheme == "unix" and not parsed.path:
        raise InvalidDockerUrl(
            f"Docker URL {base_url!r} has no socket path, e.g. unix:///var/run/docker.sock"
        )
    if parsed.scheme in ("tcp", "ssh", "http", "https") and not parsed.hostname:
        raise InvalidDockerUrl(f"Docker URL {base_url!r} has no host name")
    return base_url


def translate_error(exc: BaseException, base_url: str, what: str) -> DockerOpsError:
    """Map an SDK / transport exception to one of our error classes with a one-line message."""
    if isinstance(exc, DockerOpsError):
        return exc
    if isinstance(exc, EngineApiError):  # from `DockerHost.read`
        return DockerApiError(f"{what}: engine at {base_url} answered {exc}", exc.status_code)
    if isinstance(exc, TimeoutError):
        return DockerTimeout(f"{what}: Docker engine at {base_url} did not answer in time ({exc})")
    if isinstance(exc, ConnectionError | FileNotFoundError | PermissionError):
        return DockerUnavailable(base_url, _short(exc))
    # the rest come from docker-py, which is then already imported
    import docker.errors
    import requests.exceptions

    if isinstance(exc, requests.exceptions.Timeout):
        return DockerTimeout(f"{what}: Docker engine at {base_url} did not answer in time ({exc})")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return DockerUnavailable(base_url, _short(exc))
    if isinstance(exc, docker.errors.APIError):
        status = exc.status_code
        explanation = exc.explanation or str(exc)
        if isinstance(explanation, bytes):
            explanation = explanation.decode("utf-8", "replace")
        return DockerApiError(f"{what}: engine at {base_url} answered {status}: {explanation}", status)
    if isinstance(exc, docker.errors.DockerException):
        # raised by the SDK when it can't even fetch the API version, i.e. a connection problem
        if "Error while fetching server API version" in str(exc):
            return DockerUnavailable(base_url, _short(exc))
        return DockerApiError(f"{what}: {_short(exc)}")
    return DockerApiError(f"{what}: unexpected {type(exc).__name__}: {_short(exc)}")


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _socket_reader(base_url: str, timeout: float) -> UnixSocketReader | None:
    """A reader of the engine's socket for unix:// URLs (`unix://var/x.sock` is /var/x.sock, as
    in docker-py), None for other engines."""
    if not base_url.startswith("unix://"):
        return None
    path = base_url.removeprefix("unix://")
    return UnixSocketReader(path if path.startswith("/") else f"/{path}", timeout)


class DockerHost:
    """One Docker engine. Create one per engine and share it; it is safe to use from many tasks.

    Args:
        base_url: where the engine listens: `unix:///var/run/docker.sock`, `tcp://host:2376`,
            `ssh://user@host` (uses the `ssh` binary, so keys from ~/.ssh work).
        timeout: seconds to wait for one engine answer (streams like events have no timeout).
        name: a short label for messages and logs (defaults to the URL).
        tls: a `docker.tls.TLSConfig` for `tcp://` engines that need client certificates.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        name: str | None = None,
        tls: Any = None,
    ) -> None:
        self.base_url = _validate_url(base_url)
        self.timeout = timeout
        self.name = name or base_url
        self._tls = tls
        self._client: docker.DockerClient | None = None
        self._stats_streams: StatsStreams | None = None
        # read-only calls to a local socket skip docker-py (see `read`); it connects on first use
        self._reader = _socket_reader(self.base_url, timeout) if tls is None else None
        # client creation asks the engine for its API version, so it happens in a worker thread
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DockerHost({self.base_url!r})"

    @property
    def is_local_socket(self) -> bool:
        """True for `unix://` engines: the engine runs on this machine (or its socket is mounted here)."""
        return self.base_url.startswith("unix://")

    def new_client(self, *, timeout: float | None = None) -> docker.DockerClient:
        """A fresh SDK client (blocking; call it in a worker thread). Long streams such as events
        use their own client so closing the stream never disturbs other calls."""
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": timeout or self.timeout,
            "max_pool_size": POOL_SIZE,
        }
        if self.base_url.startswith("ssh://"):
            kwargs["use_ssh_client"] = True  # the ssh binary; paramiko is not a dependency
        if self._tls is not None:
            kwargs["tls"] = self._tls
        try:
            import docker

            from .unix_pool import pool_by_socket

            client = docker.DockerClient(**kwargs)
        except Exception as exc:
            raise translate_error(exc, self.base_url, "connect") from exc
        pool_by_socket(client, kwargs["timeout"], POOL_SIZE)
        return client

    def _shared_client(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is None:
                self._client = self.new_client()
            return self._client

    async def run(self, fn: Callable[[docker.DockerClient], T], *, what: str) -> T:
        """Run `fn(client)` in a worker thread and translate any failure into a `DockerOpsError`.

        `what` names the operation in error messages, e.g. "restart container web-1".
        """

        import anyio.to_thread

        def call() -> T:
            return fn(self._shared_client())

        try:
            return await anyio.to_thread.run_sync(call)
        except DockerOpsError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.base_url, what) from exc

    async def read(self, fn: Callable[[EngineReads], T], *, what: str) -> T:
        """Run `fn(reads)` in a worker thread, with read-only engine calls (`EngineReads`: list,
        inspect, info, swarm services and tasks, past events), and translate any failure into a
        `DockerOpsError` as `run` does. On a unix:// engine the calls go straight to the socket
        (`UnixSocketReader`, no docker-py import: fast start for one-shot commands; kept-alive
        connections, one per concurrent `read`); on others through the SDK client."""
        reader = self._reader
        if reader is None:
            from .engine_reader import DockerPyReads

            return await self.run(lambda client: fn(DockerPyReads(client.api)), what=what)
        import anyio.to_thread

        try:
            return await anyio.to_thread.run_sync(fn, reader)
        except DockerOpsError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.base_url, what) from exc

    def read_now(self, fn: Callable[[EngineReads], T], *, what: str) -> T:
        """`read` for a caller with no event loop: `fn(reads)` runs in this thread (it blocks).
        For one-shot commands; close the host with `close_now` afterwards."""
        try:
            if self._reader is not None:
                return fn(self._reader)
            from .engine_reader import DockerPyReads

            return fn(DockerPyReads(self._shared_client().api))
        except DockerOpsError:
            raise
        except Exception as exc:
            raise translate_error(exc, self.base_url, what) from exc

    async def ping(self) -> bool:
        """True when the engine answers; raises `DockerUnavailable` when it doesn't."""
        return bool(await self.run(lambda c: c.ping(), what="ping"))

    async def info(self) -> dict[str, Any]:
        """The engine's `docker info` as a dict (DockerRootDir, Swarm, CgroupVersion, …)."""
        return await self.read(lambda reads: reads.info(), what="docker info")

    def stats_streams(self) -> StatsStreams:
        """The engine's stats streams of this host (one per followed container), made on first use
        and closed by `close()`."""
        from .stats_stream import StatsStreams  # httpx is only imported when streams are needed

        with self._client_lock:
            if self._stats_streams is None:
                self._stats_streams = StatsStreams(self.base_url, tls=self._tls is not None)
            return self._stats_streams

    async def close(self) -> None:
        """Close the shared client's connections and the stats streams. The host can be used
        again afterwards."""
        with self._client_lock:
            client, self._client = self._client, None
            streams, self._stats_streams = self._stats_streams, None
        if self._reader is not None:
            self._reader.close()  # opens a new connection if used again
        if streams is None and client is None:
            return
        import anyio.to_thread

        if streams is not None:
            await anyio.to_thread.run_sync(streams.close)
        if client is not None:
            await anyio.to_thread.run_sync(client.close)

    def close_now(self) -> None:
        """`close` for a caller with no event loop (blocking)."""
        with self._client_lock:
            client, self._client = self._client, None
            streams, self._stats_streams = self._stats_streams, None
        if self._reader is not None:
            self._reader.close()
        if streams is not None:
            streams.close()
        if client is not None:
            client.close()

    async def __aenter__(self) -> DockerHost:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def get_container(client: docker.DockerClient, name: str, base_url: str) -> Container:
    """Look a container up by name or id (blocking). Raises `ContainerNotFound` naming it."""
    if not name or not name.strip():
        raise ContainerNotFound(name, base_url)
    import docker.errors  # loaded with the client

    try:
        return client.containers.get(name.strip().lstrip("/"))
    except docker.errors.NotFound:
        raise ContainerNotFound(name, base_url) from None
