"""Typed views of Dokploy's answers (v0.30). Tolerant: unknown fields are kept, not rejected.

Field names are snake_case in Python and camelCase on the wire (`compose_id` ↔ `composeId`).
Only the fields an operator needs are declared; the rest stay available in `model_extra`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

ServiceStatus = Literal["idle", "running", "done", "error"]
DeploymentStatus = Literal["running", "done", "error", "cancelled"]
DatabaseKind = Literal["postgres", "mysql", "mariadb", "mongo", "redis"]
DATABASE_KINDS: tuple[DatabaseKind, ...] = ("postgres", "mysql", "mariadb", "mongo", "redis")


class DokployModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=False)


class Project(DokployModel):
    project_id: str
    name: str
    description: str | None = None
    created_at: str | None = None
    organization_id: str | None = None
    env: str | None = None
    environments: list[Environment] = Field(default_factory=list)


class ServiceRef(DokployModel):
    """A service as listed inside a project/environment (shape varies by endpoint)."""

    name: str | None = None
    app_name: str | None = None
    application_status: ServiceStatus | None = None
    compose_status: ServiceStatus | None = None


class Environment(DokployModel):
    environment_id: str
    name: str
    description: str | None = None
    project_id: str | None = None
    is_default: bool | None = None
    env: str | None = None
    applications: list[dict[str, Any]] = Field(default_factory=list)
    compose: list[dict[str, Any]] = Field(default_factory=list)
    postgres: list[dict[str, Any]] = Field(default_factory=list)
    mysql: list[dict[str, Any]] = Field(default_factory=list)
    mariadb: list[dict[str, Any]] = Field(default_factory=list)
    mongo: list[dict[str, Any]] = Field(default_factory=list)
    redis: list[dict[str, Any]] = Field(default_factory=list)


class Deployment(DokployModel):
    deployment_id: str
    title: str | None = None
    description: str | None = None
    status: DeploymentStatus | None = None
    log_path: str | None = None
    application_id: str | None = None
    compose_id: str | None = None
    server_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error_message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "error", "cancelled")


class Domain(DokployModel):
    domain_id: str
    host: str
    https: bool = False
    port: int | None = None
    path: str | None = None
    service_name: str | None = None
    domain_type: str | None = None
    compose_id: str | None = None
    application_id: str | None = None
    certificate_type: str | None = None
    enabled: bool | None = None


class Compose(DokployModel):
    compose_id: str
    name: str
    app_name: str
    description: str | None = None
    env: str | None = None
    compose_file: str = ""
    source_type: str | None = None
    compose_type: Literal["docker-compose", "stack"] = "docker-compose"
    compose_status: ServiceStatus = "idle"
    compose_path: str | None = None
    environment_id: str | None = None
    server_id: str | None = None
    created_at: str | None = None
    deployments: list[Deployment] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)


class Application(DokployModel):
    application_id: str
    name: str
    app_name: str
    description: str | None = None
    env: str | None = None
    application_status: ServiceStatus = "idle"
    source_type: str | None = None
    docker_image: str | None = None
    memory_limit: str | None = None
    memory_reservation: str | None = None
    cpu_limit: str | None = None
    command: str | None = None
    replicas: int | None = None
    environment_id: str | None = None
    server_id: str | None = None
    created_at: str | None = None
    deployments: list[Deployment] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)


class Database(DokployModel):
    """Any of the five database kinds; the id field's name depends on the kind."""

    kind: DatabaseKind | None = None
    name: str
    app_name: str
    docker_image: str | None = None
    application_status: ServiceStatus = "idle"
    memory_limit: str | None = None
    external_port: int | None = None
    environment_id: str | None = None
    server_id: str | None = None
    created_at: str | None = None

    def id_for(self, kind: DatabaseKind) -> str:
        value = (self.model_extra or {}).get(f"{kind}Id")
        return str(value) if value else ""


class OverviewService(DokployModel):
    """One row of `overview.services`: the best single inventory call (every service + appName)."""

    id: str
    type: str
    name: str
    app_name: str
    status: ServiceStatus | None = None
    created_at: str | None = None
    server_id: str | None = None
    server_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    environment_id: str | None = None
    environment_name: str | None = None
    last_deploy_at: str | None = None


class DockerContainer(DokployModel):
    container_id: str
    name: str
    image: str | None = None
    ports: str | None = None
    state: str | None = None
    status: str | None = None
    server_id: str | None = None

    @property
    def is_placeholder(self) -> bool:
        """Dokploy answers one fake row instead of [] when there are no containers."""
        return self.container_id == "No container id"


class DockerEvents(DokployModel):
    events: list[dict[str, Any]] = Field(default_factory=list)
    fetched_at: str | None = None


class Server(DokployModel):
    server_id: str
    name: str
    ip_address: str | None = None
    port: int | None = None
    username: str | None = None
    server_type: str | None = None


class QueuedDeployment(DokployModel):
    """Answer of compose.deploy/redeploy: queued; the deployment row appears a moment later."""

    success: bool = True
    message: str = ""
    compose_id: str | None = None


Project.model_rebuild()
