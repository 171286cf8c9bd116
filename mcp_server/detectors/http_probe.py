"""Probes of one public domain: an HTTP GET (status, latency, first bytes) and its TLS certificate
(expiry, subject, issuer, whether the trust store accepts it).

The HTTP probe does not verify the certificate (the TLS probe judges it), so a bad certificate
never hides the status code. With `DomainSpec.connect_to` the connection goes to that address
while the Host header and the TLS server name (SNI) stay the public host name.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
from anyio.streams.tls import TLSAttribute
from cryptography import x509
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
