"""Inputs that come from outside Docker: the domains to probe and the Dokploy deployments to watch.

Both are given as a provider: a fixed list, or a function (sync or async) that returns the current
list, so the server can re-read Dokploy on every poll.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field, field_validator

from mcp_server.dokploy.models import Deployment, Domain

T = TypeVar("T")


class DomainSpec(BaseModel):
    """One public address to check, as Dokploy configures it (host, https, path, target)."""

    host: str = Field(description="public host name, e.g. shop.example.com")
    https: bool = True
    path: str = "/"
    port: int | None = Field(default=None, description="public port; default 443 for https, 80 for http")
    expected_target: str | None = Field(
        default=None, description="where the proxy should route it, e.g. `web:3000` (service:port)"
    )
    app_name: str | None = Field(default=None, description="Dokploy appName that owns the domain")
    dokploy_id: str | None = Field(default=None, description="composeId or applicationId")
    connect_to: str | None = Field(
        default=None,
        description="`ip:port` to connect to instead of resolving the host (split DNS, tests); the "
        "Host header and TLS server name stay the host",
    )

    @field_validator("path")
    @classmethod
    def _leading_slash(cls, value: str) -> str:
        value = value.strip() or "/"
        return value if value.startswith("/") else f"/{value}"

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        value = value.strip().lower().rstrip(".")
        if not value or "/" in value or " " in value:
            raise ValueError(f"domain host {value!r} must be a bare host name like shop.example.com")
        return value

    @property
    def public_port(self) -> int:
        return self.port or (443 if self.https else 80)

    @property
    def url(self) -> str:
        scheme = "https" if self.https else "http"
        default = 443 if self.https else 80
        port = "" if self.public_port == default else f":{self.public_port}"
        return f"{scheme}://{self.host}{port}{self.path}"

    @property
    def label(self) -> str:
        """`host` or `host/path`, as shown in targets."""
        return self.host if self.path == "/" else f"{self.host}{self.path}"

    def connect_address(self) -> tuple[str, int]:
        """(address, port) to open the connection to."""
        if self.connect_to:
            address, _, port = self.connect_to.rpartition(":")
            if not address or not port.isdigit():
                raise ValueError(f"connect_to {self.connect_to!r} must look like 127.0.0.1:8443")
            return address.strip("[]"), int(port)
        return self.host, self.public_port

    @classmethod
    def from_dokploy(cls, domain: Domain, *, app_name: str | None = None) -> DomainSpec:
        """Build from a row of Dokploy's domain.byComposeId / domain.byApplicationId."""
        target = None
        if domain.service_name or domain.port:
            target = f"{domain.service_name or '?'}:{domain.port or '?'}"
        return cls(
            host=domain.host,
            https=bool(domain.https),
            path=domain.path or "/",
            expected_target=target,
            app_name=app_name,
            dokploy_id=domain.compose_id or domain.application_id,
        )


DeploymentRows = Sequence[Deployment | Mapping[str, Any]]


@dataclass(frozen=True)
class DeploymentWatch:
    """One Dokploy compose or application whose deployments are watched.

    fetch: returns its deployment rows (any order), e.g.
        `lambda: client.deployments_by_compose(compose_id)`.
    logs: optional, returns the tail of a deployment's log by deployment id, e.g.
        `lambda deployment_id: client.deployment_logs(deployment_id, tail=30)`.
    """

    app_name: str
    dokploy_id: str
    fetch: Callable[[], Awaitable[DeploymentRows]]
    logs: Callable[[str], Awaitable[str]] | None = None
    kind: str = "compose"


DomainProvider = Sequence[DomainSpec] | Callable[[], Sequence[DomainSpec] | Awaitable[Sequence[DomainSpec]]]
DeploymentProvider = (
    Sequence[DeploymentWatch] | Callable[[], Sequence[DeploymentWatch] | Awaitable[Sequence[DeploymentWatch]]]
)


async def resolve_provider(provider: Sequence[T] | Callable[[], Any] | None) -> list[T]:
    """The current list from a provider (a list, or a sync/async function returning one)."""
    if provider is None:
        return []
    if callable(provider):
        result = provider()
        if inspect.isawaitable(result):
            result = await result
        return list(result)
    return list(provider)


def dokploy_deployment_watches(client: Any, services: Sequence[Any]) -> list[DeploymentWatch]:
    """Watches for every compose and application in Dokploy's `overview.services` rows.

    `client` is a `DokployClient`; `services` are its `overview_services()` rows (OverviewService).
    """
    watches: list[DeploymentWatch] = []
    for service in services:
        if service.type == "compose":
            watches.append(
                DeploymentWatch(
                    app_name=service.app_name,
                    dokploy_id=service.id,
                    fetch=_bind(client.deployments_by_compose, service.id),
                    logs=_bind_logs(client),
                    kind="compose",
                )
            )
        elif service.type == "application":
            watches.append(
                DeploymentWatch(
                    app_name=service.app_name,
                    dokploy_id=service.id,
                    fetch=_bind(client.deployments_by_application, service.id),
                    logs=_bind_logs(client),
                    kind="application",
                )
            )
    return watches


async def dokploy_domain_specs(client: Any, services: Sequence[Any]) -> list[DomainSpec]:
    """The domains of every compose and application in `overview.services` rows, one spec per
    public address (Dokploy may route one host+path to several targets; they are listed together).
    Disabled domains are skipped. `client` is a `DokployClient`."""
    specs: dict[tuple[bool, str, str], DomainSpec] = {}
    for service in services:
        if service.type == "compose":
            rows = await client.domains_by_compose(service.id)
        elif service.type == "application":
            rows = await client.domains_by_application(service.id)
        else:
            continue
        for row in rows:
            if row.enabled is False:
                continue
            spec = DomainSpec.from_dokploy(row, app_name=service.app_name)
            key = (spec.https, spec.host, spec.path)
            known = specs.get(key)
            if known is None:
                specs[key] = spec
            elif spec.expected_target and spec.expected_target not in (known.expected_target or ""):
                joined = ", ".join(t for t in (known.expected_target, spec.expected_target) if t)
                specs[key] = known.model_copy(update={"expected_target": joined})
    return list(specs.values())


def _bind(
    method: Callable[[str], Awaitable[DeploymentRows]], dokploy_id: str
) -> Callable[[], Awaitable[DeploymentRows]]:
    async def fetch() -> DeploymentRows:
        return await method(dokploy_id)

    return fetch


def _bind_logs(client: Any) -> Callable[[str], Awaitable[str]]:
    async def logs(deployment_id: str) -> str:
        return str(await client.deployment_logs(deployment_id, tail=30))

    return logs
