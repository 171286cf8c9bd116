"""One connection pool per Unix socket for docker-py clients.

Kept apart from `host.py` because subclassing docker-py's adapter needs docker-py (and requests)
imported: `host.py` is imported by every command, this module only when a docker-py client is made.
"""

from __future__ import annotations

from typing import Any

import docker
from docker.transport.unixconn import UnixHTTPAdapter


class OnePoolUnixAdapter(UnixHTTPAdapter):
    """docker-py's Unix-socket adapter keeps one connection pool per request URL (path and query
    included) in an LRU of 25 pools. Every call about another container then opened a new
    connection, and old pools were closed as new ones pushed them out: on a host with hundreds of
    containers nearly every call was a new connection. One engine, one socket: one pool."""

    def get_connection(self, url: str, proxies: Any = None) -> Any:
        return super().get_connection("http+docker://localhost", proxies)


def pool_by_socket(client: docker.DockerClient, timeout: float, pool_size: int) -> None:
    """Replace a unix:// client's adapter with `OnePoolUnixAdapter` (same socket and timeout,
    `pool_size` connections kept open). Clients of other engines are left as they are."""
    api = client.api
    old = getattr(api, "_custom_adapter", None)
    if not isinstance(old, UnixHTTPAdapter) or isinstance(old, OnePoolUnixAdapter):
        return
    adapter = OnePoolUnixAdapter(f"http+unix://{old.socket_path}", timeout, max_pool_size=pool_size)
    api._custom_adapter = adapter
    api.mount("http+docker://", adapter)
    old.close()
