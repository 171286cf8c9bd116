"""Inputs that come from outside Docker: the domains to probe and the Dokploy deployments to watch.

Both are given as a provider: a fixed list, or a function (sync or async) that returns the current
list, so the server can re-read Dokploy on every poll.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary

from pydantic import BaseModel, Field, field_validator

from mcp_server.dokploy.errors import NotFoundError as DokployNotFoundError
from mcp_server.dokploy.errors import ValidationError as DokployValidationError

if TYPE_CHECKING:  # the Dokploy models load on first use (~70 ms): `status` never needs them
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


DeploymentRows = Sequence["Deployment | Mapping[str, Any]"]


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


class DomainRouting:
    """Which compose service each Dokploy domain routes to, remembered between polls.

    `overview.domains` lists every domain in one call but names only the owning compose, not the
    service inside it; `domain.byComposeId` names the service. This cache asks the latter only for
    a compose whose domains changed (added, removed, host/path/port edited) or after `ttl_s`, so a
    steady poll costs one Dokploy call however many services there are.
    """

    def __init__(self, ttl_s: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        # compose id -> (read at, what its domains looked like, domain id -> service name)
        self._known: dict[str, tuple[float, tuple[Any, ...], dict[str, str | None]]] = {}

    async def service_names(
        self, client: Any, compose_id: str, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, str | None]:
        """domain id -> compose service name for the domains of one compose."""
        shape = tuple(
            sorted((str(r.get("domainId")), r.get("host"), r.get("path"), r.get("port")) for r in rows)
        )
        known = self._known.get(compose_id)
        if known is not None and known[1] == shape and self._clock() - known[0] < self.ttl_s:
            return known[2]
        names = {d.domain_id: d.service_name for d in await client.domains_by_compose(compose_id)}
        self._known[compose_id] = (self._clock(), shape, names)
        return names

    def forget_except(self, compose_ids: set[str]) -> None:
        for gone in set(self._known) - compose_ids:
            del self._known[gone]


# one routing cache per client, so callers that pass only the client still poll in O(1) calls
_ROUTING: WeakKeyDictionary[Any, DomainRouting] = WeakKeyDictionary()


async def dokploy_domain_specs(
    client: Any, services: Sequence[Any], *, routing: DomainRouting | None = None
) -> list[DomainSpec]:
    """The domains of every compose and application in `overview.services` rows, one spec per
    public address (Dokploy may route one host+path to several targets; they are listed together).
    Disabled domains are skipped. `client` is a `DokployClient`.

    Reads `overview.domains` (one call for all services) and, through `routing` (by default one
    cache per client), `domain.byComposeId` only for composes whose domains changed. A Dokploy
    without `overview.domains` (before v0.30) is asked per service instead.
    """
    owners = {s.id: s for s in services if s.type in ("compose", "application")}
    try:
        overview = await client.call("overview.domains")
    except (DokployValidationError, DokployNotFoundError):  # a Dokploy before v0.30
        return await _domain_specs_per_service(client, list(owners.values()))
    if routing is None:
        routing = _ROUTING.get(client)
        if routing is None:
            routing = _ROUTING[client] = DomainRouting()
    by_owner: dict[str, list[Mapping[str, Any]]] = {}
    for row in overview or []:
        if isinstance(row, Mapping) and row.get("serviceOwnerId") in owners:
            by_owner.setdefault(str(row["serviceOwnerId"]), []).append(row)
    routing.forget_except({o for o in by_owner if owners[o].type == "compose"})
    domains: list[tuple[Domain, str]] = []
    for owner_id, rows in by_owner.items():
        service = owners[owner_id]
        names = await routing.service_names(client, owner_id, rows) if service.type == "compose" else {}
        for row in rows:
            domain = _domain_model().model_validate(
                {
                    **{k: row.get(k) for k in ("domainId", "host", "https", "port", "path", "enabled")},
                    "serviceName": names.get(str(row.get("domainId"))),
                    "composeId": owner_id if service.type == "compose" else None,
                    "applicationId": owner_id if service.type == "application" else None,
                }
            )
            domains.append((domain, service.app_name))
    return _merge_specs(domains)


async def _domain_specs_per_service(client: Any, services: Sequence[Any]) -> list[DomainSpec]:
    """The old way, one call per service: for a Dokploy without overview.domains."""
    domains: list[tuple[Domain, str]] = []
    for service in services:
        if service.type == "compose":
            rows = await client.domains_by_compose(service.id)
        else:
            rows = await client.domains_by_application(service.id)
        domains += [(row, service.app_name) for row in rows]
    return _merge_specs(domains)


def _domain_model() -> type[Domain]:
    from mcp_server.dokploy.models import Domain

    return Domain


def _merge_specs(domains: Sequence[tuple[Domain, str]]) -> list[DomainSpec]:
    specs: dict[tuple[bool, str, str], DomainSpec] = {}
    for row, app_name in domains:
        if row.enabled is False:
            continue
        spec = DomainSpec.from_dokploy(row, app_name=app_name)
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
