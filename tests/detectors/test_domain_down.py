"""Domain-down detector against real local HTTP(S) servers: a 503, a closed port, a certificate
that expires in two days, and recovery."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mcp_server.detectors import DetectorEngine, DetectorSettings, DomainSpec, Severity
from mcp_server.docker_ops.host import DockerHost

from .helpers import free_port, wait_resolved

pytestmark = pytest.mark.anyio


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
            down = await engine.wait_for_signal(lambda s: s.target.name == "down.test", 20)
            assert down.severity == Severity.critical and down.runbook == "domain-down"
            assert down.evidence["http"]["status_code"] == 503
            assert down.evidence["http"]["body_snippet"] == "no available server"
            assert down.evidence["consecutive_failures"] >= 2
            assert "HTTP 503" in down.summary and "routes to web:80" in down.summary

            closed = await engine.wait_for_signal(lambda s: s.target.name == "closed.test", 20)
            assert closed.runbook == "domain-down" and "unreachable" in closed.summary
            assert "ConnectError" in closed.evidence["http"]["error"]

            cert = await engine.wait_for_signal(lambda s: s.target.name == "secure.test", 20)
            assert cert.runbook == "tls-certificate" and cert.severity == Severity.critical  # <= 3 days
            assert 1.5 < cert.evidence["tls"]["days_left"] <= 2.0
            assert cert.evidence["tls"]["trusted"] is False  # self-signed
            assert cert.evidence["http"]["status_code"] == 200  # a bad certificate never hides the status
            assert "expires in 2.0 days" in cert.summary
            # connected to 127.0.0.1, but spoke to the server as the public host name
            assert "secure.test" in secure.sni and secure.hosts[-1] == "secure.test"
            assert healthy.hosts and healthy.hosts[-1] == "ok.test"
            assert not [s for s in engine.active_signals() if s.target.name == "ok.test/health"]

            failing.status = 200  # the app recovers
            done = await wait_resolved(engine, down.id, 20)
            assert done.resolution == "domain_down: condition cleared"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
