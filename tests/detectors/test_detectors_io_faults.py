"""Disk, domain and deployment detectors proven on real faults: a tmpfs volume filling up, HTTP
servers that fail or present a soon-expiring certificate, and Dokploy deployment rows that end in
error (captured from a real Dokploy, also served through the real DokployClient)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.responses import JSONResponse

from mcp_server.detectors import (
    DeploymentWatch,
    DetectorEngine,
    DetectorSettings,
    DomainSpec,
    Severity,
    dokploy_deployment_watches,
    dokploy_domain_specs,
)
from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy import DokployClient
from mcp_server.dokploy.models import OverviewService

from ..conftest import CAPTURES, OPENAPI_FILE, ScriptedServer
from .helpers import LABELS, MiB, cleanup_labelled, fast_settings, free_port, start, unique, wait_resolved

pytestmark = pytest.mark.anyio


# -- disk ------------------------------------------------------------------------------------------
@pytest.fixture
def _cleanup(docker_client: docker.DockerClient) -> Iterator[None]:
    yield
    cleanup_labelled(docker_client)


@pytest.mark.docker
@pytest.mark.usefixtures("_cleanup")
async def test_tmpfs_volume_filling_up_with_projection(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    volume = unique("vol")
    await anyio.to_thread.run_sync(
        lambda: docker_client.volumes.create(
            volume,
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=8m"},
            labels=LABELS,
        )
    )
    box = await start(docker_client, unique("filler"), ["sleep", "3600"], volumes={volume: {"bind": "/data"}})
    settings = fast_settings(
        enabled=["disk_pressure"],
        disk_interval_s=0.2,
        disk_warning_percent=60.0,
        disk_critical_percent=95.0,
        disk_min_samples=3,
    )
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        for step in range(3):  # 2, 4, 6 MiB of 8: the last step crosses 60 %
            await anyio.to_thread.run_sync(
                lambda i=step: box.exec_run(["dd", "if=/dev/zero", f"of=/data/f{i}", "bs=1M", "count=2"])
            )
            await anyio.sleep(0.7)
        sig = await engine.wait_for_signal(
            lambda s: (
                s.kind == "disk_pressure"
                and s.target.volume == volume
                and s.evidence.get("projected_full_in_s") is not None
            ),
            30,
        )
        assert sig.runbook == "disk-filling"
        assert sig.evidence["total_bytes"] == 8 * MiB
        assert sig.evidence["used_bytes"] == 6 * MiB and sig.evidence["used_percent"] == 75.0
        assert sig.evidence["fill_rate_bytes_per_s"] > 0
        # 2 MiB left at ~2 MiB per 0.7 s: full within seconds, so the projection makes it critical
        assert sig.severity == Severity.critical
        assert "full in ~" in sig.summary and "volume" in sig.summary and "75% full" in sig.summary

        # freeing the space clears the signal
        await anyio.to_thread.run_sync(lambda: box.exec_run(["sh", "-c", "rm -f /data/f*"]))
        done = await wait_resolved(engine, sig.id, 30)
        assert done.status == "resolved"


# -- domains ---------------------------------------------------------------------------------------
@dataclass
class Site:
    """A local HTTP(S) server whose status can be changed; records Host headers and SNI names."""

    status: int
    body: bytes = b"ok"
    hosts: list[str] = field(default_factory=list)
    sni: list[str] = field(default_factory=list)
    port: int = 0


def _serve(site: Site, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hosts.append(self.headers.get("Host", ""))
            self.send_response(site.status)
            self.send_header("Content-Length", str(len(site.body)))
            self.end_headers()
            self.wfile.write(site.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        tls.sni_callback = lambda sock, name, ctx: site.sni.append(name or "") and None
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _expiring_cert(tmp: Path, host: str, days: float) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return context


async def test_domains_down_closed_and_expiring_certificate(host: DockerHost, tmp_path: Path) -> None:
    failing = Site(503, b"no available server")
    healthy = Site(200)
    secure = Site(200)
    servers = [
        _serve(failing),
        _serve(healthy),
        _serve(secure, _expiring_cert(tmp_path, "secure.test", days=2)),
    ]
    closed_port = free_port()
    domains = [
        DomainSpec(
            host="down.test", https=False, connect_to=f"127.0.0.1:{failing.port}", expected_target="web:80"
        ),
        DomainSpec(host="closed.test", https=False, connect_to=f"127.0.0.1:{closed_port}"),
        DomainSpec(host="ok.test", https=False, path="/health", connect_to=f"127.0.0.1:{healthy.port}"),
        DomainSpec(host="secure.test", https=True, connect_to=f"127.0.0.1:{secure.port}"),
    ]
    settings = DetectorSettings(
        enabled=["domain_down"], domain_interval_s=0.2, domain_timeout_s=3, domain_failures_before_signal=2
    )
    try:
        async with DetectorEngine(host, settings, domains=lambda: domains) as engine:
            down = await engine.wait_for_signal(lambda s: s.target.domain == "down.test", 20)
            assert down.severity == Severity.critical and down.runbook == "domain-down"
            assert down.evidence["http"]["status_code"] == 503
            assert down.evidence["http"]["body_snippet"] == "no available server"
            assert down.evidence["consecutive_failures"] >= 2
            assert "HTTP 503" in down.summary and "routes to web:80" in down.summary

            closed = await engine.wait_for_signal(lambda s: s.target.domain == "closed.test", 20)
            assert closed.runbook == "domain-down" and "unreachable" in closed.summary
            assert "ConnectError" in closed.evidence["http"]["error"]

            cert = await engine.wait_for_signal(lambda s: s.target.domain == "secure.test", 20)
            assert cert.runbook == "tls-certificate" and cert.severity == Severity.critical  # <= 3 days
            assert 1.5 < cert.evidence["tls"]["days_left"] <= 2.0
            assert cert.evidence["tls"]["trusted"] is False  # self-signed
            assert cert.evidence["http"]["status_code"] == 200  # a bad certificate never hides the status
            assert "expires in 2.0 days" in cert.summary
            # connected to 127.0.0.1, but spoke to the server as the public host name
            assert "secure.test" in secure.sni and secure.hosts[-1] == "secure.test"
            assert healthy.hosts and healthy.hosts[-1] == "ok.test"
            assert not [s for s in engine.active_signals() if s.target.domain == "ok.test/health"]

            failing.status = 200  # the app recovers
            done = await wait_resolved(engine, down.id, 20)
            assert done.resolution == "domain_down: condition cleared"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# -- deployments -----------------------------------------------------------------------------------
def _capture(name: str) -> Any:
    return json.loads((CAPTURES / f"{name}.json").read_text())["response"]["body"]


async def test_failed_deployment_from_rows_resolves_after_a_good_deploy(host: DockerHost) -> None:
    rows: list[dict[str, Any]] = list(_capture("deployment.allByCompose--after-missing-image"))
    fail_next = False

    async def fetch() -> list[dict[str, Any]]:
        if fail_next:
            raise ConnectionError("Dokploy did not answer")
        return rows

    async def logs(deployment_id: str) -> str:
        return str(_capture("deployment.readLogs--missing-image-error"))

    watch = DeploymentWatch(
        app_name="capdemo-qiqp6p", dokploy_id="x2i8xcknObKu2IjCtumbL", fetch=fetch, logs=logs
    )
    settings = DetectorSettings(enabled=["failed_deployment"], deployment_interval_s=3600)
    engine = DetectorEngine(host, settings, deployments=[watch])
    await engine.poll()
    [sig] = engine.active_signals()
    assert sig.kind == "failed_deployment" and sig.runbook == "failed-deployment"
    assert sig.severity == Severity.critical
    assert sig.target.app_name == "capdemo-qiqp6p" and sig.target.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    newest_error = max((r for r in rows if r["status"] == "error"), key=lambda r: r["createdAt"])
    assert sig.evidence["deployment_id"] == newest_error["deploymentId"]
    assert sig.evidence["failed_in_a_row"] == 2
    assert sig.evidence["last_successful"]["created_at"] == "2026-11-25T08:37:42.544Z"
    assert "Manual deployment" in sig.summary and "2 failed deployments in a row" in sig.summary
    assert any("Error response from daemon" in line for line in sig.evidence["log_tail"])
    assert sig.evidence["log_tail"][-1] == "Error occurred ❌, check the logs for details."

    fail_next = True  # Dokploy unreachable: the failure is neither confirmed nor resolved
    await engine.poll()
    assert [s.id for s in engine.active_signals()] == [sig.id]
    [status] = engine.status().detectors
    assert status.notes and "not read" in status.notes[0]

    fail_next = False  # a new deployment succeeds: the signal resolves
    rows.insert(
        0, {**rows[0], "deploymentId": "new-ok", "status": "done", "createdAt": "2026-11-25T09:00:00.000Z"}
    )
    await engine.poll()
    assert engine.active_signals() == []
    assert engine.resolved_signals()[0].id == sig.id


async def test_failed_deployment_through_the_dokploy_client(
    host: DockerHost, scripted_server: ScriptedServer
) -> None:
    scripted_server.answer(
        JSONResponse(_capture("deployment.allByCompose--after-missing-image")),
        JSONResponse(_capture("deployment.readLogs--missing-image-error")),
    )
    services = [OverviewService.model_validate(r) for r in _capture("overview.services--after-deploy")]
    client = await DokployClient.connect(scripted_server.url, "test-key", openapi_file=OPENAPI_FILE)
    async with client:
        watches = dokploy_deployment_watches(client, services)
        assert [(w.app_name, w.kind) for w in watches] == [("capdemo-qiqp6p", "compose")]
        engine = DetectorEngine(
            host,
            DetectorSettings(enabled=["failed_deployment"], deployment_interval_s=3600),
            deployments=watches,
        )
        await engine.poll()
    [sig] = engine.active_signals()
    assert sig.target.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    assert any("Docker command failed" in line for line in sig.evidence["log_tail"])
    paths = [r["path"] for r in scripted_server.received]
    assert paths == ["/api/deployment.allByCompose", "/api/deployment.readLogs"]


async def test_domain_specs_from_the_dokploy_client(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(JSONResponse(_capture("domain.byComposeId--one-domain")))
    services = [OverviewService.model_validate(r) for r in _capture("overview.services--after-deploy")]
    client = await DokployClient.connect(scripted_server.url, "test-key", openapi_file=OPENAPI_FILE)
    async with client:
        specs = await dokploy_domain_specs(client, services)
    # Dokploy routes the same host to two targets: one address to probe, both targets named
    [spec] = specs
    assert spec.url == "http://api.capdemo.localhost/" and spec.app_name == "capdemo-qiqp6p"
    assert spec.expected_target == "?:3000, api:8080"
    assert spec.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    assert scripted_server.received[0]["path"] == "/api/domain.byComposeId"
