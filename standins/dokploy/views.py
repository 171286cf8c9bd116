"""Read models: the nested shapes Dokploy's query procedures return (relations joined in).

Each function mirrors one drizzle `findFirst/findMany({with: ...})` of Dokploy v0.30.2, with the
same keys and key order as the captured responses.
"""

from __future__ import annotations

from typing import Any

from .state import DB_KINDS, Database, Row

_DB_ORDER = ("mariadb", "mongo", "mysql", "postgres", "redis")


def compose_nested(db: Database, compose: Row) -> Row:
    """findComposeById: the row with environment.project, deployments, mounts, domains, providers."""
    out = dict(compose)
    out["environment"] = db.environment_with_project(compose["environmentId"])
    out["deployments"] = [dict(d) for d in db.deployments_of(compose_id=compose["composeId"])]
    out["mounts"] = [dict(m) for m in db.mounts_of("compose", compose["composeId"])]
    out["domains"] = [dict(d) for d in db.domains_of(compose_id=compose["composeId"])]
    out.update(
        {"github": None, "gitlab": None, "bitbucket": None, "gitea": None, "server": None, "backups": []}
    )
    return out


def compose_one(db: Database, compose: Row) -> Row:
    """compose.one: the nested row plus the git-provider access flags."""
    return {**compose_nested(db, compose), "hasGitProviderAccess": True, "unauthorizedProvider": None}


def application_nested(db: Database, app: Row) -> Row:
    """findApplicationById: the row with its relations (what start/stop/delete return)."""
    out = dict(app)
    out["environment"] = db.environment_with_project(app["environmentId"])
    out["domains"] = [dict(d) for d in db.domains_of(application_id=app["applicationId"])]
    out["deployments"] = [dict(d) for d in db.deployments_of(application_id=app["applicationId"])]
    out["mounts"] = [dict(m) for m in db.mounts_of("application", app["applicationId"])]
    out.update(
        {
            "redirects": [],
            "security": [],
            "ports": [],
            "gitlab": None,
            "github": None,
            "bitbucket": None,
            "gitea": None,
            "server": None,
            "previewDeployments": [],
            "registry": None,
            "buildRegistry": None,
            "rollbackRegistry": None,
        }
    )
    return out


def application_one(db: Database, app: Row) -> Row:
    return {**application_nested(db, app), "hasGitProviderAccess": True, "unauthorizedProvider": None}


def database_nested(db: Database, kind: str, row: Row) -> Row:
    """find<Db>ById: the row with environment.project, mounts, server and backups."""
    out = dict(row)
    out["environment"] = db.environment_with_project(row["environmentId"])
    out["mounts"] = [dict(m) for m in db.mounts_of(kind, row[f"{kind}Id"])]
    out["server"] = None
    out["backups"] = []
    return out


def _service_brief(kind: str, row: Row, with_app_name: bool) -> Row:
    out: Row = {"name": row["name"], "description": row["description"]}
    if with_app_name:
        out["appName"] = row["appName"]
    out.update({"createdAt": row["createdAt"], "serverId": row["serverId"]})
    if kind == "compose":
        out.update({"composeId": row["composeId"], "composeStatus": row["composeStatus"]})
    elif kind == "applications":
        out.update(
            {
                "applicationStatus": row["applicationStatus"],
                "applicationId": row["applicationId"],
                "icon": row["icon"],
            }
        )
    else:
        out.update({"applicationStatus": row["applicationStatus"], f"{kind}Id": row[f"{kind}Id"]})
    out["server"] = None
    return out


def project_one(db: Database, project: Row) -> Row:
    """project.one: the project with every environment and its services (with appName)."""
    out = dict(project)
    envs = []
    for env in db.environments.values():
        if env["projectId"] != project["projectId"]:
            continue
        services = db.services_in(env["environmentId"])
        item = dict(env)
        item["applications"] = [_service_brief("applications", r, True) for r in services["applications"]]
        item["compose"] = [_service_brief("compose", r, True) for r in services["compose"]]
        item["libsql"] = []
        for kind in _DB_ORDER:
            item[kind] = [_service_brief(kind, r, True) for r in services[kind]]
        envs.append(item)
    out["environments"] = envs
    out["projectTags"] = []
    return out


def _env_services_short(db: Database, env: Row) -> Row:
    services = db.services_in(env["environmentId"])
    out: Row = {"name": env["name"], "environmentId": env["environmentId"], "isDefault": env["isDefault"]}
    out["applications"] = [
        {"applicationId": r["applicationId"], "name": r["name"], "applicationStatus": r["applicationStatus"]}
        for r in services["applications"]
    ]
    for kind in _DB_ORDER:
        out[kind] = [{f"{kind}Id": r[f"{kind}Id"]} for r in services[kind]]
    out["compose"] = [
        {"composeId": r["composeId"], "name": r["name"], "composeStatus": r["composeStatus"]}
        for r in services["compose"]
    ]
    out["libsql"] = []
    return out


def project_all(db: Database) -> list[Row]:
    """project.all (owner view): newest project first, services reduced to ids/names/status."""
    out = []
    for project in reversed(list(db.projects.values())):
        item = dict(project)
        item["environments"] = [
            _env_services_short(db, e)
            for e in db.environments.values()
            if e["projectId"] == project["projectId"]
        ]
        item["projectTags"] = []
        out.append(item)
    return out


