"""Cost of 50 metric rules on the watcher: one detector round, and a whole `watch` over a minute.

Usage: uv run python bench/bench_metric_rules.py [--rounds 12] [--watch-s 60] [--sets none,prometheus,mixed]

Method. A separate process (this file with `--serve-endpoints`) serves, each on its own port of
127.0.0.1 (so every rule URL is its own origin and connection, as with real services):
- 50 Prometheus endpoints `/metrics`: a prometheus_client registry each (a request-duration histogram
  over 4 routes × 2 methods × 2 statuses, a request counter, a queue gauge, the process/platform/GC
  collectors): ~340 series, ~32 KiB per scrape; 5 scrapes with moving values rendered ahead,
  served in turn;
- 25 small services with `/stats` (a ~1.5 KB JSON document) and `/healthz` (answers after 5–30 ms).
Rule sets (thresholds never crossed, the steady state of a healthy host):
- none: no rules (the detector still lists containers every round);
- prometheus: 50 rules, one per Prometheus endpoint, three kinds of selector in turn
  (`queue_waiting{queue="default"}`, `http_requests_total{status="500"}` summed over routes and methods,
  `http_request_duration_seconds_count{route=~"/api/.*"}`), `for 5m`;
- mixed: 25 of those Prometheus rules, 15 JSON rules (`json:queue.waiting > 1000 for 5m`) and
  10 latency rules (`/healthz p95 > 500ms for 2m`).
(a) Per round: a DetectorEngine that runs only `metric_rule` (include labels narrowed to this run, so
    no container matches), its `poll(["metric_rule"])` called `--rounds` times 1 s apart; CPU time of
    this process (`time.process_time`, all threads) and wall time per round; the first round (imports,
    TLS context) is shown apart. Where the time goes: the detector's `_read_all` (HTTP) and
    `value_of` (parsing a body) are wrapped with timers for the rounds measured.
(b) Whole watcher: `python -m mcp_server watch` as a child process with its own state directory,
    the same include labels, and a YAML config file (`INFRAGUARDIAN_CONFIG`) with
    `detectors.metrics.interval_s: 15` and the rule set; after its lease is taken and `--settle-s`
    more, CPU seconds (utime+stime from /proc/<pid>/stat) over `--watch-s`, and its RSS at the end.
    The endpoint server counts the requests it got in that window (rounds = requests / URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import yaml

RUN = secrets.token_hex(3)
INCLUDE = {"ig.bench.run": RUN}
SETS = ("none", "prometheus", "mixed")
PROM_ENDPOINTS = 50
SMALL_SERVICES = 25
PROM_SELECTORS = (
    'queue_waiting{queue="default"} > 1000 for 5m',
    'http_requests_total{status="500"} > 1000000 for 5m',
    'http_request_duration_seconds_count{route=~"/api/.*"} > 1000000000 for 5m',
)
SCRAPE_VARIANTS = 5
ROUTES = ("/api/items", "/api/search", "/api/users", "/login")


# -- the endpoint server (child process) ---------------------------------------------------------


class _Endpoints:
    """ASGI app answering on every socket; what it serves depends on the port."""

    def __init__(self, prom_ports: list[int], small_ports: list[int]) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            GCCollector,
            Histogram,
            PlatformCollector,
            ProcessCollector,
        )

        self.hits = 0
        self.registries: dict[int, tuple[Any, Any, Any, Any]] = {}
        for port in prom_ports:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
            duration = Histogram(
                "http_request_duration_seconds",
                "Request time",
                ["method", "route", "status"],
                registry=registry,
            )
            requests = Counter("http_requests", "Requests", ["method", "route", "status"], registry=registry)
            queue = Gauge("queue_waiting", "Jobs waiting", ["queue"], registry=registry)
            for method in ("GET", "POST"):
                for route in ROUTES:
                    for status in ("200", "500"):
                        duration.labels(method, route, status).observe(0.05)
                        requests.labels(method, route, status).inc()
            for name in ("default", "mail", "reports", "webhooks"):
                queue.labels(name).set(0)
            self.registries[port] = (registry, duration, requests, queue)
        # scrapes rendered ahead and served in turn: rendering on request would make this process,
        # not the watcher, the slow part of a round (both share 2 cores)
        self.scrapes = {
            port: [self.prometheus_text(port) for _ in range(SCRAPE_VARIANTS)] for port in prom_ports
        }
        self.served: dict[int, int] = {}
        self.small = set(small_ports)

    def prometheus_text(self, port: int) -> bytes:
        from prometheus_client import generate_latest

        registry, duration, requests, queue = self.registries[port]
        for _ in range(20):  # the service did some work since the last scrape
            labels = (random.choice(("GET", "POST")), random.choice(ROUTES), random.choice(("200", "500")))
            duration.labels(*labels).observe(random.expovariate(20))
            requests.labels(*labels).inc()
        queue.labels("default").set(random.randint(0, 40))
        return bytes(generate_latest(registry))

    @staticmethod
    def stats_json() -> bytes:
        doc = {
            "queue": {"waiting": random.randint(0, 40), "active": random.randint(0, 8), "failed": 3},
            "workers": [
                {"id": i, "busy": random.random() < 0.5, "jobs_done": random.randint(0, 10**6)}
                for i in range(12)
            ],
            "uptime_s": int(time.monotonic()),
            "version": "1.42.0",
        }
        return json.dumps(doc).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        port, path = int(scope["server"][1]), str(scope["path"])
        status, body, kind = 200, b"ok\n", b"text/plain"
        if path == "/hits":
            body, kind = json.dumps({"hits": self.hits}).encode(), b"application/json"
        elif port in self.registries and path == "/metrics":
            self.hits += 1
            turn = self.served[port] = self.served.get(port, -1) + 1
            body = self.scrapes[port][turn % SCRAPE_VARIANTS]
            kind = b"text/plain; version=0.0.4; charset=utf-8"
        elif port in self.small and path == "/stats":
            self.hits += 1
            body, kind = self.stats_json(), b"application/json"
        elif port in self.small and path == "/healthz":
            self.hits += 1
            await asyncio.sleep(random.uniform(0.005, 0.030))
        else:
            status, body = 404, b"not found\n"
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve_endpoints() -> None:
    """Child mode: bind the sockets, print their ports as one JSON line, serve until killed."""
    import uvicorn

    def bound() -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        return sock

    prom = [bound() for _ in range(PROM_ENDPOINTS)]
    small = [bound() for _ in range(SMALL_SERVICES)]
    control = bound()
    ports = {
        "prometheus": [s.getsockname()[1] for s in prom],
        "small": [s.getsockname()[1] for s in small],
        "control": control.getsockname()[1],
    }
    app = _Endpoints(ports["prometheus"], ports["small"])
    sample = app.prometheus_text(ports["prometheus"][0])
    ports["series"] = sum(1 for line in sample.decode().splitlines() if line and not line.startswith("#"))
    ports["scrape_bytes"] = len(sample)
    print(json.dumps(ports), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[*prom, *small, control])


@contextlib.contextmanager
def endpoint_server() -> Iterator[dict[str, Any]]:
    command = [sys.executable, __file__, "--serve-endpoints"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the endpoint server did not start")
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(timeout=10)


def hits(ports: dict[str, Any]) -> int:
    response = httpx.get(f"http://127.0.0.1:{ports['control']}/hits", timeout=5, trust_env=False)
    return int(response.json()["hits"])


# -- rule sets -------------------------------------------------------------------------------------


def rule_configs(which: str, ports: dict[str, Any]) -> list[dict[str, str]]:
    """The config-file rules (`detectors.metrics.rules` items) of one rule set."""
    prom, small = ports["prometheus"], ports["small"]
    rules: list[dict[str, str]] = []

    def add(i: int, url: str, condition: str) -> None:
        rules.append({"name": f"r{i:02d}", "service": f"bench{i:02d}/app", "rule": f"{url} {condition}"})

    n_prom = {"none": 0, "prometheus": 50, "mixed": 25}[which]
    for i in range(n_prom):
        add(i, f"http://127.0.0.1:{prom[i]}/metrics", PROM_SELECTORS[i % len(PROM_SELECTORS)])
    if which == "mixed":
        for j in range(15):
            add(25 + j, f"http://127.0.0.1:{small[j]}/stats", "json:queue.waiting > 1000 for 5m")
        for j in range(10):
            add(40 + j, f"http://127.0.0.1:{small[15 + j]}/healthz", "p95 > 500ms for 2m")
    return rules


# -- (a) one detector round, in this process -----------------------------------------------------


@dataclass
class Spent:
    """CPU and wall seconds accumulated by a wrapped call."""

    cpu: float = 0.0
    wall: float = 0.0
    calls: int = 0
    on: bool = False  # only the measured rounds count


@dataclass
class RoundCost:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    first: tuple[float, float] = (0.0, 0.0)
    reads: Spent = field(default_factory=Spent)
    parse: Spent = field(default_factory=Spent)
    notes: list[str] = field(default_factory=list)


async def detector_rounds(which: str, ports: dict[str, Any], rounds: int) -> RoundCost:
    import mcp_server.detectors.checks.metric_rule as metric_rule_module
    from mcp_server.detectors import DetectorEngine, DetectorSettings
    from mcp_server.docker_ops.host import DockerHost
    from mcp_server.metrics.settings import MetricSettings

    metrics = MetricSettings.model_validate({"interval_s": 15, "rules": rule_configs(which, ports)})
    settings = DetectorSettings(enabled=["metric_rule"], include_labels=INCLUDE, metrics=metrics)
    engine = DetectorEngine(DockerHost(), settings)
    (detector,) = [d for d in engine.detectors if isinstance(d, metric_rule_module.MetricRuleDetector)]
    cost = RoundCost()

    read_all = detector._read_all

    async def timed_read_all(urls: list[str]) -> Any:
        return await _timed_async(cost.reads, read_all(urls))

    value_of = metric_rule_module.value_of

    def timed_value_of(*args: Any, **kwargs: Any) -> float:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return value_of(*args, **kwargs)
        finally:
            if cost.parse.on:
                cost.parse.cpu += time.process_time() - cpu
                cost.parse.wall += time.perf_counter() - wall
                cost.parse.calls += 1

    detector._read_all = timed_read_all  # type: ignore[method-assign]
    metric_rule_module.value_of = timed_value_of
    try:
        for i in range(rounds + 1):
            cost.reads.on = cost.parse.on = i > 0
            cpu, wall = time.process_time(), time.perf_counter()
            changes = await engine.poll(["metric_rule"])
            spent = (time.process_time() - cpu, time.perf_counter() - wall)
            if changes:
                cost.notes.append(f"round {i}: {len(changes)} signal changes (none expected)")
            if i == 0:
                cost.first = spent
            else:
                cost.cpu.append(spent[0])
                cost.wall.append(spent[1])
            await anyio.sleep(1)
    finally:
        metric_rule_module.value_of = value_of
        await engine.host.close()
    return cost


async def _timed_async(spent: Spent, call: Awaitable[Any]) -> Any:
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        return await call
    finally:
        if spent.on:
            spent.cpu += time.process_time() - cpu
            spent.wall += time.perf_counter() - wall
            spent.calls += 1


# -- (b) the whole watcher, a child process ------------------------------------------------------


@dataclass(frozen=True)
class WatcherCost:
    cpu_s: float
    window_s: float
    rss_mib: float
    peak_rss_mib: float
    requests: int
    urls: int


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def lease_taken(store: Path) -> bool:
    if not store.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT expires_at FROM watcher_leases").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the file exists, its tables not yet
        return False
    return bool(row) and float(row[0]) > time.time()


def watcher_cost(which: str, ports: dict[str, Any], settle_s: float, watch_s: float) -> WatcherCost:
    rules = rule_configs(which, ports)
    with tempfile.TemporaryDirectory(prefix="ig-bench-metrics-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump({"detectors": {"metrics": {"interval_s": 15, "rules": rules}}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAGUARDIAN_")}
        env.update(
            INFRAGUARDIAN_STATE_DIR=str(Path(tmp) / "state"),
            INFRAGUARDIAN_CONFIG=str(config),
            INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps(INCLUDE),
        )
        command = [sys.executable, "-m", "mcp_server", "watch", "--log-level", "warning"]
        log = Path(tmp) / "watch.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while not lease_taken(Path(tmp) / "state" / "signals.sqlite3"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"watch did not take its lease: {log.read_text()[-1500:]}")
                time.sleep(0.2)
            time.sleep(settle_s)
            cpu0, hits0, at0 = proc_cpu_s(process.pid), hits(ports), time.monotonic()
            time.sleep(watch_s)
            cpu1, hits1, at1 = proc_cpu_s(process.pid), hits(ports), time.monotonic()
            rss, peak = proc_rss_mib(process.pid)
            if process.poll() is not None:
                raise SystemExit(f"watch exited: {log.read_text()[-1500:]}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        warnings = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        if warnings:
            print(f"  watch log ({which}): {len(warnings)} lines, last: {warnings[-1][:200]}")
    return WatcherCost(
        cpu1 - cpu0, at1 - at0, rss, peak, hits1 - hits0, len({r["rule"].split()[0] for r in rules})
    )


# -- report ----------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report_rounds(results: list[tuple[str, RoundCost]]) -> None:
    print("\n(a) one metric_rule round (DetectorEngine.poll), this process, ms")
    head = (
        f"{'rules':12} {'n':>3} {'CPU p50':>8} {'CPU p95':>8} {'wall p50':>9} {'wall p95':>9} {'wall max':>9}"
    )
    print(head + f" {'first CPU/wall':>15} {'HTTP CPU/wall':>15} {'parse CPU':>10}")
    for which, cost in results:
        cpu = [v * 1000 for v in cost.cpu]
        wall = [v * 1000 for v in cost.wall]
        n = len(cpu)
        reads = f"{cost.reads.cpu / n * 1000:.1f}/{cost.reads.wall / n * 1000:.1f}"
        first = f"{cost.first[0] * 1000:.0f}/{cost.first[1] * 1000:.0f}"
        print(
            f"{which:12} {n:3d} {pct(cpu, 50):8.1f} {pct(cpu, 95):8.1f} {pct(wall, 50):9.1f} {pct(wall, 95):9.1f}"
            f" {max(wall):9.1f} {first:>15} {reads:>15} {cost.parse.cpu / n * 1000:10.1f}"
        )
        for note in cost.notes:
            print(f"  {which}: {note}")


def report_watchers(results: list[tuple[str, WatcherCost]]) -> None:
    print("\n(b) whole watcher (`python -m mcp_server watch`, interval 15 s)")
    print(
        f"{'rules':12} {'window s':>8} {'CPU s':>7} {'CPU %':>6} {'rounds':>7} {'RSS MiB':>8} {'peak MiB':>9}"
    )
    for which, cost in results:
        rounds = f"{cost.requests / cost.urls:.1f}" if cost.urls else "-"
        share = 100 * cost.cpu_s / cost.window_s
        print(
            f"{which:12} {cost.window_s:8.1f} {cost.cpu_s:7.2f} {share:6.2f} {rounds:>7} "
            f"{cost.rss_mib:8.1f} {cost.peak_rss_mib:9.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--serve-endpoints", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=12, help="measured detector rounds per rule set")
    parser.add_argument("--watch-s", type=float, default=60.0, help="watcher CPU window")
    parser.add_argument("--settle-s", type=float, default=20.0, help="after the lease, before the window")
    parser.add_argument("--sets", default=",".join(SETS), help=f"rule sets: {', '.join(SETS)}")
    parser.add_argument("--skip-watch", action="store_true", help="only (a)")
    args = parser.parse_args()
    if args.serve_endpoints:
        serve_endpoints()
        return
    sets = [s for s in args.sets.split(",") if s]
    if unknown := set(sets) - set(SETS):
        parser.error(f"unknown rule sets {sorted(unknown)}; choose from {', '.join(SETS)}")
    with endpoint_server() as ports:
        print(
            f"{datetime.now(UTC):%H:%M:%S} endpoints up: {len(ports['prometheus'])} Prometheus "
            f"({ports['series']} series, {ports['scrape_bytes'] / 1024:.0f} KiB per scrape), "
            f"{len(ports['small'])} JSON/latency; load {os.getloadavg()}",
            flush=True,
        )
        rounds: list[tuple[str, RoundCost]] = []
        for which in sets:
            print(f"{datetime.now(UTC):%H:%M:%S} (a) {which}: {args.rounds} rounds", flush=True)
            rounds.append((which, anyio.run(detector_rounds, which, ports, args.rounds)))
        watchers: list[tuple[str, WatcherCost]] = []
        if not args.skip_watch:
            for which in sets:
                print(f"{datetime.now(UTC):%H:%M:%S} (b) {which}: watch for {args.watch_s:.0f} s", flush=True)
                watchers.append((which, watcher_cost(which, ports, args.settle_s, args.watch_s)))
                print(f"  load {os.getloadavg()}", flush=True)
    report_rounds(rounds)
    if watchers:
        report_watchers(watchers)
    print(f"\nload average {os.getloadavg()}")


if __name__ == "__main__":
    main()
