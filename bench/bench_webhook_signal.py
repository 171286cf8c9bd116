"""Webhook → signal latency: Alertmanager and Uptime Kuma posts to a real `serve`, timed until the
`external_alert` signal is raised and resolved in the signal store.

Usage: uv run python bench/bench_webhook_signal.py [--reps 30] [--kuma-reps 3] [--poll-s default,0.1]

Method. For each value of `--poll-s` ("default" leaves `external_alert_poll_s` at its default, 0.5 s;
a number sets INFRAGUARDIAN_DETECTORS__EXTERNAL_ALERT_POLL_S) the bench starts
`python -m mcp_server serve --transport streamable-http` as a child process with its own state
directory and token, detectors on, narrowed (INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS) to one busybox
container (`ig/busybox:test`) carrying compose labels project/service, which the alerts map to.
Then, `--reps` times, one after the other:
1. POST an Alertmanager v4 payload (the recorded `firing.json` from /work/shared/monitors, with a new
   fingerprint, group key and start time, and labels `compose_project`/`compose_service` of the
   container) with the bearer token, as Alertmanager sends it: timed until the HTTP answer (a), and
   until a new occurrence of the external_alert signal that lists this alert is in the signal store (b);
2. POST its resolve (the same alert, status resolved, endsAt now): timed until the HTTP answer and until
   that occurrence is resolved in the store (c).
Then `--kuma-reps` Uptime Kuma JSON down/up pairs (the recorded `http_down__json.json` /
`http_up__json.json`, a new monitor id each, named `<project>-<service>`), timed the same way.
The store is polled by this process through a read-only SQLite connection every 5 ms, so the figures
include up to 5 ms of polling. All alerts map to the same service, so each firing opens a new
occurrence of one signal after the previous one resolved.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx

IMAGE = "ig/busybox:test"
RUN = secrets.token_hex(3)
PROJECT = f"igbench-hook-{RUN}"
SERVICE = "web"
RECORDINGS = Path("/work/shared/monitors")
POLL_STORE_S = 0.005
WAIT_S = 30.0
HOST = "local"  # settings.docker_host_name's default


@dataclass
class Timings:
    """Seconds per step, by step name ("http firing", "signal raised", ...)."""

    steps: dict[str, list[float]] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)

    def add(self, step: str, seconds: float | None) -> None:
        if seconds is None:
            self.missed[step] = self.missed.get(step, 0) + 1
        else:
            self.steps.setdefault(step, []).append(seconds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def kuma_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def alertmanager_body(template: dict[str, Any], i: int, status: str, started: str) -> bytes:
    """The recorded payload with a new alert: its own fingerprint and group, labels naming the
    container's compose service; compact JSON with a trailing newline, as Alertmanager sends it."""
    payload = json.loads(json.dumps(template))
    alert = payload["alerts"][0]
    labels = {
        **alert["labels"],
        "alertname": "BenchLatency",
        "item": f"rep{i}",
        "compose_project": PROJECT,
        "compose_service": SERVICE,
    }
    alert["labels"] = dict(sorted(labels.items()))
    alert["status"] = status
    alert["startsAt"] = started
    alert["endsAt"] = now_iso() if status == "resolved" else "0001-01-01T00:00:00Z"
    alert["fingerprint"] = f"{RUN}{i:010x}"
    payload["status"] = status
    payload["groupLabels"] = {"alertname": "BenchLatency", "item": f"rep{i}"}
    payload["commonLabels"] = alert["labels"]
    payload["groupKey"] = f'{{}}:{{alertname="BenchLatency", item="rep{i}-{RUN}"}}'
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


def kuma_body(template: dict[str, Any], monitor_id: int, down_at: datetime, up: bool) -> bytes:
    payload = json.loads(json.dumps(template))
    monitor, heartbeat = payload["monitor"], payload["heartbeat"]
    monitor["id"] = heartbeat["monitorID"] = monitor_id
    monitor["name"] = f"{PROJECT}-{SERVICE}"
    monitor["url"] = f"http://{SERVICE}:8080/"
    at = datetime.now(UTC) if up else down_at
    heartbeat["time"] = kuma_time(at)
    heartbeat["localDateTime"] = at.strftime("%Y-%m-%d %H:%M:%S")
    if up:
        heartbeat["lastDownTime"] = kuma_time(down_at)
    word = "✅ Up" if up else "🔴 Down"
    payload["msg"] = f"[{monitor['name']}] [{word}] {heartbeat['msg']}"
    return json.dumps(payload).encode()


