"""A filling data volume: what the agent knows about it, and how it checks it afterwards.

The disk_pressure detector measures a volume that has its own filesystem (a tmpfs volume with a
size option, a mounted device) and reports it in a signal whose target is the volume, with its
size, use and fill rate. From that signal and the stack's compose file (the runbook reads it with
compose_graph, include_file=true) `volume_facts` says which volume fills, how big it is, how fast
it grows, which services mount it, what depends on them, and what size to propose.

Docker cannot resize a volume in place, and data is never the agent's to delete, so the runbook's
fix is a human step (runbooks/disk-filling.yaml); `volume_below_percent` is how the agent verifies
that step afterwards, through the server's read-only tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import yaml

from mcp_server.detectors.fmt import human_bytes, human_duration
from mcp_server.safe_yaml import YAMLLimitError, load_yaml
from mcp_server.safety.boundary import TAG, is_fenced

if TYPE_CHECKING:
    from agent_host.loop.ports import ToolCaller
    from mcp_server.runbooks import Check

    from .verify_checks import VerifyMemo

MIB = 1024 * 1024
GIB = 1024 * MIB


def size_option(num_bytes: int) -> str:
    """A size as a volume's `size=` option writes it, rounded up: 16777216 → 16m, 2 GiB → 2g."""
    if num_bytes >= GIB and num_bytes % GIB == 0:
        return f"{num_bytes // GIB}g"
    return f"{-(-num_bytes // MIB)}m"


def growth_text(rate_bytes_per_s: Any, full_in_s: Any) -> str:
    """'growing 2.0 MiB/min, full in ~3 min', 'not growing now' or 'growth not measured yet'."""
    if not isinstance(rate_bytes_per_s, int | float):
        return "growth not measured yet"
    if rate_bytes_per_s <= 0:
        return "not growing now"
    text = f"growing {human_bytes(rate_bytes_per_s * 60)}/min"
    if isinstance(full_in_s, int | float):
        text += f", full in {human_duration(full_in_s)}"
    return text


