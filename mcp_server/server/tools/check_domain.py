"""check_domain: HTTP status, latency and TLS certificate of a public domain."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.detectors import DomainSpec
from mcp_server.detectors.http_probe import HttpResult, TlsResult, probe_http, probe_tls
from mcp_server.safety import Target
from mcp_server.server.arguments import ConnectTo, HostName, UrlPath
from mcp_server.server.context import audit_read, safe, services


class DomainCheck(BaseModel):
    url: str
    verdict: str = Field(description="up, down, slow or tls-problem")
    http: HttpResult
    tls: TlsResult | None


async def check_domain(
    ctx: Context,
    host: Annotated[HostName, Field(description="public host name, e.g. shop.example.com")],
    https: bool = True,
    path: Annotated[UrlPath, Field(description="path to request")] = "/",
    connect_to: Annotated[ConnectTo | None, Field(description="ip:port to connect to instead of DNS")] = None,
) -> DomainCheck:
    """Request a domain as a user would: HTTP status, latency, and for https the certificate
    (days left, trusted or not). Use it for 'the site is down' reports and after a fix.
    Cost: one HTTP request (and one TLS handshake), up to 10 s."""
    svc = services(ctx)
    spec = DomainSpec(host=host, https=https, path=path, connect_to=connect_to)
    http = await probe_http(spec, timeout_s=10.0)
    tls = await probe_tls(spec, timeout_s=10.0) if https else None
    if http.status_code is None or http.status_code >= 500:
        verdict = "down"
    elif tls is not None and (
        tls.error or tls.trusted is False or (tls.days_left is not None and tls.days_left < 7)
    ):
        verdict = "tls-problem"
    elif http.latency_ms is not None and http.latency_ms > svc.settings.detectors.domain_slow_ms:
        verdict = "slow"
    else:
        verdict = "up"
    await audit_read(ctx, "check_domain", Target.for_host(svc.host_name), {"host": host, "path": path})
    return safe(DomainCheck(url=http.url, verdict=verdict, http=http, tls=tls))
