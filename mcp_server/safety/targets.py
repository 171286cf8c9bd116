"""What an action is aimed at: a Docker or Dokploy object, named the way the policy needs.

A tool fills in what it knows (from inspect: image and labels make protection checks exact). The
`key()` identifies the target in budgets and the audit log, `describe()` names it for people.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcp_server import protected

TargetKind = Literal[
    "compose_project",  # a Compose project (Dokploy compose appName): `project`
    "compose_service",  # one service of a Compose project: `project` + `service`
    "container",  # a container: `name` (without the leading '/')
    "swarm_service",  # a Swarm service (Dokploy applications and databases): `name`
    "volume",  # a Docker volume: `name`; `used_by_images` = images of containers that mount it
    "network",  # a Docker network: `name`
    "image",  # a Docker image: `name` = the reference
    "host",  # a whole Docker host (prune): `host` only
    "dokploy_resource",  # a Dokploy application/compose/database record: `name` = appName
    "dokploy_api",  # a Dokploy API procedure (generic mutations): `name` = "router.procedure"
]

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
SWARM_SERVICE = "com.docker.swarm.service.name"
STACK_NAMESPACE = "com.docker.stack.namespace"
SELF_LABEL = protected.SELF_LABEL  # defined with the other protected names in mcp_server.protected

_Name = Field(default=None, min_length=1, max_length=300)


class Target(BaseModel):
    """One object an action reads or changes.

    `host` is the Docker host name as configured ("local" by default), so budgets and audit rows of
    different machines never mix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TargetKind
    host: str = Field(default="local", min_length=1, max_length=200)
    project: str | None = _Name
    service: str | None = _Name
    name: str | None = _Name
    image: str | None = Field(default=None, max_length=500)
    labels: dict[str, str] = Field(default_factory=dict)
    used_by_images: list[str] = Field(default_factory=list, max_length=200)

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

    def key(self) -> str:
        """Stable identity used in the audit log: `compose_service:local/shop-a1b2c3/api`."""
        if self.kind == "compose_project":
            path = f"{self.project}"
        elif self.kind == "compose_service":
            path = f"{self.project}/{self.service}"
        elif self.kind == "host":
            path = ""
        elif self.kind == "dokploy_api" and self.project:
            path = f"{self.name}/{self.project}"  # budgets per procedure and Dokploy service
        else:
            path = f"{self.name}".lstrip("/")
        return f"{self.kind}:{self.host}/{path}".rstrip("/")

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
        acted: the Compose service or Swarm service a container belongs to (from its labels), a
        service itself, or a container of no service. None for everything else (projects,
        volumes, hosts, Dokploy objects): their services come from the request's `affected`."""
        if self.kind in ("compose_service", "swarm_service"):
            return self
        if self.kind != "container":
            return None
        # built without validation: label values come from Docker and are not ours to refuse here
        project, service = self.labels.get(COMPOSE_PROJECT), self.labels.get(COMPOSE_SERVICE)
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
        label = {"swarm_service": "swarm service", "dokploy_resource": "Dokploy service"}.get(
            self.kind, self.kind
        )
        return f"{label} {str(self.name).lstrip('/')}{on}"