def filling_volume(signals: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The first disk_pressure signal about a volume, or None."""
    return next(
        (
            s
            for s in signals
            if s.get("kind") == "disk_pressure" and (s.get("target") or {}).get("kind") == "volume"
        ),
        None,
    )


def volume_facts(
    signals: Sequence[Mapping[str, Any]], context: Mapping[str, Any], graph: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The volume facts of the catalogue (mcp_server/runbooks/facts.py); empty when no volume fills.
    `dependants` (the blast radius) is the mounting services and everything that depends on them."""
    signal = filling_volume(signals)
    if signal is None:
        return {}
    target, evidence = signal.get("target") or {}, signal.get("evidence") or {}
    name = target.get("name")
    facts: dict[str, Any] = {"volume_name": name}
    total = evidence.get("total_bytes")
    if isinstance(total, int) and total > 0:
        facts["volume_size_bytes"] = total
        facts["volume_size"] = size_option(total)
        facts["proposed_volume_size"] = size_option(2 * total)
    facts["volume_growth"] = growth_text(
        evidence.get("fill_rate_bytes_per_s"), evidence.get("projected_full_in_s")
    )
    if evidence.get("path"):
        facts["volume_mountpoint"] = str(evidence["path"])
    compose = _compose_answer(context)
    project = target.get("project") or target.get("app_name")
    if compose is None or not name or not project:
        return facts
    found = compose_volume(str(compose.get("compose_file") or ""), str(project), str(name))
    if found is None:
        return facts
    services, fs_type = found
    facts["volume_services"] = services
    if fs_type:
        facts["volume_type"] = fs_type
    listed = [*((graph or {}).get("services") or []), *(compose.get("services") or [])]
    nodes = {n.get("name"): n for n in listed if isinstance(n, dict)}
    radius: list[str] = []
    for service in services:
        for name_ in [service, *((nodes.get(service) or {}).get("blast_radius") or [])]:
            if name_ not in radius:
                radius.append(name_)
    facts["dependants"] = radius
    return facts


def _compose_answer(context: Mapping[str, Any]) -> dict[str, Any] | None:
    """The structured answer of a compose_graph context call that returned the compose file."""
    for entry in context.values():
        structured = entry.get("structured")
        if entry.get("tool") != "compose_graph" or not entry.get("ok") or not isinstance(structured, dict):
            continue
        if structured.get("compose_file"):
            return {**structured, "compose_file": unfenced(str(structured["compose_file"]))}
    return None


def unfenced(text: str) -> str:
    """The data inside the server's `<untrusted-data>` fence (the compose file comes fenced: it is
    only ever parsed here, never followed), or `text` as it is when it is not one such fence."""
    if not is_fenced(text):
        return text
    start = text.index(">", text.index("<" + TAG)) + 1
    return text[start : text.rindex("</" + TAG)].strip("\n")


def compose_services_and_volumes(compose_text: str) -> tuple[dict[Any, Any], dict[Any, Any]] | None:
    """A compose file's `services` and top-level `volumes` mappings (volumes {} when absent); None
    when the file cannot be read or has no services mapping."""
    try:
        data = load_yaml(compose_text, what="the compose file")
    except (yaml.YAMLError, YAMLLimitError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return None
    found_volumes = data.get("volumes")
    return data["services"], found_volumes if isinstance(found_volumes, dict) else {}


def compose_volume(compose_text: str, project: str, volume: str) -> tuple[list[str], str | None] | None:
    """The services of a compose file that mount the Docker volume `volume`, and the volume's
    filesystem type from its driver_opts (None: the file cannot be read). A named volume `data` of
    project `shop` is the Docker volume `shop_data`, unless the file gives it a `name` or declares
    it `external`."""
    parsed = compose_services_and_volumes(compose_text)
    if parsed is None:
        return None
    services, declared = parsed
    keys = {key for key, spec in declared.items() if _docker_name(str(key), spec, project) == volume}
    found = []
    for service, spec in services.items():
        mounts = spec.get("volumes") if isinstance(spec, dict) else None
        if any(_source(mount) in keys for mount in mounts or []):
            found.append(str(service))
    options = [spec.get("driver_opts") for key in keys if isinstance(spec := declared.get(key), dict)]
    fs_type = next((str(o["type"]) for o in options if isinstance(o, dict) and o.get("type")), None)
    return found, fs_type


def _docker_name(key: str, spec: Any, project: str) -> str:
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("name"):
        return str(spec["name"])
    return key if spec.get("external") else f"{project}_{key}"


def _source(mount: Any) -> str | None:
    """The named volume a service's mount uses (short `data:/path[:ro]` or long syntax)."""
    if isinstance(mount, dict):
        return str(mount.get("source")) if mount.get("type", "volume") == "volume" else None
    source = str(mount).split(":", 1)[0]
    return None if source.startswith(("/", ".", "~", "$")) else source


async def volume_below_percent(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    """The filling volume (fact `volume_name`) is below `percent`, as the detectors measured it
    after the change: while its disk_pressure signal is active, the signal's fresh `used_percent`
    decides; once the signal has cleared, the volume counts as below only while a service that
    mounts it runs (an unmounted volume is not measured at all, and its service is down then).
    None when it cannot be told (no detectors, no fresh measurement, unknown services)."""
    volume = memo.facts.get("volume_name")
    app = target.get("app_name")
    if not volume:
        return None
    answer = await link.call_tool("active_signals", {"app_name": app} if app else {})
    result = answer.structured if answer.ok and isinstance(answer.structured, dict) else None
    if result is None or not result.get("detectors_running", True):
        return None
    for signal in result.get("signals") or []:
        about = signal.get("target") or {}
        if (
            signal.get("kind") != "disk_pressure"
            or about.get("kind") != "volume"
            or about.get("name") != volume
        ):
            continue
        seen = datetime.fromisoformat(str(signal.get("last_seen")).replace("Z", "+00:00"))
        used = (signal.get("evidence") or {}).get("used_percent")
        if seen <= memo.acted_at or not isinstance(used, int | float):
            return None  # not measured since the change
        return float(used) < float(check.percent or 100)
    services = list(memo.facts.get("volume_services") or [])
    if not services or not app:
        return None
    for service in services:
        status = await link.call_tool("service_status", {"app_name": app, "service": service})
        containers = (status.structured or {}).get("containers") or [] if status.ok else []
        if any(c.get("status") == "running" for c in containers):
            return True
    return False
