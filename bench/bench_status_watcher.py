"""`status` against `docker ps -a`, and the idle cost of the watcher, on a host with many containers.

It creates N idle containers (default 200) from `ig/busybox:test` running `sleep`, labelled
`infraguardian.bench=status-watcher` so teardown finds them all (teardown runs even on error or
Ctrl-C). One in ten is named like a worker (`…-worker-…`), as a real host has a few.

Measured:
1. wall time of `docker ps -a` (median of 5) and of `infraguardian-mcp status`, with and without
   `--no-signals` (median of 3), each as a fresh process, as a user runs them;
2. the watcher (`python -m mcp_server watch`, fresh state dir): after a warm-up, its CPU time over
   the window from /proc/<pid>/stat (utime + stime), as % of one core, and its RSS (VmRSS, max of
   samples each second);
3. dockerd's CPU % of one core over the same length of window without the watcher, then with it.
   The watcher watches only the benchmark's containers (`include_labels`), so containers other
   work creates on a shared machine do not count; `--all-containers` watches everything.

4. with `--engine-requests`: the detector engine run in this process (every container), its CPU and
   the requests it sends to dockerd per window, by method and path.

Run: uv run --frozen python bench/bench_status_watcher.py [--containers 200] [--seconds 60]
     [--warmup 30] [--skip-watcher] [--skip-status] [--engine-requests] [--all-containers]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

REPO = Path(__file__).resolve().parents[1]
IMAGE = "ig/busybox:test"
LABEL = {"infraguardian.bench": "status-watcher"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def create_containers(client: docker.DockerClient, count: int) -> None:
    run_id = secrets.token_hex(3)

    def one(i: int) -> None:
        role = "worker" if i % 10 == 0 else "web"
        client.containers.run(
            IMAGE,
            ["sleep", "86400"],
            name=f"igbench-{run_id}-{role}-{i:03d}",
            labels=LABEL,
            detach=True,
            network_mode="none",
        )

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def teardown(client: docker.DockerClient) -> int:
    found = client.containers.list(all=True, filters={"label": [f"{k}={v}" for k, v in LABEL.items()]})

    def remove(container: docker.models.containers.Container) -> None:
        with contextlib.suppress(docker.errors.NotFound):  # already gone: what teardown wants
            container.remove(force=True)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(remove, found))
    return len(found)


CPU_TIMES: dict[str, list[float]] = {}


def wall(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of one run; its CPU time (user + sys, less sensitive to a loaded machine) is kept
    in CPU_TIMES under the command's last words."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    used = after.children_user - before.children_user + after.children_system - before.children_system
    CPU_TIMES.setdefault(" ".join(cmd[-2:]), []).append(used)
    return elapsed


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_cpu(pids: list[int], seconds: float) -> tuple[list[float], float]:
    """CPU % of one core of each pid over `seconds`, and the max RSS of the first pid (MB)."""
    before = [cpu_seconds(p) for p in pids]
    start = time.monotonic()
    peak = 0.0
    while time.monotonic() - start < seconds:
        peak = max(peak, rss_mb(pids[0]))
        time.sleep(1.0)
    elapsed = time.monotonic() - start
    return [(cpu_seconds(p) - b) / elapsed * 100 for p, b in zip(pids, before, strict=True)], peak


def dockerd_pid() -> int:
    return int(subprocess.run(["pidof", "dockerd"], capture_output=True, check=True).stdout.split()[0])


def bench_status(env: dict[str, str]) -> None:
    ps = [wall(["docker", "ps", "-a"], env) for _ in range(5)]
    cli = [sys.executable, "-m", "mcp_server"]
    plain = [wall([*cli, "status"], env) for _ in range(3)]
    quick = [wall([*cli, "status", "--no-signals"], env) for _ in range(3)]
    base = statistics.median(ps)
    print(f"load average: {os.getloadavg()}")
    print(f"docker ps -a:                    median {base * 1000:7.0f} ms  {[round(x, 3) for x in ps]}")
    for label, runs in (("status", plain), ("status --no-signals", quick)):
        med = statistics.median(runs)
        print(f"{label:32} median {med * 1000:7.0f} ms  ({med / base:5.1f}x)  {[round(x, 3) for x in runs]}")
    for key, used in CPU_TIMES.items():
        print(f"CPU time (user+sys) of `{key}`: median {statistics.median(used) * 1000:.0f} ms")


def bench_watcher(env: dict[str, str], seconds: float, warmup: float) -> None:
    dockerd = dockerd_pid()
    print(f"load average before: {os.getloadavg()}")
    (idle,), _ = measure_cpu([dockerd], seconds)
    print(f"dockerd without watcher: {idle:.2f} % of a core over {seconds:.0f} s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "watch", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise SystemExit(f"watcher exited: {proc.stderr.read().decode()[-800:] if proc.stderr else ''}")
        (watcher, with_watcher), peak = measure_cpu([proc.pid, dockerd], seconds)
        print(f"watcher: {watcher:.2f} % of a core, RSS max {peak:.0f} MB over {seconds:.0f} s")
        print(f"dockerd with watcher: {with_watcher:.2f} % (+{with_watcher - idle:.2f})")
        print(f"load average after: {os.getloadavg()}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_engine_requests(seconds: float, warmup: float) -> None:
    """Run the detector engine in this process (default settings, every container) and count the
    requests it sends to dockerd after the warm-up, by method and path (ids replaced)."""
    import collections
    import re

    import anyio
    import requests

    sys.path.insert(0, str(REPO))
    from mcp_server.detectors import DetectorEngine, DetectorSettings
    from mcp_server.docker_ops.host import DockerHost

    counts: collections.Counter[str] = collections.Counter()
    send = requests.Session.send

    def counting_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: object) -> object:
        path = re.sub(r"[0-9a-f]{64}", "<id>", (request.path_url or "").split("?")[0])
        path = re.sub(r"^/v1\.[0-9]+", "", path)
        counts[f"{request.method} {path}"] += 1
        return send(self, request, **kwargs)  # type: ignore[arg-type]

    requests.Session.send = counting_send  # type: ignore[method-assign,assignment]

    async def run() -> None:
        async with DockerHost() as host, DetectorEngine(host, DetectorSettings()):
            await anyio.sleep(warmup)
            counts.clear()
            before, start = os.times(), time.monotonic()
            await anyio.sleep(seconds)
            after, elapsed = os.times(), time.monotonic() - start
            cpu = (after.user - before.user + after.system - before.system) / elapsed * 100
            print(
                f"in-process engine: {cpu:.2f} % of a core, {sum(counts.values())} engine requests in {elapsed:.0f} s"
            )
            for key, count in counts.most_common():
                print(f"  {count:5d} {key}")

    anyio.run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--skip-watcher", action="store_true")
    parser.add_argument("--skip-status", action="store_true")
    parser.add_argument(
        "--engine-requests",
        action="store_true",
        help="also run the detector engine in this process and count its requests to dockerd",
    )
    parser.add_argument(
        "--all-containers",
        action="store_true",
        help="let the watcher watch every container on the engine (default: only the benchmark's, "
        "so other work on a shared machine, e.g. tests creating containers, is not measured)",
    )
    args = parser.parse_args()
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", max_pool_size=16)
    state = tempfile.TemporaryDirectory(prefix="igbench-")
    env = {
        **os.environ,
        "INFRAGUARDIAN_STATE_DIR": state.name,
        "PYTHONPATH": str(REPO),
    }
    for key in ("DOKPLOY_URL", "DOKPLOY_API_KEY"):
        env.pop(key, None)
    watch_env = dict(env)
    if not args.all_containers:
        watch_env["INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS"] = json.dumps(LABEL)
    try:
        teardown(client)
        start = time.monotonic()
        create_containers(client, args.containers)
        total = len(client.api.containers(all=True))
        print(
            f"created {args.containers} containers in {time.monotonic() - start:.0f} s ({total} on the engine)"
        )
        if not args.skip_status:
            bench_status(env)
        if not args.skip_watcher:
            bench_watcher(watch_env, args.seconds, args.warmup)
        if args.engine_requests:
            count_engine_requests(args.seconds, min(args.warmup, 20.0))
    finally:
        print(f"removed {teardown(client)} benchmark containers")
        client.close()
        state.cleanup()


if __name__ == "__main__":
    main()
