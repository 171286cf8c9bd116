"""Swarm services for applications and databases, built from the DB row like Dokploy does.

Applications: `mechanizeDockerContainer` (create, or update with ForceUpdate+1), image = dockerImage
for docker sources, networks `dokploy-network`, UpdateConfig start-first/rollback. Databases: the
`build<Db>` functions, with the data volume `<appName>-data` and dnsrr endpoint mode.
"""

from __future__ import annotations

from typing import Any

from .errors import command_failed
from .state import DB_PORTS, Row, db_mount_path
from .world import World


def _errors() -> Any:
    import docker.errors  # imported lazily: the SDK costs ~0.5 s and API-only use never needs it

    return docker.errors


def _resources(row: Row) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    reservations: dict[str, Any] = {}
    if row.get("memoryLimit"):
        limits["MemoryBytes"] = int(row["memoryLimit"])
    if row.get("cpuLimit"):
        limits["NanoCPUs"] = int(float(row["cpuLimit"]))
    if row.get("memoryReservation"):
        reservations["MemoryBytes"] = int(row["memoryReservation"])
    if row.get("cpuReservation"):
        reservations["NanoCPUs"] = int(float(row["cpuReservation"]))
    return {"Limits": limits, "Reservations": reservations}


def _networks(row: Row) -> list[dict[str, Any]]:
    if row.get("networkSwarm"):
        return list(row["networkSwarm"])
    return [] if row.get("detachDokployNetwork") else [{"Target": "dokploy-network"}]


_NS = 1_000_000_000
# The spec as the engine stores it for a Dokploy-created service (captured `docker service inspect`):
# the CLI-style defaults are spelled out so the inspect output matches the capture field for field.
_DEFAULT_RESTART = {"Condition": "any", "Delay": 5 * _NS, "MaxAttempts": 0}


def _update_config(row_value: Any, order: str, failure_action: str) -> dict[str, Any]:
    if row_value:
        return dict(row_value)
    return {
        "Parallelism": 1,
        "FailureAction": failure_action,
        "Monitor": 5 * _NS,
        "MaxFailureRatio": 0,
        "Order": order,
    }


def _common_spec(world: World, row: Row, container: dict[str, Any], update_order: str) -> dict[str, Any]:
    if row.get("healthCheckSwarm"):
        container["HealthCheck"] = row["healthCheckSwarm"]
    grace = row.get("stopGracePeriodSwarm")
    container["StopGracePeriod"] = grace if grace is not None else container.get("StopGracePeriod", 10 * _NS)
    container["DNSConfig"] = {}
    if row.get("ulimitsSwarm"):
        container["Ulimits"] = row["ulimitsSwarm"]
    if row.get("labelsSwarm"):
        container["Labels"] = row["labelsSwarm"]
    return {
        "Name": row["appName"],
        "Labels": dict(world.config.service_labels),
        "TaskTemplate": {
            "ContainerSpec": container,
            "Networks": _networks(row),
            "RestartPolicy": row.get("restartPolicySwarm") or dict(_DEFAULT_RESTART),
            "Placement": row.get("placementSwarm") or {},
            "Resources": _resources(row),
        },
        "Mode": row.get("modeSwarm") or {"Replicated": {"Replicas": row.get("replicas", 1)}},
        "UpdateConfig": _update_config(row.get("updateConfigSwarm"), update_order, "rollback"),
        "RollbackConfig": _update_config(row.get("rollbackConfigSwarm"), update_order, "pause"),
    }


def application_spec(world: World, app: Row) -> dict[str, Any]:
    """The ServiceSpec Dokploy sends for an application (docker source: image = dockerImage)."""
    image = (
        (app["dockerImage"] or "ERROR-NO-IMAGE-PROVIDED")
        if app["sourceType"] == "docker"
        else f"{app['appName']}:latest"
    )
    container: dict[str, Any] = {"Image": image, "Env": _env_list(app["env"]), "Mounts": []}
    if app.get("command"):
        container["Command"] = app["command"].split(" ")
    if app.get("args"):
        container["Args"] = list(app["args"])
    spec = _common_spec(world, app, container, "start-first")
    spec["EndpointSpec"] = app.get("endpointSpecSwarm") or {"Mode": "vip"}
    return spec


_DB_ENV = {
    "postgres": lambda r: [
        f"POSTGRES_DB={r['databaseName']}",
        f"POSTGRES_USER={r['databaseUser']}",
        f"POSTGRES_PASSWORD={r['databasePassword']}",
    ],
    "mysql": lambda r: [
        f"MYSQL_DATABASE={r['databaseName']}",
        f"MYSQL_USER={r['databaseUser']}",
        f"MYSQL_PASSWORD={r['databasePassword']}",
        f"MYSQL_ROOT_PASSWORD={r['databaseRootPassword']}",
    ],
    "mariadb": lambda r: [
        f"MARIADB_DATABASE={r['databaseName']}",
        f"MARIADB_USER={r['databaseUser']}",
        f"MARIADB_PASSWORD={r['databasePassword']}",
        f"MARIADB_ROOT_PASSWORD={r['databaseRootPassword']}",
    ],
    "mongo": lambda r: [
        f"MONGO_INITDB_ROOT_USERNAME={r['databaseUser']}",
        f"MONGO_INITDB_ROOT_PASSWORD={r['databasePassword']}",
    ],
    "redis": lambda r: [f"REDIS_PASSWORD={r['databasePassword']}"],
}


