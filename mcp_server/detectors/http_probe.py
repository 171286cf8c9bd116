"""Probes of one public domain: an HTTP GET (status, latency, first bytes) and its TLS certificate
(expiry, subject, issuer, whether the trust store accepts it). And probes of a container's own
ports (TCP connect, or one GET and its status line), with the choice of an address that reaches it.

The HTTP probe does not verify the certificate (the TLS probe judges it), so a bad certificate
never hides the status code. With `DomainSpec.connect_to` the connection goes to that address
while the Host header and the TLS server name (SNI) stay the public host name.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute
from pydantic import BaseModel

from .inputs import DomainSpec

_BODY_SNIPPET_BYTES = 300


class HttpResult(BaseModel):
    url: str
    connected_to: str
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    body_snippet: str | None = None


class TlsResult(BaseModel):
    not_after: datetime | None = None
    days_left: float | None = None
    subject: str | None = None
    issuer: str | None = None
    trusted: bool | None = None
    trust_error: str | None = None
    error: str | None = None


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _request_url(spec: DomainSpec) -> tuple[str, dict[str, str], dict[str, str]]:
    """(url, headers, extensions) for the probe request."""
    if spec.connect_to is None:
        return spec.url, {}, {}
    address, port = spec.connect_address()
    shown = f"[{address}]" if ":" in address else address
    scheme = "https" if spec.https else "http"
    default = 443 if spec.https else 80
    host_header = spec.host if spec.public_port == default else f"{spec.host}:{spec.public_port}"
    extensions = {"sni_hostname": spec.host} if spec.https else {}
    return f"{scheme}://{shown}:{port}{spec.path}", {"Host": host_header}, extensions


def _short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


async def probe_http(spec: DomainSpec, timeout_s: float) -> HttpResult:
    """GET the domain once (no redirects followed, body mostly not read)."""
    import httpx  # here, not at the top: `status` loads the detectors and never probes (~60 ms)

    url, headers, extensions = _request_url(spec)
    address, port = spec.connect_address()
    result = HttpResult(url=spec.url, connected_to=f"{address}:{port}")
    started = time.monotonic()
    try:
        async with (
            httpx.AsyncClient(
                verify=_unverified_context(), timeout=timeout_s, follow_redirects=False
            ) as client,
            client.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            result.latency_ms = round((time.monotonic() - started) * 1000, 1)
            result.status_code = response.status_code
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= _BODY_SNIPPET_BYTES:
                    break
            result.body_snippet = body[:_BODY_SNIPPET_BYTES].decode("utf-8", "replace").strip() or None
    except httpx.HTTPError as exc:
        result.error = _short_error(exc)
        result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return result


async def _peer_certificate(spec: DomainSpec, context: ssl.SSLContext, timeout_s: float) -> bytes | None:
    address, port = spec.connect_address()
    with anyio.fail_after(timeout_s):
        # no close_notify exchange on close: only the handshake matters here
        stream = await anyio.connect_tcp(
            address,
            port,
            tls=True,
            ssl_context=context,
            tls_hostname=spec.host,
            tls_standard_compatible=False,
        )
    der = stream.extra(TLSAttribute.peer_certificate_binary)  # noqa: S610 - anyio, not Django
    with contextlib.suppress(OSError, anyio.BrokenResourceError, ssl.SSLError):
        # the server may drop the connection first; that says nothing about the certificate
        await stream.aclose()
    return der


async def probe_tls(spec: DomainSpec, timeout_s: float, ca_file: Path | None = None) -> TlsResult:
    """Read the certificate the server presents for the host name, and check it is trusted."""
    result = TlsResult()
    try:
        der = await _peer_certificate(spec, _unverified_context(), timeout_s)
    except (OSError, TimeoutError, anyio.BrokenResourceError, ssl.SSLError) as exc:
        result.error = _short_error(exc)
        return result
    if not der:
        result.error = "the server presented no certificate"
        return result
    from cryptography import x509  # only a TLS check needs it (~30 ms to load)

    cert = x509.load_der_x509_certificate(der)
    result.not_after = cert.not_valid_after_utc
    result.days_left = round((cert.not_valid_after_utc - datetime.now(UTC)).total_seconds() / 86400, 2)
    result.subject = cert.subject.rfc4514_string()[:200]
    result.issuer = cert.issuer.rfc4514_string()[:200]
    verifying = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    try:
        await _peer_certificate(spec, verifying, timeout_s)
        result.trusted = True
    except ssl.SSLCertVerificationError as exc:
        result.trusted = False
        result.trust_error = str(exc.verify_message or exc)[:200]
    except (OSError, TimeoutError, anyio.BrokenResourceError, ssl.SSLError) as exc:
        result.trust_error = f"trust check failed: {_short_error(exc)}"
    return result


# -- probes of a container's own ports (the unresponsive detector) ---------------------------------

PortOutcome = Literal["ok", "no_answer", "refused", "error", "not_http"]
_HTTP_STATUS = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")


class PortProbe(BaseModel):
    """One probe of one container port: a TCP connect, or a connect + `GET path` (no body read)."""

    address: str
    port: int
    kind: Literal["http", "tcp"]
    outcome: PortOutcome
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None


async def probe_port(address: str, port: int, *, http_path: str | None, timeout_s: float) -> PortProbe:
    """Connect to `address:port` and, with `http_path`, send one GET and read the status line.

    outcome: ok (connected / any HTTP status), no_answer (no connection or no status line within
    `timeout_s`: the process is hung or the host drops packets), refused (nothing listens),
    error (reset, unreachable network), not_http (answered, but not with HTTP).
    """
    kind: Literal["http", "tcp"] = "tcp" if http_path is None else "http"
    result = PortProbe(address=address, port=port, kind=kind, outcome="ok")
    started = time.monotonic()
    try:
        with anyio.fail_after(timeout_s):
            stream = await anyio.connect_tcp(address, port)
            async with stream:
                if http_path is not None:
                    head = await _http_status_line(stream, address, port, http_path)
                    match = _HTTP_STATUS.match(head)
                    if match:
                        result.status_code = int(match.group(1))
                    elif head:
                        result.outcome, result.error = "not_http", f"answered {head[:40]!r}"
                    else:
                        result.outcome, result.error = "error", "closed the connection without answering"
    except TimeoutError:
        result.outcome = "no_answer"
        result.error = f"no answer within {timeout_s:g} s"
    except (OSError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
        # anyio wraps the refusal: "All connection attempts failed" from ConnectionRefusedError
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        if isinstance(cause, ConnectionRefusedError):
            result.outcome, result.error = "refused", "connection refused (nothing listens)"
        else:
            result.outcome, result.error = "error", _short_error(cause)
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return result


async def _http_status_line(stream: anyio.abc.SocketStream, address: str, port: int, path: str) -> bytes:
    host = f"[{address}]" if ":" in address else address
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: infraguardian-probe\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    await stream.send(request.encode("ascii", "replace"))
    head = b""
    while b"\n" not in head and len(head) < 64:
        try:
            head += await stream.receive(64)
        except anyio.EndOfStream:
            break
    return head.split(b"\r\n", 1)[0]


def reaches_directly(ip: str, prefix_len: int) -> bool:
    """True when this process sends to `ip` from an address inside `ip/prefix_len`: it has an
    interface on that network (the server runs on the Docker host, whose bridges are local, or in
    a container attached to the same network). No packet is sent."""
    try:
        network = ipaddress.ip_network(f"{ip}/{prefix_len}", strict=False)
        family = socket.AF_INET6 if network.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((ip, 9))  # UDP connect only picks the route and source address
            source = sock.getsockname()[0]
        return ipaddress.ip_address(source) in network
    except (OSError, ValueError):
        return False


@functools.lru_cache(maxsize=256)
def is_local_address(ip: str) -> bool:
    """True when `ip` is an address of this machine (binding to it works)."""
    try:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((ip, 0))
        return True
    except OSError:
        return False


def docker_host_address(network_gateways: Iterable[str] = ()) -> str:
    """Where ports published on the Docker host are reached from here. When a Docker network's
    gateway is a local address, this process runs on the Docker host: loopback. Otherwise (the
    server in a container) the default gateway, the host's side of its own network."""
    if any(gateway and is_local_address(gateway) for gateway in network_gateways):
        return "127.0.0.1"
    try:
        routes = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        routes = []
    for line in routes:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000" and len(fields[2]) == 8:
            return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return "host.docker.internal"
