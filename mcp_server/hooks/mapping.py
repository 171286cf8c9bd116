"""Which service of this host an outside alert is about: an `ExternalAlert` → a `Target`.

    index = ServiceIndex(host, containers, domains)   # once per detector round
    found = index.map(alert)                          # AlertMapping: target + mapped_by, or why not

`containers` are the engine's container list (`ContainerDirectory.find(include_stopped=True)`, so a
stopped service is still known) and `domains` the Dokploy domains (`DomainSpec`: host, path,
expected_target "service:port", app_name). A mapped alert's target is the service level (compose
service, swarm service, or a loose container), like the other detectors' service signals.

Hints are tried in this order; the first that names exactly one service wins:
1. explicit labels: `compose_service` (with `compose_project` / `app_name` when present), Uptime Kuma's
   `service` tag, or a configured target label (any other hint) whose value is "app/service" or "service";
2. `container`: a container name; 3. `swarm_service`: a swarm service name;
4. the monitor URL's host is a Dokploy domain → that domain's app and the service it routes to;
5. the URL's or Prometheus `instance`'s host is a container or compose service name here
   (internal URLs like http://n8n:5678);
6. the alert / monitor name equals a container name or `<app>-<service>`.
A hint matching services of several projects (two projects have a service `api`) maps nothing: never
guess. Then the next hint is tried; `reasons` keeps what was ambiguous or unknown, for the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcp_server.detectors.inputs import DomainSpec
from mcp_server.detectors.state import ContainerRef, service_level
from mcp_server.docker_ops.models import COMPOSE_PROJECT, COMPOSE_SERVICE
from mcp_server.hooks.models import ExternalAlert
from mcp_server.targets import Target

# Hints the parsers set themselves; any other hint is a configured target label.
_PARSER_HINTS = frozenset(
    {"compose_service", "swarm_service", "container", "instance", "instance_host", "job", "monitor_name"}
    | {"url", "host", "port", "service"}
)
# Labels that may name the compose project of an explicit compose_service label (cAdvisor's form too).
_PROJECT_LABELS = ("compose_project", "container_label_com_docker_compose_project", "app_name")
# A name we accept from an alert for a service no container of which is seen: Docker-like, short.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class AlertMapping:
    """The service an alert is about (`target`, None when unmapped), which hint said so (`mapped_by`),
    and why the hints tried before it (or all of them) mapped nothing (`reasons`)."""

    target: Target | None
    mapped_by: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass
class _Lookup:
    """One name → the services it may mean, keyed by target key (replicas of one service are one)."""

    found: dict[str, dict[str, Target]] = field(default_factory=dict)

    def add(self, name: str | None, target: Target) -> None:
        if name:
            self.found.setdefault(name.lower(), {})[target.key()] = target

    def get(self, name: str) -> dict[str, Target]:
        return self.found.get(name.lower().lstrip("/"), {})


class ServiceIndex:
    """The services and containers of one host, indexed by every name an alert may use for them."""

    def __init__(
        self, host: str, containers: Iterable[ContainerRef], domains: Sequence[DomainSpec] = ()
    ) -> None:
        self.host = host
        self.domains = list(domains)
        self.containers = _Lookup()  # container name
        self.services = _Lookup()  # compose service or short swarm service name
        self.project_services = _Lookup()  # "project/service"
        self.swarm = _Lookup()  # full swarm service name
        self.dashed = _Lookup()  # "<app>-<service>", as monitors are often named
        for ref in containers:
            target = service_level(ref.target(host))
            self.containers.add(ref.name, target)
            project, service = target.project, target.service
            if target.kind == "swarm_service":
                self.swarm.add(target.name, target)
            elif target.kind == "container":
                project = ref.labels.get(COMPOSE_PROJECT)
                service = ref.labels.get(COMPOSE_SERVICE)
            if project and service:
                self.services.add(service, target)
                self.project_services.add(f"{project}/{service}", target)
                self.dashed.add(f"{project}-{service}", target)

    def map(self, alert: ExternalAlert) -> AlertMapping:
        """The service `alert` is about, by the first hint that names exactly one (see the module doc)."""
        hints = alert.target_hints
        reasons: list[str] = []
        attempts: list[tuple[str, str, Sequence[tuple[str, dict[str, Target]]]]] = []

        def attempt(
            what: str, value: str | None, candidates: Sequence[tuple[str, dict[str, Target]]]
        ) -> None:
            if value:
                attempts.append((what, value, candidates))

        for what, value, explicit in self._explicit(alert):
            if explicit is not None:
                return AlertMapping(explicit, f"{what}={value}", tuple(reasons))
            attempt(what, value, self._service_named(value))
        attempt(
            "container label",
            hints.get("container"),
            [("container", self.containers.get(hints.get("container", "")))],
        )
        attempt(
            "swarm_service label",
            hints.get("swarm_service"),
            [("swarm service", self.swarm.get(hints.get("swarm_service", "")))],
        )
        for what, value, candidates in attempts:
            target = _only(what, value, candidates, reasons)
            if target is not None:
                return AlertMapping(target, f"{what}={value}", tuple(reasons))
        url_host = (hints.get("host") or "").lower()
        if url_host:
            domain = self._domain(url_host, hints.get("url") or alert.url or "", reasons)
            if domain is not None:
                return AlertMapping(domain[0], f"Dokploy domain {domain[1]}", tuple(reasons))
        for what, named in (("URL host", url_host), ("instance host", hints.get("instance_host"))):
            if named:
                target = _only(what, named, self._host_named(named), reasons)
                if target is not None:
                    return AlertMapping(target, f"{what}={named}", tuple(reasons))
        for name in dict.fromkeys(n for n in (alert.name, hints.get("monitor_name")) if n):
            candidates = [
                ("container", self.containers.get(name)),
                ("<app>-<service>", self.dashed.get(name)),
            ]
            target = _only("name", name, candidates, reasons)
            if target is not None:
                return AlertMapping(target, f"name={name}", tuple(reasons))
        if not reasons:
            reasons.append("no hint names a service of this host")
        return AlertMapping(None, None, tuple(reasons))

    # -- the hints -------------------------------------------------------------------------------
    def _explicit(self, alert: ExternalAlert) -> list[tuple[str, str, Target | None]]:
        """(label, value, target when the value names its project too) for every explicit label."""
        hints, labels = alert.target_hints, alert.labels
        found: list[tuple[str, str, Target | None]] = []
        service = hints.get("compose_service")
        if service:
            project = next((labels[k] for k in _PROJECT_LABELS if labels.get(k)), None) or next(
                (hints[k] for k in _PROJECT_LABELS if hints.get(k)), None
            )
            found.append(("compose_service label", service, self._project_service(project, service)))
        configured = [(k, v) for k, v in hints.items() if k not in _PARSER_HINTS and k not in _PROJECT_LABELS]
        for key, value in ([("service", hints["service"])] if hints.get("service") else []) + configured:
            project, _, name = value.rpartition("/")
            found.append((f"{key} label", value, self._project_service(project or None, name)))
        return found

    def _project_service(self, project: str | None, service: str) -> Target | None:
        """The compose service `project`/`service`: the one seen, or (both named explicitly, plain
        names) that service even when none of its containers is seen (it may be down and removed)."""
        if not project:
            return None
        seen = self.project_services.get(f"{project}/{service}")
        if seen:
            return next(iter(seen.values()))
        if _PLAIN_NAME.match(project) and _PLAIN_NAME.match(service):
            return Target.for_compose_service(self.host, project, service)
        return None

    def _service_named(self, name: str) -> list[tuple[str, dict[str, Target]]]:
        return [("service", self.services.get(name.rpartition("/")[2]))]

    def _host_named(self, host: str) -> list[tuple[str, dict[str, Target]]]:
        return [
            ("container", self.containers.get(host)),
            ("service", self.services.get(host)),
            ("<app>-<service>", self.dashed.get(host)),
        ]

    def _domain(self, host: str, url: str, reasons: list[str]) -> tuple[Target, str] | None:
        """The service behind the Dokploy domain `host` (the longest path prefix of `url` when the host
        has several paths)."""
        specs = [s for s in self.domains if s.host == host.rstrip(".")]
        if not specs:
            return None
        try:
            path = urlsplit(url if "://" in url else f"//{url}").path or "/"
        except ValueError:
            path = "/"
        matching = [s for s in specs if _path_prefix(s.path, path)] or specs
        longest = max(len(s.path) for s in matching)
        matching = [s for s in matching if len(s.path) == longest]
        targets: dict[str, tuple[Target, str]] = {}
        for spec in matching:
            target = self._behind(spec, reasons)
            if target is not None:
                targets[target.key()] = (target, spec.label)
        if len(targets) == 1:
            return next(iter(targets.values()))
        if len(targets) > 1:
            reasons.append(
                f"Dokploy domain {host} routes to several services: {_names(t for t, _ in targets.values())}"
            )
        return None

    def _behind(self, spec: DomainSpec, reasons: list[str]) -> Target | None:
        if not spec.app_name:
            reasons.append(f"Dokploy domain {spec.label} names no app")
            return None
        services = {
            target.rpartition(":")[0].strip()
            for target in (spec.expected_target or "").split(",")
            if target.strip()
        } - {"", "?"}
        if len(services) > 1:
            reasons.append(
                f"Dokploy domain {spec.label} routes to several services: {', '.join(sorted(services))}"
            )
            return None
        if services:
            return self._project_service(spec.app_name, services.pop())
        # a Dokploy application (not a compose): its swarm service is named after the app
        seen = self.swarm.get(spec.app_name)
        if seen:
            return next(iter(seen.values()))
        if _PLAIN_NAME.match(spec.app_name):
            return Target.for_swarm_service(self.host, spec.app_name)
        return None


def _only(
    what: str, value: str, candidates: Sequence[tuple[str, dict[str, Target]]], reasons: list[str]
) -> Target | None:
    """The one service the first non-empty candidate list names; ambiguity or nothing goes to `reasons`."""
    for kind, found in candidates:
        if len(found) == 1:
            return next(iter(found.values()))
        if len(found) > 1:
            reasons.append(f"{what} {value!r} is a {kind} name in several projects: {_names(found.values())}")
            return None
    reasons.append(f"{what} {value!r} names no service or container of this host")
    return None


def _names(targets: Iterable[Target]) -> str:
    return ", ".join(sorted(t.key() for t in targets))


def _path_prefix(prefix: str, path: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/")
