"""Our own probe of a container's ports: which ports, at which address, and what one probe says.

Shared by the unresponsive detector (it probes every port every round and learns which ones speak
HTTP) and the unhealthy detector (it probes once when a container turns unhealthy, to tell "the
process works, its health check is wrong" from "the process does not answer").

Labels on a container choose what is probed:

    infraguardian.probe=off          never probe this container
    infraguardian.probe=tcp          probe its ports with a TCP connect only
    infraguardian.probe=http         probe its ports with GET / (or the path below)
    infraguardian.probe.path=/healthz   GET this path (implies http)
    infraguardian.probe.port=8080    probe only this port

Without labels every exposed or published TCP port is a candidate, except well-known database and
broker ports (`probe_skip_ports`), which dislike clients that do not speak their protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from .http_probe import PortProbe, docker_host_address, probe_port, reaches_directly
from .settings import DetectorSettings
from .state import ContainerRef

PROBE_LABEL = "infraguardian.probe"
PATH_LABEL = "infraguardian.probe.path"
PORT_LABEL = "infraguardian.probe.port"
_OFF_WORDS = frozenset({"off", "false", "no", "0"})
# a port published on every host address is reached through the Docker host's own address
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - read from Docker, not bound here
# outcomes that prove a process read our connection and wrote back (a bare TCP connect is the
# most a tcp probe can show)
_ANSWERED = frozenset({"ok", "not_http"})
NO_PORT = "no port to probe"


@dataclass(frozen=True)
class ProbeChoice:
    """What the labels and settings ask to probe on one container."""

    mode: str  # "", "http" or "tcp" (the label, lower-cased)
    path: str | None  # the path label, with its leading slash
    ports: list[int]  # candidate container ports, at most `probe_max_ports`
    asked: bool  # a label asked for probes explicitly (skip ports are then probed too)


def probe_choice(ref: ContainerRef, settings: DetectorSettings) -> ProbeChoice | None:
    """The ports to probe on `ref` and how, or None when its labels turn probes off."""
    mode = ref.labels.get(PROBE_LABEL, "").strip().lower()
    if mode in _OFF_WORDS:
        return None
    path = ref.labels.get(PATH_LABEL, "").strip() or None
    if path is not None and not path.startswith("/"):
        path = f"/{path}"
    only = ref.labels.get(PORT_LABEL, "").strip()
    ports = sorted(
        {
            int(p["PrivatePort"])
            for p in ref.ports
            if p.get("Type", "tcp") == "tcp" and str(p.get("PrivatePort", "")).isdigit()
        }
    )
    if only.isdigit():
        ports = [int(only)]
    asked = bool(path) or mode in ("http", "tcp") or only.isdigit()
    if not asked:
        ports = [p for p in ports if p not in settings.probe_skip_ports]
    return ProbeChoice(mode=mode, path=path, ports=ports[: settings.probe_max_ports], asked=asked)


def probe_path(labels: dict[str, str]) -> str:
    """The path a GET probe asks for: the path label, else /."""
    path = labels.get(PATH_LABEL, "").strip() or "/"
    return path if path.startswith("/") else f"/{path}"


def container_address(ref: ContainerRef, port: int) -> tuple[str, int, str] | None:
    """(address, port, how) that reaches a container port from this process, or None."""
    for network, (ip, prefix_len, _) in sorted(ref.networks.items()):
        if ip and prefix_len and reaches_directly(ip, prefix_len):
            return ip, port, f"container IP on {network}"
    gateways = [gateway for _, _, gateway in ref.networks.values()]
    for row in ref.ports:
        if row.get("PrivatePort") == port and row.get("PublicPort") and row.get("Type", "tcp") == "tcp":
            bound = str(row.get("IP") or "")
            address = docker_host_address(gateways) if bound in _ANY_ADDRESS else bound
            return address, int(row["PublicPort"]), "published port"
    if ref.network_mode == "host":
        return docker_host_address(gateways), port, "host network"
    return None


async def probe_once(ref: ContainerRef, settings: DetectorSettings) -> tuple[dict[str, Any] | None, str]:
    """Probe each candidate port of `ref` once, all at the same time (so the whole takes about
    `probe_timeout_s`). Returns (result, note): result is None when nothing was probed, and the
    note then says why; otherwise result is

        {"answered": true, "port": 8080, "kind": "http", "outcome": "ok", "status_code": 200, ...}

    for the first port that answered (any HTTP status, a non-HTTP reply, or a TCP connect for a
    tcp probe), else for the first port probed, with "answered": false and why in "error".
    A port is asked `GET <path>` unless the labels ask for a TCP connect only.
    """
    choice = probe_choice(ref, settings)
    if choice is None:
        return None, f"probes are off for this container ({PROBE_LABEL}=off)"
    if not choice.ports:
        return None, f"{NO_PORT} (no exposed or published TCP port outside probe_skip_ports)"
    reachable: list[tuple[int, tuple[str, int, str]]] = []
    for port in choice.ports:
        reach = container_address(ref, port)
        if reach is not None:
            reachable.append((port, reach))
    if not reachable:
        shown = ", ".join(str(p) for p in choice.ports)
        return None, f"{NO_PORT}: cannot reach port {shown} from here (no shared network, not published)"
    http_path = None if choice.mode == "tcp" else (choice.path or "/")
    results: dict[int, PortProbe] = {}

    async def run(port: int, address: str, address_port: int) -> None:
        results[port] = await probe_port(
            address, address_port, http_path=http_path, timeout_s=settings.probe_timeout_s
        )

    async with anyio.create_task_group() as tg:
        for port, (address, address_port, _) in reachable:
            tg.start_soon(run, port, address, address_port)
    via = {port: how for port, (_, _, how) in reachable}
    answered = [p for p, _ in reachable if results[p].outcome in _ANSWERED]
    port = answered[0] if answered else reachable[0][0]
    probe = results[port]
    return {
        "answered": bool(answered),
        "port": port,
        "kind": probe.kind,
        "path": http_path,
        "outcome": probe.outcome,
        "status_code": probe.status_code,
        "error": probe.error,
        "via": via[port],
        "ports_probed": [p for p, _ in reachable],
        "timeout_s": settings.probe_timeout_s,
    }, ""
