"""The local engine reached over TCP, as a remote engine is: for tests of code that must not read
this machine's files for an engine that is not (known to be) on it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

DOCKER_SOCKET = "/var/run/docker.sock"


@contextlib.contextmanager
def tcp_to_docker_socket() -> Iterator[str]:
    """A TCP port on 127.0.0.1 forwarding to the local engine's unix socket: the real engine, seen
    the way a remote one is (tcp://), so nothing about its machine may be read from here."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def relay(client: socket.socket) -> None:
        with client, socket.socket(socket.AF_UNIX) as engine:
            engine.connect(DOCKER_SOCKET)
            back = threading.Thread(target=pipe, args=(engine, client), daemon=True)
            back.start()
            pipe(client, engine)
            back.join(timeout=60)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=relay, args=(client,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        server.join(timeout=5)
        listener.close()
