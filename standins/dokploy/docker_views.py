"""What Dokploy's `docker.*` procedures read from the engine (blocking; call through `world.in_thread`).

Dokploy shells out to `docker ps --format ...`; the stand-in asks the Engine API for the same
fields and formats them like the CLI does.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from .errors import command_failed
from .ids import now_iso
from .state import Database
from .world import World


def _errors() -> Any:
    import docker.errors  # imported lazily: the SDK costs ~0.5 s and API-only use never needs it

    return docker.errors


NO_CONTAINERS = {
    "containerId": "No container id",
    "name": "No container name",
    "image": "No image",
    "ports": "No ports",
    "state": "No state",
    "status": "No status",
}


def _name(summary: dict[str, Any]) -> str:
    return ",".join(n.lstrip("/") for n in summary.get("Names") or [])


def _ports(ports: list[dict[str, Any]] | None) -> str:
    shown = []
    for p in ports or []:
        if p.get("PublicPort"):
            ip = p.get("IP", "")
            host = f"[{ip}]" if ":" in ip else ip
            shown.append(f"{host}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}")
        else:
            shown.append(f"{p['PrivatePort']}/{p['Type']}")
    return ", ".join(dict.fromkeys(shown))


def get_containers(world: World) -> list[dict[str, Any]]:
    """docker.getContainers: every container, Dokploy's own hidden; a placeholder row when none."""
    out = []
    for c in world.docker().api.containers(all=True):
        name = _name(c)
        if "dokploy" in name and "dokploy-monitoring" not in name:
            continue
        out.append(
            {
                "containerId": c["Id"][:12],
                "name": name,
                "image": c["Image"],
                "ports": _ports(c.get("Ports")),
                "state": c["State"],
                "status": c["Status"],
            }
        )
    return out or [dict(NO_CONTAINERS)]


def _containers(world: World, label: str | None = None) -> list[dict[str, Any]]:
    filters = {"label": label} if label else None
    return list(world.docker().api.containers(all=True, filters=filters))


def _ago(stamp: str) -> str:
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00").split(".")[0] + "+00:00")
    except ValueError:
        return ""
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size * 2:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} seconds ago"


def _stack_tasks(world: World, namespace: str) -> list[dict[str, Any]]:
    api = world.docker().api
    nodes = {n["ID"]: n["Description"]["Hostname"] for n in api.nodes()}
    out = []
    for task in api.tasks(filters={"label": f"com.docker.stack.namespace={namespace}"}):
        status = task.get("Status", {})
        service = api.inspect_service(task["ServiceID"])["Spec"]["Name"]
        container_id = status.get("ContainerStatus", {}).get("ContainerID", "")
        out.append(
            {
                "containerId": container_id[:12],
                "name": f"{service}.{task.get('Slot', 1)}.{task['ID']}",
                "node": nodes.get(task.get("NodeID", ""), ""),
                "state": status.get("State", ""),
                "status": f"{status.get('State', '').capitalize()} {_ago(status.get('Timestamp', ''))} "
                f"(Error:{status.get('Err', '')})",
            }
        )
    return out


def containers_by_app_name(world: World, app_name: str, app_type: str | None) -> list[dict[str, Any]]:
    """docker.getContainersByAppNameMatch: compose label, stack tasks, or a name match."""
    if app_type == "stack":
        return _stack_tasks(world, app_name)
    if app_type == "docker-compose":
        found = _containers(world, f"com.docker.compose.project={app_name}")
    else:
        found = [c for c in _containers(world) if app_name in _name(c)]
    return [
        {"containerId": c["Id"][:12], "name": _name(c), "state": c["State"], "status": c["Status"]}
        for c in found
    ]


def containers_by_label(world: World, app_name: str, kind: str) -> list[dict[str, Any]]:
    """docker.getContainersByAppLabel: compose project (standalone) or swarm service name."""
    label = (
        f"com.docker.compose.project={app_name}"
        if kind == "standalone"
        else f"com.docker.swarm.service.name={app_name}"
    )
    return [
        {"containerId": c["Id"][:12], "name": _name(c), "state": c["State"]}
        for c in _containers(world, label)
    ]


