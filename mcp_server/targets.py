"""What a signal, an action, a budget or an audit row is about: one model, one key format.

A `Target` names one Docker or Dokploy object on one Docker host. Detectors put it on a signal,
tools give it to the safety policy, the audit log stores its `key()`, and budgets count by its
`workload()`. Because everyone builds targets through the named constructors below
(`Target.for_container`, `Target.for_domain`, …), a signal joins to its budgets and audit rows:
a signal about container `shop-api-1` has the key `container:local/shop-api-1`, the same key a
`restart_service(container="shop-api-1")` writes to the audit log.

Key format: `<kind>:<host>/<name>` (`compose_service:local/shop/api`, `host:local`). Fields marked
"not in the key" (container_id, container_name, dokploy_id) are for people and follow-up calls;
they change when a container is recreated, so they never change a fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from mcp_server import protected

TargetKind = Literal[
    "compose_project",  # a Compose project (Dokploy compose appName): `project`
    "compose_service",  # one service of a Compose project: `project` + `service`
    "container",  # a container: `name` (without the leading '/'); `project`/`service` when compose
    "swarm_service",  # a Swarm service (Dokploy applications, databases, stack services): `name`
    "volume",  # a Docker volume: `name`; `used_by_images` = images of containers that mount it
    "network",  # a Docker network: `name`
    "image",  # a Docker image: `name` = the reference
    "host",  # a whole Docker host (prune): `host` only
    "dokploy_resource",  # a Dokploy application/compose/database record: `name` = appName
    "dokploy_api",  # a Dokploy API procedure (generic mutations): `name` = "router.procedure"
    "domain",  # a routed domain: `name` = host name plus path, e.g. shop.example.com/api
    "path",  # a filesystem path on the Docker host (disk signals): `name` = the path
]

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SWARM_SERVICE = "com.docker.swarm.service.name"
STACK_NAMESPACE = "com.docker.stack.namespace"
SELF_LABEL = protected.SELF_LABEL  # defined with the other protected names in mcp_server.protected

_Name = Field(default=None, min_length=1, max_length=300)
_Info = Field(default=None, max_length=300)


class Target(BaseModel):
    """One object a signal or an action is about.

    `host` is the Docker host name as configured ("local" by default), so budgets, audit rows and
    signals of different machines never mix. Build it with the `for_*` constructors."""

    # the schema clients see is the dumped shape: it includes the derived `app_name`
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_mode_override="serialization")

    kind: TargetKind
    host: str = Field(default="local", min_length=1, max_length=200)
    project: str | None = _Name
    service: str | None = _Name
    name: str | None = _Name
    image: str | None = Field(default=None, max_length=500)
    labels: dict[str, str] = Field(default_factory=dict)
    used_by_images: list[str] = Field(default_factory=list, max_length=200)
    container_name: str | None = Field(
        default=None, max_length=300, description="the container seen (a swarm task's too); not in the key"
    )
    container_id: str | None = Field(
        default=None, max_length=100, description="changes on recreate; not in the key"
    )
    dokploy_id: str | None = Field(
        default=None, max_length=100, description="composeId or applicationId in Dokploy; not in the key"
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_derived(cls, data: object) -> object:
        """A dumped target carries `app_name` (derived, see below): read it back without it."""
        if isinstance(data, dict) and "app_name" in data:
            return {k: v for k, v in data.items() if k != "app_name"}
        return data

    @model_validator(mode="after")
    def _required_fields(self) -> Target:
        needs = {
            "compose_project": ("project",),
            "compose_service": ("project", "service"),
            "host": (),
        }.get(self.kind, ("name",))
        missing = [field for field in needs if getattr(self, field) is None]
        if missing:
            raise ValueError(f"a {self.kind} target needs {' and '.join(missing)}")
        return self

    # -- constructors: the one way detectors, the resolver and tools build targets ---------------
    @classmethod
    def for_container(
        cls,
        host: str,
        name: str,
        *,
        project: str | None = None,
        service: str | None = None,
        swarm_service: str | None = None,
        container_id: str | None = None,
        image: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Target:
        """A container, keyed per container (`container:local/shop-api-1`), with its compose
        project and service so `workload()` finds the service budget. A swarm task (swarm_service
        given) is keyed by its swarm service instead: task names change on every reschedule."""
        name = name.lstrip("/")
        if swarm_service:
            return cls.for_swarm_service(
                host,
                swarm_service,
                project=project,
                service=service,
                container_name=name,
                container_id=container_id,
                image=image,
                labels=labels,
            )
        return cls(
            kind="container",
            host=host,
            name=name,
            project=project,
            service=service,
            image=image,
            labels=dict(labels or {}),
            container_name=name,
            container_id=container_id,
        )

    @classmethod
    def for_compose_service(
        cls,
        host: str,
        project: str,
        service: str,
        *,
        image: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Target:
        """One service of a Compose project: `compose_service:local/shop/api`."""
        return cls(
            kind="compose_service",
            host=host,
            project=project,
            service=service,
            image=image,
            labels=dict(labels or {}),
        )

    @classmethod
    def for_swarm_service(
        cls,
        host: str,
        name: str,
        *,
        project: str | None = None,
        service: str | None = None,
        container_name: str | None = None,
        container_id: str | None = None,
        image: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Target:
        """A Swarm service (`swarm_service:local/blog_db`); `project` is the stack namespace and
        `service` the short name when it belongs to a stack."""
        return cls(
            kind="swarm_service",
            host=host,
            name=name,
            project=project,
            service=service,
            image=image,
            labels=dict(labels or {}),
            container_name=container_name,
            container_id=container_id,
        )

    @classmethod
    def for_app(cls, host: str, app_name: str, *, compose: bool = True) -> Target:
        """A whole app (Dokploy appName): a Compose project, or the Swarm service of a Dokploy
        application or database (compose=False)."""
        if compose:
            return cls(kind="compose_project", host=host, project=app_name)
        return cls(kind="swarm_service", host=host, name=app_name)

    @classmethod
    def for_dokploy(cls, host: str, app_name: str, *, dokploy_id: str | None = None) -> Target:
        """A Dokploy record (deployment target): `dokploy_resource:local/<appName>`."""
        return cls(kind="dokploy_resource", host=host, name=app_name, dokploy_id=dokploy_id)

    @classmethod
    def for_dokploy_api(cls, host: str, procedure: str, *, scope: str | None = None) -> Target:
        """A Dokploy API procedure, budgeted per Dokploy service when `scope` names one."""
        return cls(kind="dokploy_api", host=host, name=procedure, project=scope)

    @classmethod
    def for_domain(
        cls, host: str, domain: str, *, app_name: str | None = None, dokploy_id: str | None = None
    ) -> Target:
        """A routed domain, `domain` = host name plus path (`shop.example.com/api`)."""
        return cls(kind="domain", host=host, name=domain, project=app_name, dokploy_id=dokploy_id)

    @classmethod
    def for_path(cls, host: str, path: str) -> Target:
        """A filesystem path on the Docker host, e.g. the Docker data root."""
        return cls(kind="path", host=host, name=path)

    @classmethod
    def for_volume(
        cls, host: str, name: str, *, project: str | None = None, used_by_images: Iterable[str] = ()
    ) -> Target:
        """A Docker volume; `project` is the compose project that created it (not in the key)."""
        return cls(kind="volume", host=host, name=name, project=project, used_by_images=list(used_by_images))

    @classmethod
    def for_host(cls, host: str) -> Target:
        """A whole Docker host."""
        return cls(kind="host", host=host)

    # -- identity --------------------------------------------------------------------------------
    def key(self) -> str:
        """Stable identity used in signals, budgets and the audit log: `compose_service:local/shop/api`."""
        if self.kind == "host":
            return f"host:{self.host}"
        if self.kind == "compose_project":
            path = f"{self.project}"
        elif self.kind == "compose_service":
            path = f"{self.project}/{self.service}"
        elif self.kind == "dokploy_api" and self.project:
            path = f"{self.name}/{self.project}"  # budgets per procedure and Dokploy service
        elif self.kind == "path":
            path = f"{self.name}"  # keeps its leading '/': `path:local//var/lib/docker`
        else:
            path = f"{self.name}".lstrip("/")
        key = f"{self.kind}:{self.host}/{path}"
        return key if self.kind == "path" else key.rstrip("/")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def app_name(self) -> str | None:
        """The Dokploy appName this target belongs to (compose project, stack namespace or swarm
        service), or None when it belongs to no app (a loose container, the Docker root)."""
        if self.kind in ("swarm_service", "dokploy_resource"):
            return self.project or self.name
        if self.kind in ("host", "path", "network", "image", "dokploy_api"):
            return self.project if self.kind == "dokploy_api" else None
        return self.project

    def budget_key(self) -> str:
        """Identity for budgets: a container of a Compose service or Swarm service counts as that
        service, so restarting it by container name cannot dodge the service's budget."""
        if self.kind == "container":
            owner = self.workload()
            if owner is not None and owner is not self:
                return owner.key()
        return self.key()

    def workload(self) -> Target | None:
        """What a restart, stop or deploy of this object disrupts, named the same whichever tool
        acted or detector saw it: the Compose service or Swarm service a container belongs to
        (from its labels, else its project/service), a service itself, or a container of no
        service. None for everything else (projects, volumes, hosts, Dokploy objects, domains)."""
        if self.kind in ("compose_service", "swarm_service"):
            return self
        if self.kind != "container":
            return None
        # built without validation: label values come from Docker and are not ours to refuse here
        project = self.labels.get(COMPOSE_PROJECT) or self.project
        service = self.labels.get(COMPOSE_SERVICE) or self.service
        if project and service:
            return Target.model_construct(
                kind="compose_service", host=self.host, project=project, service=service
            )
        swarm = self.labels.get(SWARM_SERVICE)
        if swarm:
            return Target.model_construct(kind="swarm_service", host=self.host, name=swarm)
        return self

    def names(self) -> list[str]:
        """Every name this object goes by (own name, project, service, the names in its labels),
        lower-cased, for the protection rules."""
        found = [self.name, self.project, self.service]
        found += [self.labels.get(label) for label in (COMPOSE_PROJECT, COMPOSE_SERVICE, SWARM_SERVICE)]
        found.append(self.labels.get(STACK_NAMESPACE))
        return [n.lstrip("/").lower() for n in found if n]

    def describe(self) -> str:
        """`compose service api of project shop-a1b2c3 on host local`."""
        on = f" on host {self.host}"
        if self.kind == "compose_project":
            return f"compose project {self.project}{on}"
        if self.kind == "compose_service":
            return f"compose service {self.service} of project {self.project}{on}"
        if self.kind == "host":
            return f"Docker host {self.host}"
        if self.kind == "dokploy_api":
            scope = f" for {self.project}" if self.project else ""
            return f"Dokploy operation {self.name}{scope}"
        if self.kind == "swarm_service" and self.container_name:
            return f"swarm service {self.name} (task {self.container_name}){on}"
        if self.kind == "path":
            return f"filesystem {self.name}{on}"
        label = {"swarm_service": "swarm service", "dokploy_resource": "Dokploy service"}.get(
            self.kind, self.kind
        )
        return f"{label} {str(self.name).lstrip('/')}{on}"
