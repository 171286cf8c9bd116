"""The stand-in's in-memory database: Dokploy's tables as dicts of rows, in insertion order.

Rows are plain dicts with the same keys, key order and defaults as Dokploy v0.30.2 returns them
(taken from the captured responses in `templates/rows.json`). Finders raise the same NOT_FOUND
errors as Dokploy's services (`Compose not found`, ...).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from .errors import not_found
from .ids import build_app_name, nanoid, now_iso, random_password

Row = dict[str, Any]

DB_KINDS = ("postgres", "mysql", "mariadb", "mongo", "redis")
# how each kind names itself in "<Label> not found" (Dokploy spells MySQL `MySql` there)
DB_LABELS = {
    "postgres": "Postgres",
    "mysql": "MySql",
    "mariadb": "Mariadb",
    "mongo": "Mongo",
    "redis": "Redis",
}
DB_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306, "mongo": 27017, "redis": 6379}

# column order of the database tables (Dokploy's update schema order, plus serverId)
_DB_SPECIFIC: dict[str, tuple[str, ...]] = {
    "postgres": ("databaseName", "databaseUser", "databasePassword"),
    "mysql": ("databaseName", "databaseUser", "databasePassword", "databaseRootPassword"),
    "mariadb": ("databaseName", "databaseUser", "databasePassword", "databaseRootPassword"),
    "mongo": ("databaseUser", "databasePassword"),
    "redis": ("databasePassword",),
}
_SWARM_COLUMNS = (
    "healthCheckSwarm",
    "restartPolicySwarm",
    "placementSwarm",
    "updateConfigSwarm",
    "rollbackConfigSwarm",
    "modeSwarm",
    "labelsSwarm",
    "networkSwarm",
    "stopGracePeriodSwarm",
    "endpointSpecSwarm",
    "ulimitsSwarm",
)


def _templates() -> dict[str, Row]:
    text = resources.files(__package__).joinpath("templates/rows.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


TEMPLATES = _templates()


def template(name: str) -> Row:
    """A fresh deep copy of a captured row shape (ids and names set to None)."""
    return copy.deepcopy(TEMPLATES[name])


def db_mount_path(kind: str, image: str) -> str:
    """Where a database keeps its data (Dokploy's getMountPath; postgres 18+ moved it)."""
    if kind == "postgres":
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        major = tag.split(".", 1)[0].split("-", 1)[0]
        if major.isdigit() and int(major) >= 18:
            return f"/var/lib/postgresql/{major}/docker"
        return "/var/lib/postgresql/data"
    return {"mysql": "/var/lib/mysql", "mariadb": "/var/lib/mysql", "mongo": "/data/db", "redis": "/data"}[
        kind
    ]


class Database:
    """All rows of one stand-in instance. Only touched from the event loop thread."""

    def __init__(self) -> None:
        self.organization_id = nanoid()
        self.user_id = nanoid(32)
        self.member_id = nanoid()
        self.created_at = now_iso()
        self.projects: dict[str, Row] = {}
        self.environments: dict[str, Row] = {}
        self.compose: dict[str, Row] = {}
        self.applications: dict[str, Row] = {}
        self.databases: dict[str, dict[str, Row]] = {kind: {} for kind in DB_KINDS}
        self.deployments: dict[str, Row] = {}
        self.domains: dict[str, Row] = {}
        self.mounts: dict[str, Row] = {}
        self._domain_key = 0

    # -- creation ---------------------------------------------------------------------
    def add_project(self, name: str, description: str | None, env: str) -> tuple[Row, Row]:
        project: Row = {
            "projectId": nanoid(),
            "name": name,
            "description": description,
            "createdAt": now_iso(),
            "organizationId": self.organization_id,
            "env": env,
        }
        self.projects[project["projectId"]] = project
        environment = self.add_environment(project["projectId"], "production", "Production environment", True)
        return project, environment

    def add_environment(self, project_id: str, name: str, description: str | None, is_default: bool) -> Row:
        row: Row = {
            "environmentId": nanoid(),
            "name": name,
            "description": description,
            "createdAt": now_iso(),
            "env": "",
            "projectId": project_id,
            "isDefault": is_default,
        }
        self.environments[row["environmentId"]] = row
        return row

    def add_compose(self, data: dict[str, Any]) -> Row:
        row = template("compose")
        row.update(
            {
                "composeId": nanoid(),
                "name": data["name"],
                "appName": build_app_name("compose", data.get("appName")),
                "refreshToken": nanoid(),
                "createdAt": now_iso(),
                "environmentId": data["environmentId"],
            }
        )
        for key in ("description", "composeType", "serverId", "composeFile", "sourceType"):
            if key in data:
                row[key] = data[key]
        self.compose[row["composeId"]] = row
        return row

    def add_application(self, data: dict[str, Any]) -> Row:
        row = template("application")
        row.update(
            {
                "applicationId": nanoid(),
                "name": data["name"],
                "appName": build_app_name("app", data.get("appName")),
                "description": data.get("description"),
                "refreshToken": nanoid(),
                "createdAt": now_iso(),
                "environmentId": data["environmentId"],
            }
        )
        for key in ("serverId", "sourceType"):
            if key in data:
                row[key] = data[key]
        self.applications[row["applicationId"]] = row
        return row

    def add_database(self, kind: str, data: dict[str, Any]) -> Row:
        row: Row = {
            f"{kind}Id": nanoid(),
            "name": data["name"],
            "appName": build_app_name(kind, data.get("appName")),
        }
        for column in _DB_SPECIFIC[kind]:
            row[column] = data.get(column, random_password() if column == "databaseRootPassword" else None)
        row.update(
            {
                "description": data.get("description"),
                "dockerImage": data["dockerImage"],
                "command": None,
                "args": None,
                "env": None,
                "memoryReservation": None,
                "externalPort": None,
                "memoryLimit": None,
                "cpuReservation": None,
                "cpuLimit": None,
                "applicationStatus": "idle",
            }
        )
        row.update(dict.fromkeys(_SWARM_COLUMNS))
        row.update(
            {
                "replicas": 1,
                "createdAt": now_iso(),
                "environmentId": data["environmentId"],
                "serverId": data.get("serverId"),
                "networkIds": [],
                "detachDokployNetwork": False,
            }
        )
        if kind == "mongo":
            row["replicaSets"] = bool(data.get("replicaSets") or False)
        self.databases[kind][row[f"{kind}Id"]] = row
        self.add_mount(
            kind, row[f"{kind}Id"], f"{row['appName']}-data", db_mount_path(kind, row["dockerImage"])
        )
        return row

    def add_mount(self, service_type: str, service_id: str, volume: str, mount_path: str) -> Row:
        row: Row = {
            "mountId": nanoid(),
            "type": "volume",
            "hostPath": None,
            "volumeName": volume,
            "filePath": None,
            "content": None,
            "serviceType": service_type,
            "mountPath": mount_path,
        }
        for owner in ("application", "postgres", "mariadb", "mongo", "mysql", "redis", "compose", "libsql"):
            row[f"{owner}Id"] = service_id if owner == service_type else None
        self.mounts[row["mountId"]] = row
        return row

    def add_deployment(
        self,
        *,
        title: str,
        description: str,
        log_path: str,
        compose_id: str | None = None,
        application_id: str | None = None,
    ) -> Row:
        row = template("deployment")
        stamp = now_iso()
        row.update(
            {
                "deploymentId": nanoid(),
                "title": title,
                "description": description,
                "status": "running",
                "logPath": log_path,
                "applicationId": application_id,
                "composeId": compose_id,
                "createdAt": stamp,
                "startedAt": stamp,
                "finishedAt": None,
            }
        )
        self.deployments[row["deploymentId"]] = row
        return row

    def add_domain(self, data: dict[str, Any]) -> Row:
        row = template("domain")
        self._domain_key += 1
        row.update(
            {
                "domainId": nanoid(),
                "uniqueConfigKey": self._domain_key,
                "createdAt": now_iso(),
                "domainType": "application",
                "port": 3000,
            }
        )
        for key, value in data.items():
            if key in row and value is not None:
                row[key] = value
        for key in ("serviceName", "composeId", "applicationId", "customEntrypoint", "customCertResolver"):
            row[key] = data.get(key)
        self.domains[row["domainId"]] = row
        return row

    # -- finders (Dokploy's find*ById) -------------------------------------------------
    def project(self, project_id: str) -> Row:
        return _find(self.projects, project_id, "Project not found")

    def environment(self, environment_id: str) -> Row:
        return _find(self.environments, environment_id, "Environment not found")

    def compose_row(self, compose_id: str) -> Row:
        return _find(self.compose, compose_id, "Compose not found")

    def application(self, application_id: str) -> Row:
        return _find(self.applications, application_id, "Application not found")

    def database(self, kind: str, database_id: str) -> Row:
        return _find(self.databases[kind], database_id, f"{DB_LABELS[kind]} not found")

    def deployment(self, deployment_id: str) -> Row:
        return _find(self.deployments, deployment_id, "Deployment not found")

    def domain(self, domain_id: str) -> Row:
        return _find(self.domains, domain_id, "Domain not found")

    # -- relations ---------------------------------------------------------------------
    def deployments_of(
        self, *, compose_id: str | None = None, application_id: str | None = None
    ) -> list[Row]:
        """The service's deployments, oldest first (as a relation); reverse for 'newest first'."""
        return [
            d
            for d in self.deployments.values()
            if (compose_id and d["composeId"] == compose_id)
            or (application_id and d["applicationId"] == application_id)
        ]

    def domains_of(self, *, compose_id: str | None = None, application_id: str | None = None) -> list[Row]:
        return [
            d
            for d in self.domains.values()
            if (compose_id and d["composeId"] == compose_id)
            or (application_id and d["applicationId"] == application_id)
        ]

    def mounts_of(self, service_type: str, service_id: str) -> list[Row]:
        return [m for m in self.mounts.values() if m.get(f"{service_type}Id") == service_id]

    def services_in(self, environment_id: str) -> dict[str, list[Row]]:
        """Rows of every service type that lives in one environment."""
        out: dict[str, list[Row]] = {
            "applications": [a for a in self.applications.values() if a["environmentId"] == environment_id],
            "compose": [c for c in self.compose.values() if c["environmentId"] == environment_id],
        }
        for kind in DB_KINDS:
            out[kind] = [r for r in self.databases[kind].values() if r["environmentId"] == environment_id]
        out["libsql"] = []
        return out

    def environment_with_project(self, environment_id: str) -> Row:
        env = dict(self.environment(environment_id))
        env["project"] = dict(self.project(env["projectId"]))
        return env

    # -- deletion (DB only: Dokploy's cascades never touch Docker) -------------------------
    def delete_service_rows(self, service_type: str, service_id: str) -> None:
        """Drop a service's deployments, domains and mounts (the FK cascades)."""
        key = {"compose": "composeId", "application": "applicationId"}.get(service_type)
        if key:
            for table in (self.deployments, self.domains):
                for row_id in [i for i, r in table.items() if r[key] == service_id]:
                    del table[row_id]
        for mount_id in [m["mountId"] for m in self.mounts_of(service_type, service_id)]:
            del self.mounts[mount_id]

    def delete_environment(self, environment_id: str) -> None:
        for service_type, rows in self.services_in(environment_id).items():
            for row in rows:
                self.delete_service(service_type, row)
        self.environments.pop(environment_id, None)

    def delete_service(self, service_type: str, row: Row) -> None:
        kind = {"applications": "application"}.get(service_type, service_type)
        row_id = row[f"{kind}Id"]
        table = {"application": self.applications, "compose": self.compose}.get(kind)
        if table is None:
            table = self.databases[kind]
        table.pop(row_id, None)
        self.delete_service_rows(kind, row_id)

    def delete_project(self, project_id: str) -> None:
        for env_id in [
            e["environmentId"] for e in self.environments.values() if e["projectId"] == project_id
        ]:
            self.delete_environment(env_id)
        self.projects.pop(project_id, None)


def _find(table: dict[str, Row], row_id: str, message: str) -> Row:
    row = table.get(row_id)
    if row is None:
        raise not_found(message)
    return row
