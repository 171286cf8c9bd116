"""Fault → signal on the real engine, per fault kind, beside an autoheal-style poller.

Usage: uv run python bench/bench_detection_latency.py [--reps 10] [--kinds crash,oom,...]

The detector engine runs with its default settings (only the include label narrows it to the
bench's containers). Beside it, an autoheal-style poller does what willfarrell/autoheal does:
every 5 s it lists the containers and notes the ones that are unhealthy or exited.

Fault kinds and when the fault is taken to happen:
- crash: `exit 3` after a second; the fault is Docker's `die` event (engine time).
- oom: `dd` fills 64 MiB under a 32 MiB limit; the fault is the first `oom`/`die` event.
- crash_loop: `exit 2` under restart=always; the fault is the 5th `die` event (the threshold).
- unhealthy: a health check every 1 s (retries 1) that starts failing when the bench deletes
  its file (`docker exec rm`); the fault is that exec.
- hung_http: busybox httpd with no health check and no domain, frozen with SIGSTOP once our
  probes know it speaks HTTP; the fault is the `killall -STOP`.
Signal time is when a subscriber of the engine receives the first change of that kind for the
container (the signal is published before its evidence is gathered). Evented kinds are also
reported from the event's arrival at the engine ("in-process", no Docker delivery delay).
Domain down is not measured here: it needs a Dokploy domain and polls every 60 s by default.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
import docker

from mcp_server.detectors import DetectorEngine, DetectorSettings
from mcp_server.detectors.checks.unresponsive import UnresponsiveDetector
from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.host import DockerHost

IMAGE = "ig/busybox:test"
RUN = secrets.token_hex(3)
LABELS = {"ig.bench": "detection-latency", "ig.bench.run": RUN}
KINDS = ("crash", "oom", "crash_loop", "unhealthy", "hung_http")
SIGNAL_KIND = {
    "crash": "exited",
    "oom": "oom",
    "crash_loop": "crash_loop",
    "unhealthy": "unhealthy",
    "hung_http": "unresponsive",
}
HTTPD = "mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www & wait"


class Recorder:
    """Fault times, signal times and autoheal sightings per container name (wall clock, UTC)."""

    def __init__(self) -> None:
        self.kind_of: dict[str, str] = {}
        self.fault: dict[str, float] = {}
        self.event_arrival: dict[str, float] = {}
        self.signal: dict[str, float] = {}
        self.autoheal: dict[str, float] = {}
        self.dies: dict[str, list[tuple[float, float]]] = defaultdict(list)  # (engine time, arrival)


def now() -> float:
    return time.time()


async def run_engine_watch(engine: DetectorEngine, rec: Recorder) -> None:
    async with engine.subscribe(buffer=4096) as changes:
        async for change in changes:
            name = change.signal.target.container_name or ""
            kind = rec.kind_of.get(name)
            if kind and change.signal.kind == SIGNAL_KIND[kind] and name not in rec.signal:
                rec.signal[name] = now()


def tap_events(engine: DetectorEngine, rec: Recorder) -> None:
    """Note each event's engine time and arrival before the engine handles it."""
    handle = engine.handle_event

    async def tapped(event: ContainerEvent) -> Any:
        name = event.container_name or ""
        kind = rec.kind_of.get(name)
        if kind is not None:
            arrival, at = now(), event.time_nano / 1e9
            if event.action == "die":
                rec.dies[name].append((at, arrival))
            if (kind == "crash" and event.action == "die") or (
                kind == "oom" and event.action in ("oom", "die")
            ):
                rec.fault.setdefault(name, at)
                rec.event_arrival.setdefault(name, arrival)
            elif kind == "crash_loop" and event.action == "die" and len(rec.dies[name]) == 5:
                rec.fault[name], rec.event_arrival[name] = at, arrival
        return await handle(event)

    engine.handle_event = tapped  # type: ignore[method-assign]


async def autoheal_poller(client: docker.DockerClient, rec: Recorder) -> None:
    """willfarrell/autoheal's loop: every 5 s, list containers; note unhealthy or exited ones."""
    while True:
        rows = await anyio.to_thread.run_sync(
            lambda: client.api.containers(all=True, filters={"label": [f"ig.bench.run={RUN}"]})
        )
        seen = now()
        for row in rows:
            name = str((row.get("Names") or ["/"])[0]).lstrip("/")
            status = str(row.get("Status", ""))
            if row.get("State") in ("exited", "restarting") or "(unhealthy)" in status:
                rec.autoheal.setdefault(name, seen)
        await anyio.sleep(5)


def run(client: docker.DockerClient, name: str, command: str, **kw: Any) -> Any:
    return client.containers.run(IMAGE, ["sh", "-c", command], name=name, labels=LABELS, detach=True, **kw)


async def start(
    client: docker.DockerClient, rec: Recorder, kind: str, i: int, command: str, **kw: Any
) -> Any:
    name = f"ig-bench-{kind.replace('_', '-')}-{RUN}-{i}"
    rec.kind_of[name] = kind
    return await anyio.to_thread.run_sync(lambda: run(client, name, command, **kw))


