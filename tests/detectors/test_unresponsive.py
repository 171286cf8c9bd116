"""Unresponsive detector: real busybox web servers probed from here, one that hangs (SIGSTOP) is
found within seconds, an opted-out one is never probed, and `nc -l` (accepts, never answers) is
found through the path label; plus the address choice and the classification rules."""

from __future__ import annotations

from typing import Any

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, Severity
from mcp_server.detectors.checks.unresponsive import UnresponsiveDetector
from mcp_server.detectors.http_probe import probe_port
from mcp_server.detectors.own_probe import container_address
from mcp_server.detectors.state import ContainerRef
from mcp_server.docker_ops.host import DockerHost

from .helpers import LABELS, TEST_IMAGE, fast_settings, unique

pytestmark = pytest.mark.anyio

# a web server that keeps running as a child of sh, so `killall -STOP httpd` can freeze it
HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www & wait"]


def probe_settings(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "enabled": ["unresponsive"],
        "probe_interval_s": 0.5,
        "probe_timeout_s": 0.5,
        "probe_failures_before_signal": 2,
        "probe_retry_delay_s": 0.1,
        "probe_start_grace_s": 0,
    }
    return fast_settings(**{**base, **overrides})


async def web(client: docker.DockerClient, name: str, command: list[str], **labels: str) -> Any:
    """A labelled container on the default bridge with 8080 exposed and published."""
    return await anyio.to_thread.run_sync(
        lambda: client.containers.run(
            TEST_IMAGE,
            command,
            name=name,
            labels={**LABELS, **labels},
            detach=True,
            ports={"8080/tcp": ("127.0.0.1", None)},
        )
    )


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_a_hung_web_server_is_found_and_an_opted_out_one_is_not(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    hung, quiet = unique("hung-web"), unique("optout-web")
    async with DetectorEngine(host, probe_settings()) as engine:
        frozen = await web(docker_client, hung, HTTPD)
        opted_out = await web(docker_client, quiet, HTTPD, **{"infraguardian.probe": "off"})
        detector = next(d for d in engine.detectors if isinstance(d, UnresponsiveDetector))
        # it answers first: the port is known to speak HTTP (no signal while it does)
        with anyio.fail_after(20):
            while detector._ports.get(frozen.id, {}).get(8080) is None or (  # noqa: ASYNC110
                detector._ports[frozen.id][8080].kind != "http"
            ):
                await anyio.sleep(0.2)
        assert not [s for s in engine.active_signals() if s.kind == "unresponsive"]
        for container in (frozen, opted_out):
            await anyio.to_thread.run_sync(lambda c=container: c.exec_run(["killall", "-STOP", "httpd"]))
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "unresponsive" and s.target.container_name == hung, 20
        )
        assert sig.runbook == "unhealthy" and sig.severity == Severity.critical
        [port] = sig.evidence["ports"]
        assert port["port"] == 8080 and port["kind"] == "http" and port["outcome"] == "no_answer"
        # this process runs on the Docker host: it reaches the container on its bridge network
        assert port["via"] == "container IP on bridge"
        assert "does not answer on port 8080" in sig.summary and "GET /" in sig.summary
        assert opted_out.id not in detector._ports
        assert not [s for s in engine.active_signals() if s.target.container_name == quiet]
        # it answers again: the signal resolves
        await anyio.to_thread.run_sync(lambda: frozen.exec_run(["killall", "-CONT", "httpd"]))
        with anyio.fail_after(20):
            while [s for s in engine.active_signals() if s.id == sig.id]:  # noqa: ASYNC110
                await anyio.sleep(0.2)


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_a_port_that_accepts_and_never_answers_is_found_through_the_path_label(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    silent = unique("nc-web")
    # nc takes one connection and never answers (its stdin never ends); when the prober hangs up
    # it ends, and the loop listens again
    accept_only = ["sh", "-c", "while true; do sleep 3600 | nc -l -p 8080 > /dev/null; done"]
    async with DetectorEngine(host, probe_settings()) as engine:
        await web(docker_client, silent, accept_only, **{"infraguardian.probe.path": "/healthz"})
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "unresponsive" and s.target.container_name == silent, 20
        )
    assert "GET /healthz" in sig.summary
    # between two nc runs the port may be closed for a moment: refused then
    assert sig.evidence["ports"][0]["outcome"] in ("no_answer", "refused")


