"""`infraguardian-mcp status`: what runs on this Docker engine, grouped the way Dokploy thinks.

It needs only the local Docker engine; with DOKPLOY_URL set, each group is matched to its Dokploy
object (project, environment, type) through `overview.services`. Every text printed is redacted
one field at a time: a name is never read as the key of the value next to it (a container called
`shop-passwd` keeps its status), and secrets in signal summaries, notes and labels are masked.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from mcp_server.docker_ops.host import DockerHost, DockerOpsError
from mcp_server.docker_ops.inventory import RawInventory, build_inventory, collect_raw_listed
from mcp_server.docker_ops.models import DokployRef, Inventory, InventoryGroup, refs_from_overview
from mcp_server.redaction import redact, redact_text
from mcp_server.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from mcp_server.detectors import Signal
    from mcp_server.docker_ops.engine_reader import EngineReads
    from mcp_server.docker_ops.events import ContainerEvent

ONE_PASS_DETECTORS = frozenset({"crash_loop", "restart_storm", "exited", "oom", "unhealthy", "disk_pressure"})
"""Detectors that can judge from one look: recent events and current state. The others need a
history a one-shot command does not have (CPU, memory and silence over minutes; repeated probe
failures; Dokploy deployments), so `status` does not pay for their samples."""


NO_DOKPLOY = "Dokploy not configured (set DOKPLOY_URL and DOKPLOY_API_KEY to map groups to it)"


async def dokploy_refs(settings: Settings) -> tuple[dict[str, DokployRef], str | None]:
    """appName → Dokploy object, or ({}, reason) when Dokploy is not configured or not answering."""
    if not settings.dokploy_configured:
        return {}, NO_DOKPLOY
    from mcp_server.dokploy import DokployClient, DokployError  # only paid for when configured

    try:
        async with await DokployClient.from_settings(settings) as client:
            rows = await client.call("overview.services")
    except DokployError as exc:
        return {}, f"Dokploy not used: {exc}"
    return refs_from_overview(list(rows or [])), None


async def recent_events(host: DockerHost, lookback_s: float) -> list[ContainerEvent]:
    """Container events of the last `lookback_s` seconds as one finite list (`until` = now, so
    the engine answers at once instead of streaming)."""
    from mcp_server.docker_ops.events import parse_event

    now = time.time()

    def read(reads: EngineReads) -> list[dict[str, Any]]:
        return reads.events(since=now - lookback_s, until=now, filters={"type": "container"})

    return [parse_event(raw) for raw in await host.read(read, what="read recent events")]


async def current_signals(
    settings: Settings, host: DockerHost, raw: RawInventory | None = None
) -> list[Signal]:
    """One pass of the detectors that can judge from one look (`ONE_PASS_DETECTORS`): recent
    events replayed (OOM kills, crashes in the last `event_lookback_s`) and the polled state
    checks (exited, unhealthy, disks). Window-based detectors (hung, CPU and memory pressure,
    probes) need a running watcher to build their history; `status` takes no stats samples.
    The containers `raw` (the inventory's answers) holds inspected are not inspected again."""
    from mcp_server.detectors import DetectorEngine
    from mcp_server.detectors.registry import build_detectors
    from mcp_server.docker_ops.models import details_from_attrs

    detectors = [d for d in build_detectors(settings.detectors) if d.name in ONE_PASS_DETECTORS]
    engine = DetectorEngine(host, settings.detectors, detectors=detectors)
    for attrs in raw.containers if raw is not None else []:
        if "HostConfig" in attrs:  # a whole inspect (stopped containers), not a list entry
            engine.context.containers.remember(details_from_attrs(attrs))
    for event in await recent_events(host, settings.detectors.event_lookback_s):
        await engine.handle_event(event)
    await engine.poll()
    return engine.active_signals()


async def collect(
    settings: Settings, with_signals: bool = True
) -> tuple[Inventory, list[Signal] | None, list[str]]:
    refs, note = await dokploy_refs(settings)
    host = DockerHost(settings.docker_host)
    try:
        # the listed inventory (`inventory(..., inspect_all=False)`), keeping the engine's answers
        raw = await host.read(collect_raw_listed, what="collect inventory")
        inv = build_inventory(host.base_url, raw, refs)
        signals = await current_signals(settings, host, raw) if with_signals else None
    finally:
        await host.close()
    return inv, signals, [note] if note else []


def collect_now(settings: Settings) -> tuple[Inventory, None, list[str]]:
    """`collect` without signals and without Dokploy, with no event loop: what `status
    --no-signals` needs when Dokploy is not configured (starting anyio's asyncio backend and a
    worker thread cost more than the engine calls)."""
    host = DockerHost(settings.docker_host)
    try:
        raw = host.read_now(collect_raw_listed, what="collect inventory")
    finally:
        host.close_now()
    return build_inventory(host.base_url, raw, {}), None, [NO_DOKPLOY]


def _group_line(group: InventoryGroup) -> str:
    r = redact_text
    owner = ""
    if group.dokploy:
        ref = group.dokploy
        owner = f"  [{r(ref.type)} {r(ref.name)!r} in {r(str(ref.project))}/{r(str(ref.environment))}]"
    health = f"{group.containers_running}/{group.containers_total} running"
    if group.containers_unhealthy:
        health += f", {group.containers_unhealthy} unhealthy"
    return f"{group.kind:14} {r(group.app_name)}  ({health}){owner}"


def render(inv: Inventory, signals: list[Signal] | None, notes: list[str]) -> str:
    """The text of `status`; each field is redacted on its own (see the module docstring)."""
    # statuses, service names and images repeat across hundreds of containers: redact each once
    r = functools.lru_cache(maxsize=None)(redact_text)
    lines = [f"Docker engine {r(inv.base_url)} (swarm {'active' if inv.swarm_active else 'inactive'})"]
    for group in inv.groups:
        lines.append(_group_line(group))
        for svc in group.services:
            for c in svc.containers:
                extra = []
                if c.health_status:
                    extra.append(r(c.health_status))
                if c.restart_count:
                    extra.append(f"{c.restart_count} restarts")
                if c.status != "running" and c.exit_code is not None:
                    extra.append(f"exit {c.exit_code}{' OOMKilled' if c.oom_killed else ''}")
                detail = f" ({', '.join(extra)})" if extra else ""
                lines.append(f"    {r(svc.name):20} {r(c.name)}: {r(c.status)}{detail}")
            if svc.swarm_service and not svc.containers:
                s = svc.swarm_service
                lines.append(
                    f"    {r(svc.name):20} swarm service: {s.tasks_running}/{s.replicas_desired} tasks running"
                )
    if inv.unmanaged:
        lines.append(f"unmanaged      {len(inv.unmanaged)} container(s) no Dokploy object explains")
        lines.extend(f"    {r(c.name)}: {r(c.status)}" for c in inv.unmanaged)
    for ref in inv.dokploy_refs_without_objects:
        lines.append(
            f"not running    {r(ref.type)} {r(ref.name)!r} ({r(ref.app_name)}): nothing on this engine"
        )
    if signals:
        lines.append(f"signals        {len(signals)} active")
        lines.extend(f"    [{s.severity}] {r(s.summary)} (runbook {r(s.runbook)})" for s in signals)
    elif signals is not None:
        lines.append("signals        none")
    lines.extend(f"note: {r(n)}" for n in [*inv.notes, *notes])
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
@click.option("--no-signals", is_flag=True, help="Skip the detector pass (recent events, state checks).")
def status(as_json: bool, no_signals: bool) -> None:
    """Show what runs on the Docker engine, grouped by Dokploy appName, with health and the
    problems the detectors see (recent OOM kills and crashes, unhealthy containers, disks)."""
    # The coroutine hands its result over in `collected` and returns None: on exit asyncio's
    # runner formats its main task (result included) while restoring the SIGINT handler, which
    # cost ~20 ms per run to repr a 200-container inventory that nobody reads.
    collected: list[tuple[Inventory, list[Signal] | None, list[str]]] = []

    async def collect_into() -> None:
        collected.append(await collect(settings, not no_signals))

    try:
        settings = load_settings()
        if no_signals and not settings.dokploy_configured:
            collected.append(collect_now(settings))
        else:
            import anyio

            anyio.run(collect_into)
    except (SettingsError, DockerOpsError) as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        sys.exit(1)
    inv, signals, notes = collected[0]
    if as_json:
        payload: dict[str, Any] = json.loads(inv.model_dump_json())
        payload["notes"] = [*payload.get("notes", []), *notes]
        if signals is not None:
            payload["signals"] = [s.model_dump(mode="json") for s in signals]
        click.echo(json.dumps(redact(payload), indent=2))
    else:
        click.echo(render(inv, signals, notes))
