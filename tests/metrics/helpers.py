"""A local HTTP server whose answers a test changes while a detector reads it (a Prometheus
endpoint whose metric moves, a JSON status, a slow page), on 127.0.0.1 and a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; version=0.0.4"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class MetricServer:
    """`server.set("/metrics", "queue_waiting 45\\n")`, then GET `server.url("/metrics")`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.last_headers: dict[str, dict[str, str]] = {}  # path -> headers of its last request
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with owner._lock:
                    route = owner.routes.get(path, Route(b"not found", 404))
                    owner.hits[path] = owner.hits.get(path, 0) + 1
                    owner.last_headers[path] = dict(self.headers.items())
                if route.delay_s:
                    time.sleep(route.delay_s)
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(route.body)))
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(route.body)
                except OSError:
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])

    def set(self, path: str, body: str | bytes, **kwargs: object) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.routes[path] = Route(data, **kwargs)  # type: ignore[arg-type]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @contextmanager
    def running(self) -> Iterator[MetricServer]:
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)
