"""Swarm tasks as Dokploy lists them (`docker.getServiceContainersByAppName`, `…StackContainers…`).

Dokploy runs `docker service ps <appName> --no-trunc --format 'CONTAINER ID : {{.ID}} | Name: {{.Name}}
| State: {{.DesiredState}} | Node: {{.Node}} | CurrentState: {{.CurrentState}} | Error: {{.Error}}'`
(or `docker stack ps <appName> …`), trims the whole output, splits it into lines and each line on
" | ". The stand-in asks the Engine API for the tasks, prints the same lines the docker CLI prints,
and parses them the way Dokploy does, so Dokploy's quirks come out the same: the last line's empty
error reads "Error:" (the trim ate its trailing space) while other lines' empty errors read "".
An unknown service or stack makes the CLI exit 1, and Dokploy answers `[]`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .world import World

ROW_KEYS_SERVICE = ("containerId", "name", "state", "currentState", "node", "error")
ROW_KEYS_STACK = ("containerId", "name", "state", "node", "currentState", "error")


def _errors() -> Any:
    import docker.errors  # imported lazily: the SDK costs ~0.5 s and API-only use never needs it

    return docker.errors


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, which the docker CLI prints (lower-cased) in CurrentState."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _parse_time(stamp: str) -> datetime:
    """Docker's RFC 3339 timestamps carry nanoseconds; Python reads at most microseconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")


def _pretty(state: str) -> str:
    return state[:1].upper() + state[1:]


def _service_name(api: Any, service_id: str) -> str:
    """The CLI's id resolver: a removed service (its tasks linger a while) prints as its id."""
    try:
        return str(api.inspect_service(service_id)["Spec"]["Name"])
    except _errors().NotFound:
        return service_id


def _cli_lines(api: Any, tasks: list[dict[str, Any]]) -> list[str]:
    """The lines `docker service|stack ps --no-trunc --format …` prints, in the CLI's order."""
    nodes = {n["ID"]: n["Description"]["Hostname"] for n in api.nodes()}
    services: dict[str, str] = {}
    now = datetime.now(UTC)
    named = []
    for task in tasks:
        service_id = task["ServiceID"]
        if service_id not in services:
            services[service_id] = _service_name(api, service_id)
        slot = task.get("Slot") or task.get("NodeID", "")
        named.append((f"{services[service_id]}.{slot}", task))
    # the CLI groups a slot's tasks together, newest first
    named.sort(key=lambda pair: pair[1]["CreatedAt"], reverse=True)
    named.sort(key=lambda pair: pair[0])
    lines = []
    for name, task in named:
        status = task.get("Status", {})
        ago = human_duration((now - _parse_time(status.get("Timestamp", task["CreatedAt"]))).total_seconds())
        error = status.get("Err", "")
        lines.append(
            f"CONTAINER ID : {task['ID']} | Name: {name} | State: {_pretty(task.get('DesiredState', ''))}"
            f" | Node: {nodes.get(task.get('NodeID', ''), task.get('NodeID', ''))}"
            f" | CurrentState: {_pretty(status.get('State', ''))} {ago.lower()} ago"
            f" | Error: {f'{chr(34)}{error}{chr(34)}' if error else ''}"
        )
    return lines


def _field(parts: list[str], i: int, prefix: str, missing: str, lower: bool = False) -> str:
    """`parts[i] ? parts[i].replace(prefix, "").trim() : missing` (JS replace: first match only)."""
    if i >= len(parts) or not parts[i]:
        return missing
    value = parts[i].replace(prefix, "", 1).strip()
    return value.lower() if lower else value


def _parse_like_dokploy(lines: list[str], keys: tuple[str, ...]) -> list[dict[str, str]]:
    """Dokploy's parsing of the CLI output, quirks included (see the module docstring)."""
    stdout = "\n".join(lines).strip()
    if not stdout:
        return []
    rows = []
    for line in stdout.split("\n"):
        parts = line.split(" | ")

        found = {
            "containerId": _field(parts, 0, "CONTAINER ID : ", "No container id"),
            "name": _field(parts, 1, "Name: ", "No container name"),
            "state": _field(parts, 2, "State: ", "No state", lower=True),
            "node": _field(parts, 3, "Node: ", "No specific node"),
            "currentState": _field(parts, 4, "CurrentState: ", ""),
            "error": _field(parts, 5, "Error: ", ""),
        }
        rows.append({key: found[key] for key in keys})
    return rows


def service_tasks(world: World, app_name: str) -> list[dict[str, str]]:
    """docker.getServiceContainersByAppName: the service's tasks, history included; [] if unknown."""
    api = world.docker().api
    try:
        service_id = api.inspect_service(app_name)["ID"]
    except _errors().NotFound:
        return []  # `no such service` on stderr, exit 1: Dokploy answers []
    tasks = api.tasks(filters={"service": service_id})
    return _parse_like_dokploy(_cli_lines(api, tasks), ROW_KEYS_SERVICE)


def stack_tasks(world: World, namespace: str) -> list[dict[str, str]]:
    """docker.getStackContainersByAppName: every task of the stack's services; [] if none."""
    api = world.docker().api
    tasks = api.tasks(filters={"label": f"com.docker.stack.namespace={namespace}"})
    return _parse_like_dokploy(_cli_lines(api, tasks), ROW_KEYS_STACK)