def _env_detail(db: Database, env: Row, with_app_name: bool, with_env_fields: bool) -> Row:
    services = db.services_in(env["environmentId"])
    out: Row = {
        "name": env["name"],
        "description": env["description"],
        "environmentId": env["environmentId"],
        "isDefault": env["isDefault"],
    }
    if with_env_fields:
        out.update({"projectId": env["projectId"], "env": env["env"]})
    out["applications"] = [
        _env_service(db, "applications", r, with_app_name) for r in services["applications"]
    ]
    for kind in _DB_ORDER:
        out[kind] = [_env_service(db, kind, r, with_app_name) for r in services[kind]]
    out["compose"] = [_env_service(db, "compose", r, with_app_name) for r in services["compose"]]
    out["libsql"] = []
    out["project"] = dict(db.project(env["projectId"]))
    return out


def _env_service(db: Database, kind: str, row: Row, with_app_name: bool) -> Row:
    id_key = {"applications": "applicationId", "compose": "composeId"}.get(kind, f"{kind}Id")
    status_key = "composeStatus" if kind == "compose" else "applicationStatus"
    out: Row = (
        {id_key: row[id_key], "name": row["name"]}
        if kind == "compose"
        else {"name": row["name"], id_key: row[id_key]}
    )
    if with_app_name:
        out["appName"] = row["appName"]
    out.update(
        {
            "createdAt": row["createdAt"],
            status_key: row[status_key],
            "description": row["description"],
            "serverId": row["serverId"],
        }
    )
    if kind in ("applications", "compose"):
        out["icon"] = row["icon"]
    out["server"] = None
    return out


def environment_one(db: Database, env: Row) -> Row:
    """environment.one: services without appName, plus the project row."""
    return _env_detail(db, env, with_app_name=False, with_env_fields=True)


def environments_by_project(db: Database, project_id: str) -> list[Row]:
    """environment.byProjectId: oldest first, services with appName."""
    return [
        _env_detail(db, e, with_app_name=True, with_env_fields=False)
        for e in db.environments.values()
        if e["projectId"] == project_id
    ]


def overview_services(db: Database) -> list[Row]:
    """overview.services: every service of the organization, newest first."""
    rows: list[tuple[str, Row]] = [("application", a) for a in db.applications.values()]
    rows += [("compose", c) for c in db.compose.values()]
    for kind in DB_KINDS:
        rows += [(kind, r) for r in db.databases[kind].values()]
    out = []
    for kind, row in rows:
        env = db.environment(row["environmentId"])
        project = db.project(env["projectId"])
        id_key = {"application": "applicationId", "compose": "composeId"}.get(kind, f"{kind}Id")
        status = row["composeStatus"] if kind == "compose" else row["applicationStatus"]
        if kind == "compose":
            deployments = db.deployments_of(compose_id=row["composeId"])
        elif kind == "application":
            deployments = db.deployments_of(application_id=row["applicationId"])
        else:
            deployments = []
        out.append(
            {
                "id": row[id_key],
                "name": row["name"],
                "appName": row["appName"],
                "status": status,
                "createdAt": row["createdAt"],
                "serverId": row["serverId"],
                "serverName": None,
                "projectId": project["projectId"],
                "projectName": project["name"],
                "environmentId": env["environmentId"],
                "environmentName": env["name"],
                "icon": row.get("icon"),
                "type": kind,
                "lastDeployAt": deployments[-1]["createdAt"] if deployments else None,
            }
        )
    out.sort(key=lambda r: r["createdAt"], reverse=True)
    return out


def overview_domains(db: Database) -> list[Row]:
    """overview.domains: every domain with its owning service and project."""
    out = []
    for domain in db.domains.values():
        if domain["composeId"]:
            owner, owner_type = db.compose.get(domain["composeId"]), "compose"
        else:
            owner, owner_type = db.applications.get(domain["applicationId"] or ""), "application"
        if owner is None:
            continue
        env = db.environment(owner["environmentId"])
        project = db.project(env["projectId"])
        out.append(
            {
                key: domain[key]
                for key in (
                    "domainId",
                    "host",
                    "path",
                    "port",
                    "customEntrypoint",
                    "https",
                    "certificateType",
                    "createdAt",
                    "enabled",
                    "domainType",
                )
            }
            | {
                "serviceOwnerId": owner[f"{owner_type}Id"],
                "serviceOwnerType": owner_type,
                "serviceName": owner["name"],
                "projectId": project["projectId"],
                "projectName": project["name"],
                "environmentId": env["environmentId"],
                "environmentName": env["name"],
            }
        )
    return out


def deployment_centralized(db: Database, deployment: Row) -> Row:
    """A deployment with its application/compose summary (deployment.allCentralized)."""
    out: dict[str, Any] = dict(deployment)
    out["application"] = None
    out["compose"] = None
    for key, table, id_key in (
        ("application", db.applications, "applicationId"),
        ("compose", db.compose, "composeId"),
    ):
        owner = table.get(deployment[id_key] or "")
        if owner is None:
            continue
        env = db.environment(owner["environmentId"])
        project = db.project(env["projectId"])
        out[key] = {
            id_key: owner[id_key],
            "name": owner["name"],
            "appName": owner["appName"],
            "icon": owner["icon"],
            "environment": {
                "environmentId": env["environmentId"],
                "name": env["name"],
                "project": {"projectId": project["projectId"], "name": project["name"]},
            },
            "server": None,
        }
        if key == "application":
            out[key]["buildServer"] = None
    out["server"] = None
    out["buildServer"] = None
    return out