class SignalWatch:
    """Read-only view of the server's signal store (never writes, never checkpoints)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)

    def lease_held(self) -> bool:
        try:
            row = self.conn.execute(
                "SELECT expires_at FROM watcher_leases WHERE host = ?", (HOST,)
            ).fetchone()
        except sqlite3.OperationalError:  # the file exists, its tables not yet
            return False
        return bool(row) and float(row[0]) > time.time()

    def newest_occurrence(self) -> int:
        row = self.conn.execute(
            "SELECT MAX(occurrence) FROM signals WHERE host = ? AND kind = 'external_alert'", (HOST,)
        ).fetchone()
        return int(row[0] or 0)

    def raised_after(self, occurrence: int, alert_key: str) -> int | None:
        """A newer active external_alert occurrence whose evidence lists `alert_key`."""
        rows = self.conn.execute(
            "SELECT occurrence, body FROM signals WHERE host = ? AND kind = 'external_alert' "
            "AND status = 'active' AND occurrence > ?",
            (HOST, occurrence),
        ).fetchall()
        for found, body in rows:
            keys = [a.get("key") for a in json.loads(body)["evidence"].get("alerts", [])]
            if alert_key in keys:
                return int(found)
        return None

    def resolved(self, occurrence: int) -> bool:
        row = self.conn.execute("SELECT status FROM signals WHERE occurrence = ?", (occurrence,)).fetchone()
        return bool(row) and row[0] == "resolved"

    def change_at(self, occurrence: int, change: str) -> float | None:
        """When the engine decided `change` ("raised"/"resolved") for that occurrence (epoch s)."""
        row = self.conn.execute(
            "SELECT at FROM signal_changes WHERE occurrence = ? AND change = ?", (occurrence, change)
        ).fetchone()
        return float(row[0]) if row else None

    def close(self) -> None:
        self.conn.close()


def wait_for(check: Any, timeout_s: float = WAIT_S) -> Any:
    """Poll `check()` every POLL_STORE_S until truthy; None after `timeout_s`."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        found = check()
        if found:
            return found
        time.sleep(POLL_STORE_S)
    return None


@contextlib.contextmanager
def bench_container() -> Iterator[None]:
    client = docker.from_env()
    labels = {
        "com.docker.compose.project": PROJECT,
        "com.docker.compose.service": SERVICE,
        "ig.bench.run": RUN,
    }
    container = client.containers.run(
        IMAGE, ["sleep", "3600"], name=f"{PROJECT}-{SERVICE}-1", labels=labels, detach=True
    )
    try:
        yield
    finally:
        container.remove(force=True)
        client.close()


