"""Engine stats without the one-shot wait: one long-lived `stats?stream=1` connection per container.

On Docker 20.10 a one-shot stats call waits for the daemon's next 1 s collection tick, so sampling
200 containers 8 at a time takes ~25 s. A stream instead delivers a sample every second on an
open connection; reading the newest one costs nothing. This is the fallback for when the cgroup
files are not visible (remote engine, or a container without the host's /sys/fs/cgroup).

The streams live in one background thread with its own event loop (httpx over the Unix socket
or plain TCP), so any caller, sync or async, can follow containers and read their latest sample.
Engines reached over `ssh://` or with TLS client certificates are not streamed (`supported()` is
False): callers keep the engine's one-shot call for them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlparse

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

log = logging.getLogger(__name__)


def stream_transport(base_url: str) -> tuple[str, httpx.AsyncHTTPTransport] | None:
    """(HTTP base URL, transport) to reach the engine with httpx, or None when not possible."""
    parsed = urlparse(base_url)
    if parsed.scheme == "unix":
        return "http://docker", httpx.AsyncHTTPTransport(uds=parsed.path)
    if parsed.scheme in ("tcp", "http") and parsed.hostname:
        return f"http://{parsed.hostname}:{parsed.port or 2375}", httpx.AsyncHTTPTransport()
    return None


class StatsStreams:
    """Follows the stats streams of a set of containers and keeps the newest raw sample of each.

    streams = StatsStreams("unix:///var/run/docker.sock")
    streams.follow(["<id1>", "<id2>"])   # opens new streams, closes those no longer listed
    raw = streams.latest("<id1>")          # the engine's stats JSON, or None before the first
    streams.close()
    """

    def __init__(self, base_url: str, *, tls: bool = False) -> None:
        self.base_url = base_url
        self._endpoint = None if tls else stream_transport(base_url)
        self._latest: dict[str, tuple[float, dict[str, Any]]] = {}
        self._streams: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def supported(self) -> bool:
        """False for engines httpx can't reach (ssh://, TLS client certificates)."""
        return self._endpoint is not None

    @property
    def followed(self) -> int:
        with self._lock:
            return len(self._streams)

    def follow(self, container_ids: Iterable[str]) -> None:
        """Stream exactly these containers: open what is new (or ended), close the rest."""
        if self._endpoint is None:
            return
        wanted = set(container_ids)
        # The portal's calls wait for its event loop, whose streams take `_lock` for each sample:
        # decide under the lock, talk to the portal outside it (else the two wait for each other).
        with self._lock:
            portal = self._ensure_portal()
            ended = [self._streams.pop(cid) for cid in list(self._streams) if cid not in wanted]
            for cid in set(self._latest) - wanted:
                self._latest.pop(cid, None)
            to_open = [cid for cid in wanted if (f := self._streams.get(cid)) is None or f.done()]
        for future in ended:
            future.cancel()
        opened = {cid: portal.start_task_soon(self._read_stream, cid) for cid in to_open}
        with self._lock:
            if self._portal is portal:
                self._streams.update(opened)
                return
        for future in opened.values():  # closed meanwhile: these streams end with the portal
            future.cancel()

    def latest(self, container_id: str, max_age_s: float = 5.0) -> dict[str, Any] | None:
        """The newest sample of a followed container, if one arrived in the last `max_age_s`."""
        with self._lock:
            entry = self._latest.get(container_id)
        if entry is None or time.monotonic() - entry[0] > max_age_s:
            return None
        return entry[1]

    async def wait_for_samples(self, container_ids: Iterable[str], timeout_s: float = 2.5) -> None:
        """Wait (at most `timeout_s`) until each container has a sample: new streams need one tick."""
        missing = set(container_ids)
        with anyio.move_on_after(timeout_s):
            while missing:
                missing = {cid for cid in missing if self.latest(cid) is None}
                if missing:
                    await anyio.sleep(0.1)

    def close(self) -> None:
        """Close every stream and stop the background thread (blocking)."""
        with self._lock:
            streams, self._streams = self._streams, {}
            stack, self._stack, self._portal = self._stack, None, None
            self._latest.clear()
        for future in streams.values():
            future.cancel()
        if stack is not None:
            stack.close()

    def _ensure_portal(self) -> BlockingPortal:
        if self._portal is None:
            stack = contextlib.ExitStack()
            portal = stack.enter_context(start_blocking_portal(name="infraguardian-stats"))
            # runs before the portal stops (LIFO): the client's connections close in its own loop
            stack.callback(lambda: portal.call(self._close_client))
            self._portal, self._stack = portal, stack
        return self._portal

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            assert self._endpoint is not None
            base, transport = self._endpoint
            # a stream sends a sample each second: 30 s of silence means a dead connection
            timeout = httpx.Timeout(10.0, read=30.0)
            self._client = httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout)
        return self._client

    async def _read_stream(self, container_id: str) -> None:
        """Read one container's stream until it ends (the container stopped) or is cancelled."""
        try:
            async with self._http().stream(
                "GET", f"/containers/{container_id}/stats", params={"stream": "1"}
            ) as response:
                if response.status_code != 200:
                    return  # gone or not running: follow() opens it again if it is wanted later
                async for line in response.aiter_lines():
                    if line.strip():
                        sample = json.loads(line)
                        with self._lock:
                            self._latest[container_id] = (time.monotonic(), sample)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            log.debug("stats stream of %s ended: %s", container_id[:12], exc)