def inspect_container(world: World, container_id: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = world.docker().api.inspect_container(container_id)
    except _errors().NotFound:
        return None
    # Dokploy prints `docker container inspect` through the docker CLI, whose current types no longer
    # carry these deprecated fields (absent from the captured output)
    for key in ("KernelMemory", "KernelMemoryTCP"):
        result.get("HostConfig", {}).pop(key, None)
    return result


def restart_container(world: World, container_id: str) -> None:
    try:
        world.docker().api.restart(container_id)
    except _errors().NotFound as exc:
        raise command_failed(
            f"docker container restart {container_id}",
            f"Error response from daemon: No such container: {container_id}\n",
        ) from exc


def container_logs(world: World, container_id: str, tail: int, since: str, search: str | None) -> str:
    """compose.readLogs: `docker container logs --timestamps`; a daemon error comes back as text."""
    since_arg = None
    if since != "all":
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        since_arg = int(time.time()) - int(since[:-1]) * units[since[-1]]
    try:
        raw = world.docker().api.logs(container_id, timestamps=True, tail=tail, since=since_arg)
    except _errors().NotFound:
        return f"Error response from daemon: No such container: {container_id}\n"
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if search:
        text = "".join(line for line in text.splitlines(keepends=True) if search.lower() in line.lower())
    return text


def mounts_of_service(world: World, app_name: str, service: str) -> list[dict[str, Any]]:
    """compose.loadMountsByService: the Mounts of the service's container."""
    label = [f"com.docker.compose.project={app_name}", f"com.docker.compose.service={service}"]
    for c in world.docker().api.containers(all=True, filters={"label": label}):
        mounts: list[dict[str, Any]] = world.docker().api.inspect_container(c["Id"]).get("Mounts", [])
        return mounts
    return []


def _legacy_fields(event: dict[str, Any]) -> dict[str, Any]:
    """Docker's older top-level `status`, `id`, `from` (container events; image events lack `from`).

    `docker events --format '{{json .}}'` prints them first; engines that still send them are passed
    through, and for engines that dropped them they are filled in the way dockerd 20.10 does.
    """
    kind = event.get("Type")
    if kind not in ("container", "image"):
        return {}
    actor = event.get("Actor", {})
    out = {"status": event.get("status", event.get("Action")), "id": event.get("id", actor.get("ID"))}
    image = event.get("from", (actor.get("Attributes") or {}).get("image"))
    if kind == "container" and image:
        out["from"] = image
    return out


def events(world: World, limit: int = 256) -> dict[str, Any]:
    """docker.getEvents: the engine's recent events, newest first."""
    now = int(time.time())
    stream = world.docker().events(since=now - 3600, until=now, decode=True)
    collected = []
    for event in stream:
        actor = event.get("Actor", {})
        collected.append(
            {
                **_legacy_fields(event),
                "Type": event.get("Type"),
                "Action": event.get("Action"),
                "Actor": {"ID": actor.get("ID"), "Attributes": actor.get("Attributes", {})},
                "scope": event.get("scope"),
                "time": event.get("time"),
                "timeNano": event.get("timeNano"),
            }
        )
    collected.reverse()
    return {"events": collected[:limit], "fetchedAt": now_iso()}


def _read_int(path: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return 0


def _meminfo() -> tuple[int, int]:
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, rest = line.split(":", 1)
                values[key] = int(rest.split()[0]) * 1024
    except OSError:
        return 0, 0
    total = values.get("MemTotal", 0)
    return total, total - values.get("MemAvailable", 0)


def server_health(world: World, db: Database) -> dict[str, Any]:
    """docker.getServerHealth for the local host."""
    client = world.docker()
    info = client.info()
    total, used = _meminfo()
    disk = shutil.disk_usage("/")
    networks = client.api.networks()
    usage = []
    for net in networks:
        detail = client.api.inspect_network(net["Id"])
        configs = (detail.get("IPAM") or {}).get("Config") or []
        subnet = configs[0].get("Subnet") if configs else None
        capacity = None
        if subnet and "/" in subnet and ":" not in subnet:
            capacity = max(0, 2 ** (32 - int(subnet.split("/")[1])) - 2)
        in_use = len(detail.get("Containers") or {})
        usage.append(
            {
                "name": net["Name"],
                "driver": net["Driver"],
                "subnet": subnet,
                "containersInUse": in_use,
                "capacity": capacity,
                "percentUsed": round(in_use * 100 / capacity) if capacity else None,
            }
        )
    usage = [u for u in usage if u["subnet"]]
    now = int(time.time())
    reserved = sum(int(a["memoryReservation"] or 0) for a in db.applications.values())
    return {
        "checkedAt": now_iso(),
        "containers": {
            "containerCount": info.get("ContainersRunning", 0),
            "serviceCount": len(client.api.services())
            if info.get("Swarm", {}).get("ControlAvailable")
            else 0,
        },
        "resources": {"memTotalBytes": total, "memUsedBytes": used, "cpuCount": os.cpu_count() or 1},
        "inotify": {
            "maxWatches": _read_int("/proc/sys/fs/inotify/max_user_watches"),
            "maxInstances": _read_int("/proc/sys/fs/inotify/max_user_instances"),
            "maxQueuedEvents": _read_int("/proc/sys/fs/inotify/max_queued_events"),
            "currentInstances": 0,
            "persisted": False,
        },
        "disk": {"totalBytes": disk.total, "usedBytes": disk.used},
        "dockerNetworks": {"count": len(networks), "addressPools": None, "usage": usage},
        "daemonErrors": [],
        "daemonLogsWindow": {"fromEpoch": now - 86400, "toEpoch": now},
        "reservation": {
            "memoryReservedBytes": reserved,
            "cpuReservedNanoCpus": 0,
            "appCount": len(db.applications),
            "unsupportedComposeCount": len(db.compose),
        },
    }