def ref(**kw: Any) -> ContainerRef:
    base: dict[str, Any] = {
        "id": "c1",
        "name": "web",
        "image": "x",
        "state": "running",
        "status_text": "Up",
        "labels": {},
    }
    return ContainerRef(**{**base, **kw})


def test_the_address_is_the_container_ip_when_local_else_the_published_port() -> None:
    published = ({"PrivatePort": 80, "PublicPort": 8081, "IP": "0.0.0.0", "Type": "tcp"},)
    # a subnet no interface here is on, whose gateway is a local address (so this process runs
    # on the Docker host): the published port, on loopback
    far = ref(ports=published, networks={"overlay": ("10.254.3.7", 24, "127.0.0.1")})
    assert container_address(far, 80) == ("127.0.0.1", 8081, "published port")
    # loopback is always local: the container IP is used
    near = ref(ports=published, networks={"lo": ("127.0.0.9", 8, "")})
    assert container_address(near, 80) == ("127.0.0.9", 80, "container IP on lo")
    assert container_address(ref(networks={"overlay": ("10.254.3.7", 24, "10.254.3.1")}), 80) is None


def test_unknown_ports_are_classified_once_and_databases_are_left_alone() -> None:
    detector = UnresponsiveDetector(probe_settings())
    rows = (
        {"PrivatePort": 5432, "PublicPort": 5432, "IP": "0.0.0.0", "Type": "tcp"},
        {"PrivatePort": 9000, "PublicPort": 9000, "IP": "0.0.0.0", "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
    )
    notes: Any = type("F", (), {"notes": []})()
    plans = detector._plan(ref(ports=rows), notes)
    assert [(p.port, p.http_path, p.classify) for p in plans] == [(9000, "/", True)]
    tcp = detector._plan(ref(id="c2", ports=rows, labels={"infraguardian.probe": "tcp"}), notes)
    assert [(p.port, p.http_path, p.classify) for p in tcp] == [(5432, None, False), (9000, None, False)]


async def test_probe_outcomes_against_local_servers() -> None:
    async def serve_http(stream: Any) -> None:
        async with stream:
            await stream.receive()
            await stream.send(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")

    async def greet(stream: Any) -> None:
        async with stream:
            await stream.send(b"SSH-2.0-OpenSSH\r\n")

    async def mute(stream: Any) -> None:
        async with stream:
            await anyio.sleep(5)

    async with anyio.create_task_group() as tg:
        listeners = []
        for handler in (serve_http, greet, mute):
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            listeners.append(listener)
            tg.start_soon(listener.serve, handler)
        ports = [lst.extra(anyio.abc.SocketAttribute.local_port) for lst in listeners]
        answered = await probe_port("127.0.0.1", ports[0], http_path="/", timeout_s=2)
        other = await probe_port("127.0.0.1", ports[1], http_path="/", timeout_s=2)
        hung = await probe_port("127.0.0.1", ports[2], http_path="/", timeout_s=0.3)
        connect_only = await probe_port("127.0.0.1", ports[2], http_path=None, timeout_s=0.3)
        tg.cancel_scope.cancel()
    # any HTTP status means the process answers (a 503 is the domain check's business)
    assert (answered.outcome, answered.status_code) == ("ok", 503)
    assert other.outcome == "not_http"
    assert hung.outcome == "no_answer" and connect_only.outcome == "ok"
    free = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = free.extra(anyio.abc.SocketAttribute.local_port)
    await free.aclose()
    assert (await probe_port("127.0.0.1", port, http_path="/", timeout_s=1)).outcome == "refused"