async def faults(
    client: docker.DockerClient, engine: DetectorEngine, rec: Recorder, kind: str, reps: int
) -> None:
    """Start `reps` containers that fault in the given way, one every 300 ms."""
    containers = []
    for i in range(reps):
        if kind == "crash":
            containers.append(await start(client, rec, kind, i, "sleep 1; echo boom; exit 3"))
        elif kind == "oom":
            containers.append(
                await start(
                    client,
                    rec,
                    kind,
                    i,
                    "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1",
                    mem_limit="32m",
                    memswap_limit="32m",
                )
            )
        elif kind == "crash_loop":
            containers.append(await start(client, rec, kind, i, "exit 2", restart_policy={"Name": "always"}))
        elif kind == "unhealthy":
            health = {"test": ["CMD", "test", "-f", "/tmp/ok"], "interval": 1_000_000_000, "retries": 1}
            containers.append(
                await start(client, rec, kind, i, "touch /tmp/ok; sleep 3600", healthcheck=health)
            )
        elif kind == "hung_http":
            containers.append(
                await start(client, rec, kind, i, HTTPD, ports={"8080/tcp": ("127.0.0.1", None)})
            )
        await anyio.sleep(0.3)
    if kind == "unhealthy":
        await anyio.sleep(3)  # healthy first
        for c in containers:
            rec.fault[c.name] = now()
            await anyio.to_thread.run_sync(c.exec_run, ["rm", "/tmp/ok"])
            await anyio.sleep(0.5)
    if kind == "hung_http":
        # a container started less than probe_start_grace_s ago is not judged: fault a settled one
        await anyio.sleep(engine.settings.probe_start_grace_s)
        probe = next(d for d in engine.detectors if isinstance(d, UnresponsiveDetector))
        with anyio.fail_after(60):  # our probes learn that port 8080 speaks HTTP
            while not all(  # noqa: ASYNC110 - polling the detector's state is the point
                probe._ports.get(c.id, {}).get(8080) and probe._ports[c.id][8080].kind == "http"
                for c in containers
            ):
                await anyio.sleep(0.2)
        for c in containers:
            rec.fault[c.name] = now()
            await anyio.to_thread.run_sync(c.exec_run, ["killall", "-STOP", "httpd"])
            await anyio.sleep(1.3)  # spread over the probe interval
    deadline = anyio.current_time() + (40 if kind == "hung_http" else 30)
    names = [c.name for c in containers]
    while anyio.current_time() < deadline and not all(n in rec.signal and n in rec.autoheal for n in names):
        if (
            kind == "hung_http"
            and all(n in rec.signal for n in names)
            and anyio.current_time() > deadline - 25
        ):
            break  # autoheal never sees a hung process that has no health check
        await anyio.sleep(0.5)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt(values: list[float], total: int) -> str:
    if not values:
        return f"{'never':>9} {'':>9} {'0/' + str(total):>6}"
    ms = [v * 1000 for v in values]
    return f"{pct(ms, 50):9.0f} {pct(ms, 95):9.0f} {f'{len(values)}/{total}':>6}"


def report(rec: Recorder, kinds: list[str]) -> None:
    print(
        f"\n{'kind':12} {'ours p50 ms':>11} {'p95 ms':>9} {'n':>6}   {'autoheal p50':>12} {'p95 ms':>9} {'n':>6}   {'in-process p50/p95 ms':>22}"
    )
    for kind in kinds:
        names = [n for n, k in rec.kind_of.items() if k == kind and n in rec.fault]
        ours = [rec.signal[n] - rec.fault[n] for n in names if n in rec.signal]
        # autoheal cannot count exits: for a crash loop, its sighting is timed from the first exit
        since = {
            n: rec.dies[n][0][0] if kind == "crash_loop" and rec.dies[n] else rec.fault[n] for n in names
        }
        heal = [rec.autoheal[n] - since[n] for n in names if n in rec.autoheal]
        inproc = [
            rec.signal[n] - rec.event_arrival[n] for n in names if n in rec.signal and n in rec.event_arrival
        ]
        extra = f"{pct(inproc, 50) * 1000:10.1f} / {pct(inproc, 95) * 1000:.1f}" if inproc else f"{'-':>12}"
        print(f"{kind:12} {fmt(ours, len(names)):>28}   {fmt(heal, len(names)):>29}   {extra}")


async def main_async(reps: int, kinds: list[str]) -> None:
    client = docker.from_env()
    rec = Recorder()
    settings = DetectorSettings(include_labels={"ig.bench.run": RUN})
    engine = DetectorEngine(DockerHost(), settings)
    tap_events(engine, rec)
    started_cpu = time.process_time()
    try:
        async with engine, anyio.create_task_group() as tg:
            await engine.wait_connected()
            tg.start_soon(run_engine_watch, engine, rec)
            tg.start_soon(autoheal_poller, client, rec)
            await anyio.sleep(0.5)
            for kind in kinds:
                print(f"{datetime.now(UTC):%H:%M:%S} {kind}: {reps} containers", flush=True)
                await faults(client, engine, rec, kind, reps)
            tg.cancel_scope.cancel()
    finally:
        for c in client.containers.list(all=True, filters={"label": [f"ig.bench.run={RUN}"]}):
            c.remove(force=True)
    report(rec, kinds)
    print(f"\nbench process CPU {time.process_time() - started_cpu:.1f} s; load average {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    anyio.run(main_async, args.reps, kinds)


if __name__ == "__main__":
    main()