def database_spec(world: World, kind: str, row: Row) -> dict[str, Any]:
    """The ServiceSpec of a database service (volume `<appName>-data`, dnsrr, stop-first updates)."""
    container: dict[str, Any] = {
        "Image": row["dockerImage"],
        "Env": [*_DB_ENV[kind](row), *_env_list(row["env"])],
        "Mounts": [
            {
                "Type": "volume",
                "Source": f"{row['appName']}-data",
                "Target": db_mount_path(kind, row["dockerImage"]),
            }
        ],
    }
    if row.get("command"):
        container["Command"] = ["/bin/sh"]
        container["Args"] = ["-c", row["command"]]
    elif kind == "redis":
        container["Command"] = ["/bin/sh"]
        container["Args"] = ["-c", f"redis-server --requirepass {row['databasePassword']}"]
    if row.get("args"):
        container["Args"] = list(row["args"])
    if kind == "postgres":
        container["StopGracePeriod"] = 30 * _NS
    spec = _common_spec(world, row, container, "stop-first")
    ports = []
    if row.get("externalPort"):
        ports = [
            {
                "Protocol": "tcp",
                "TargetPort": DB_PORTS[kind],
                "PublishedPort": row["externalPort"],
                "PublishMode": "host",
            }
        ]
    spec["EndpointSpec"] = row.get("endpointSpecSwarm") or {"Mode": "dnsrr", "Ports": ports}
    return spec


def _env_list(env: str | None) -> list[str]:
    return [line for line in (env or "").splitlines() if line.strip() and not line.lstrip().startswith("#")]


def deploy_service(world: World, spec: dict[str, Any]) -> None:
    """Create the service, or update it in place with ForceUpdate+1 (blocking; run in a thread)."""
    api = world.docker().api
    name = spec["Name"]
    world.swarm_services.add(name)
    try:
        current = api.inspect_service(name)
    except _errors().NotFound:
        api.create_service(
            spec["TaskTemplate"],
            name=name,
            labels=spec["Labels"],
            mode=spec["Mode"],
            update_config=spec["UpdateConfig"],
            rollback_config=spec["RollbackConfig"],
            endpoint_spec=spec["EndpointSpec"],
        )
        return
    template = dict(spec["TaskTemplate"])
    template["ForceUpdate"] = int(current["Spec"]["TaskTemplate"].get("ForceUpdate", 0)) + 1
    api.update_service(
        current["ID"],
        current["Version"]["Index"],
        task_template=template,
        name=name,
        labels=spec["Labels"],
        mode=spec["Mode"],
        update_config=spec["UpdateConfig"],
        rollback_config=spec["RollbackConfig"],
        endpoint_spec=spec["EndpointSpec"],
    )


def scale_service(world: World, app_name: str, replicas: int) -> None:
    """`docker service scale <appName>=<n>`; a missing service fails like the CLI does."""
    for attempt in range(3):
        try:
            service = world.docker().services.get(app_name)
        except _errors().NotFound as exc:
            raise command_failed(
                f"docker service scale {app_name}={replicas} ",
                f"{app_name}: Error response from daemon: service {app_name} not found\n",
            ) from exc
        try:
            service.scale(replicas)
            return
        except _errors().APIError as exc:
            # a stop right after a start can read the spec before the engine stored the last update;
            # read it again instead of failing the call (the engine's "update out of sequence")
            if "update out of sequence" not in str(exc) or attempt == 2:
                raise


def remove_service(world: World, app_name: str) -> None:
    """`docker service rm <appName>`, ignoring a service that does not exist."""
    try:
        world.docker().services.get(app_name).remove()
    except _errors().NotFound:
        pass


def pull_image(world: World, image: str) -> str | None:
    """`docker pull`; None on success, else the CLI's error line."""
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    try:
        for _ in world.docker().api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            pass
    except _errors().APIError as exc:
        return f"Error response from daemon: {exc.explanation or exc}"
    return None


def service_logs(world: World, app_name: str, tail: int, since: str) -> str:
    """Logs of the first container named `<appName>*`, else of the service (like Dokploy's readLogs)."""
    client = world.docker()
    since_arg = _since(since)
    for container in client.containers.list(all=True, filters={"name": app_name}):
        if container.name.startswith(app_name):
            raw = container.logs(timestamps=True, tail=tail, since=since_arg)
            return raw.decode("utf-8", "replace")
    try:
        service = client.services.get(app_name)
    except _errors().NotFound as exc:
        raise command_failed(
            f"docker service logs --timestamps --raw --tail {tail} {app_name}",
            f"Error response from daemon: service {app_name} not found\n",
        ) from exc
    chunks = service.logs(stdout=True, stderr=True, timestamps=True, tail=tail)
    return b"".join(chunks).decode("utf-8", "replace")


def _since(since: str) -> int | None:
    import time

    if since == "all":
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(time.time()) - int(since[:-1]) * units[since[-1]]