@contextlib.contextmanager
def server(state: Path, token: str, port: int, poll_s: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAGUARDIAN_")}
    env.update(
        INFRAGUARDIAN_STATE_DIR=str(state),
        INFRAGUARDIAN_MCP_TOKEN=token,
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps({"ig.bench.run": RUN}),
    )
    if poll_s != "default":
        env["INFRAGUARDIAN_DETECTORS__EXTERNAL_ALERT_POLL_S"] = poll_s
    command = [sys.executable, "-m", "mcp_server", "serve", "--transport", "streamable-http"]
    command += ["--port", str(port), "--log-level", "warning"]
    with (state.parent / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.post(url, content=body, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:200]}")
    return elapsed


def fire_and_resolve(
    client: httpx.Client,
    watch: SignalWatch,
    timings: Timings,
    sender: str,
    url: str,
    bodies: tuple[bytes, bytes],
    alert_key: str,
    headers: dict[str, str],
    jitter_s: float,
) -> None:
    """POST the firing body, wait for its signal, POST the resolve, wait for the signal to resolve.
    A random pause before each POST puts it at a random point of the detector's poll cycle (without
    it every POST would come just after a poll, and each wait would be a whole period)."""
    before = watch.newest_occurrence()
    time.sleep(random.uniform(0, jitter_s))
    started, started_wall = time.perf_counter(), time.time()
    timings.add(f"{sender} firing: HTTP answer", post(client, url, bodies[0], headers))
    occurrence = wait_for(lambda: watch.raised_after(before, alert_key))
    seen = time.perf_counter() - started
    timings.add(f"{sender} firing: signal in store", seen if occurrence else None)
    if occurrence is None:
        return
    decided = watch.change_at(occurrence, "raised")
    timings.add(f"{sender} firing: raised by engine", decided - started_wall if decided else None)
    time.sleep(random.uniform(0, jitter_s))
    started, started_wall = time.perf_counter(), time.time()
    timings.add(f"{sender} resolve: HTTP answer", post(client, url, bodies[1], headers))
    done = wait_for(lambda: watch.resolved(occurrence))
    seen = time.perf_counter() - started
    timings.add(f"{sender} resolve: signal resolved in store", seen if done else None)
    decided = watch.change_at(occurrence, "resolved") if done else None
    timings.add(f"{sender} resolve: resolved by engine", decided - started_wall if decided else None)


def run_once(poll_s: str, reps: int, kuma_reps: int, jitter_s: float) -> Timings:
    token = "bench-" + secrets.token_urlsafe(24)
    port = free_port()
    timings = Timings()
    am = json.loads((RECORDINGS / "alertmanager" / "firing.json").read_text())["body"]
    kuma_down = json.loads((RECORDINGS / "uptime-kuma" / "http_down__json.json").read_text())["body"]
    kuma_up = json.loads((RECORDINGS / "uptime-kuma" / "http_up__json.json").read_text())["body"]
    with tempfile.TemporaryDirectory(prefix="ig-bench-hooks-") as tmp:
        state = Path(tmp) / "state"
        with server(state, token, port, poll_s) as process:
            store = state / "signals.sqlite3"
            if not wait_for(store.exists, 60):
                raise SystemExit(f"serve wrote no {store}; see {state.parent / 'serve.log'}")
            watch = SignalWatch(store)
            try:
                if not wait_for(watch.lease_held, 60):
                    raise SystemExit("the server's watcher took no lease within 60 s")
                time.sleep(2)  # let the first detector rounds settle
                base = f"http://127.0.0.1:{port}"
                auth = {"Authorization": f"Bearer {token}"}
                am_headers = {**auth, "User-Agent": "Alertmanager/0.25.0", "Content-Type": "application/json"}
                kuma_headers = {**auth, "User-Agent": "Uptime-Kuma/2.5.3", "Content-Type": "application/json"}
                with httpx.Client(timeout=30, trust_env=False) as client:
                    for i in range(reps):
                        started = now_iso()
                        bodies = (
                            alertmanager_body(am, i, "firing", started),
                            alertmanager_body(am, i, "resolved", started),
                        )
                        key = f"{RUN}{i:010x}"
                        fire_and_resolve(
                            client,
                            watch,
                            timings,
                            "alertmanager",
                            f"{base}/hooks/alertmanager",
                            bodies,
                            key,
                            am_headers,
                            jitter_s,
                        )
                    for j in range(kuma_reps):
                        monitor_id = 900_000 + j
                        down_at = datetime.now(UTC)
                        bodies = (
                            kuma_body(kuma_down, monitor_id, down_at, up=False),
                            kuma_body(kuma_up, monitor_id, down_at, up=True),
                        )
                        fire_and_resolve(
                            client,
                            watch,
                            timings,
                            "uptime-kuma",
                            f"{base}/hooks/uptime-kuma",
                            bodies,
                            f"monitor:{monitor_id}",
                            kuma_headers,
                            jitter_s,
                        )
            finally:
                watch.close()
            if process.poll() is not None:
                raise SystemExit(f"serve exited with {process.returncode}")
        logged = [line for line in (Path(tmp) / "serve.log").read_text(errors="replace").splitlines() if line]
        if logged:  # warnings and errors only (--log-level warning)
            print(f"  serve log: {len(logged)} lines, last: {logged[-1][:200]}")
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(poll_s: str, timings: Timings) -> None:
    label = "0.5 (default)" if poll_s == "default" else poll_s
    print(f"\nexternal_alert_poll_s = {label}")
    print(f"{'step':48} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'missed':>7}")
    for step, values in timings.steps.items():
        ms = [v * 1000 for v in values]
        missed = timings.missed.get(step, 0)
        print(f"{step:48} {len(ms):4d} {pct(ms, 50):8.1f} {pct(ms, 95):8.1f} {max(ms):8.1f} {missed:7d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=30, help="Alertmanager firing/resolve pairs")
    parser.add_argument("--kuma-reps", type=int, default=3, help="Uptime Kuma down/up pairs")
    parser.add_argument(
        "--poll-s", default="default,0.1", help="external_alert_poll_s values, comma-separated"
    )
    parser.add_argument(
        "--jitter-s", type=float, default=1.0, help="random pause before each POST, up to this long"
    )
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    random.seed(args.seed)
    polls = [p.strip() for p in args.poll_s.split(",") if p.strip()]
    for poll in polls:
        if poll != "default":
            float(poll)  # a bad value stops here, not in the server
    started_cpu = time.process_time()
    results = []
    with bench_container():
        for poll in polls:
            print(
                f"{datetime.now(UTC):%H:%M:%S} external_alert_poll_s={poll}: {args.reps} + {args.kuma_reps} pairs",
                flush=True,
            )
            results.append((poll, run_once(poll, args.reps, args.kuma_reps, args.jitter_s)))
    for poll, timings in results:
        report(poll, timings)
    print(f"\nbench process CPU {time.process_time() - started_cpu:.1f} s; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
