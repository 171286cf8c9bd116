"""The agent's idle cost: CPU and memory of `infraguardian-agent run` while it watches N idle containers.

It creates N idle containers (default 200) from `ig/busybox:test` running `sleep 3600`, named
`igbench-idle-<run>-NNN` and labelled `infraguardian.bench=agent-idle` (all removed at the end, even
on error or Ctrl-C). Then it starts the agent as a user does: `uv run infraguardian-agent run --json`,
with fresh state directories for the agent and for the server it spawns over stdio, no Dokploy, no
model (runbook-only). The server's detectors watch only the benchmark's containers (`include_labels`),
so containers other work creates on a shared engine are not measured; `--all-containers` watches
everything.

After the warm-up it samples, over the window: CPU % of one core (utime + stime from
/proc/<pid>/stat) and RSS (VmRSS from /proc/<pid>/status, once a second: mean and max) of the agent
process and of the server process it spawned, separately and in total (the `uv` launcher is shown
too). Then, unless `--requests-window 0`, it counts the MCP requests the server reads from the agent
(strace on the server's read calls, in a separate window: tracing slows the process, so the CPU
window is not traced), as requests per minute by method.

Prints a table and one JSON line.

Run: uv run --frozen python bench/bench_agent_idle.py [--containers 200] [--warmup 60] [--window 120]
     [--requests-window 30] [--all-containers]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import docker.errors
from bench_status_watcher import cpu_seconds, rss_mb

REPO = Path(__file__).resolve().parents[1]
IMAGE = "ig/busybox:test"
LABEL = {"infraguardian.bench": "agent-idle"}
# a request line as strace shows it: {\"method\":\"resources/read\", … (quotes escaped)
METHOD = re.compile(r'\\"method\\":\s*\\"([^\\"]+)\\"')


def create_containers(client: docker.DockerClient, count: int) -> None:
    run_id = secrets.token_hex(3)

    def one(i: int) -> None:
        client.containers.run(
            IMAGE,
            ["sleep", "3600"],
            name=f"igbench-idle-{run_id}-{i:03d}",
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


def descendants(root: int) -> list[int]:
    """Pids of every process below `root`, walking /proc (parents before children)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # a process that ended while we looked
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found[1:]


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def find_roles(launcher: int, timeout_s: float) -> dict[str, int]:
    """{"uv": launcher, "agent": pid, "server": pid} once the agent has spawned its server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        roles = {"uv": launcher}
        for pid in descendants(launcher):
            line = cmdline(pid)
            if "infraguardian-agent" in line:
                roles["agent"] = pid
            elif "mcp_server" in line and "serve" in line:
                roles["server"] = pid
        if {"agent", "server"} <= roles.keys():
            return roles
        time.sleep(0.5)
    raise SystemExit(f"the agent did not spawn its server within {timeout_s:.0f} s")


def sample(roles: dict[str, int], seconds: float) -> dict[str, dict[str, float]]:
    """CPU % of one core and RSS (mean, max MB) of each role's process over `seconds`."""
    before = {role: cpu_seconds(pid) for role, pid in roles.items()}
    rss: dict[str, list[float]] = {role: [] for role in roles}
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        for role, pid in roles.items():
            rss[role].append(rss_mb(pid))
        time.sleep(1.0)
    elapsed = time.monotonic() - start
    out = {
        role: {
            "cpu_pct": (cpu_seconds(pid) - before[role]) / elapsed * 100,
            "rss_mb_mean": statistics.fmean(rss[role]),
            "rss_mb_max": max(rss[role]),
        }
        for role, pid in roles.items()
    }
    out["agent+server"] = {
        key: out["agent"][key] + out["server"][key] for key in ("cpu_pct", "rss_mb_mean", "rss_mb_max")
    }
    return out


def count_requests(server: int, seconds: float) -> dict[str, float]:
    """MCP requests per minute the server read from the agent, by method (strace on its read calls)."""
    if shutil.which("strace") is None:
        print("strace not installed: requests per minute not measured")
        return {}
    with tempfile.NamedTemporaryFile(prefix="igbench-strace-", suffix=".txt") as trace:
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-p", str(server), "-e", "trace=read", "-s", "4096", "-o", trace.name],
            stderr=subprocess.PIPE,
        )
        time.sleep(seconds)
        tracer.send_signal(signal.SIGINT)  # strace detaches and leaves the server running
        _, err = tracer.communicate(timeout=30)
        if tracer.returncode not in (0, 130, -signal.SIGINT):
            print(f"strace failed ({tracer.returncode}): {err.decode(errors='replace')[-300:]}")
            return {}
        text = Path(trace.name).read_text(errors="replace")
    methods: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        # the server reads its stdin through a duplicate of fd 0, in a worker thread: take any read
        # that carries JSON-RPC (its answers go the other way, docker's through recvfrom)
        if "read" in line and '\\"jsonrpc\\"' in line:
            methods.update(METHOD.findall(line))
    return {method: count / seconds * 60 for method, count in methods.most_common()}


def stop(launcher: subprocess.Popen[bytes], roles: dict[str, int]) -> None:
    """Ctrl-C to the agent (it closes its server), then harder, only to the processes we started."""
    agent = roles.get("agent")
    for sig, wait_s in ((signal.SIGINT, 20.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(agent or launcher.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            launcher.wait(wait_s)
            break
    server = roles.get("server")
    if server is not None and Path(f"/proc/{server}").exists() and "mcp_server" in cmdline(server):
        os.kill(server, signal.SIGKILL)  # the agent did not stop it: do not leave it behind
    if launcher.poll() is None:
        launcher.kill()
        launcher.wait()


def agent_env(state: Path, all_containers: bool) -> dict[str, str]:
    """A fresh user's environment: no Dokploy, no model, no inherited InfraGuardian settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFRAGUARDIAN_", "DOKPLOY_", "OLLAMA_"))}
    env["INFRAGUARDIAN_AGENT__STATE_DIR"] = str(state / "agent")
    env["INFRAGUARDIAN_STATE_DIR"] = str(state / "server")
    if not all_containers:
        env["INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS"] = json.dumps(LABEL)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before sampling starts")
    parser.add_argument("--window", type=float, default=120.0, help="seconds of CPU and RSS sampling")
    parser.add_argument("--requests-window", type=float, default=30.0, help="0: do not count requests")
    parser.add_argument("--all-containers", action="store_true", help="watch every container on the engine")
    args = parser.parse_args()
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", max_pool_size=16)
    state = Path(tempfile.mkdtemp(prefix="igbench-idle-"))
    launcher: subprocess.Popen[bytes] | None = None
    roles: dict[str, int] = {}
    try:
        teardown(client)
        start = time.monotonic()
        create_containers(client, args.containers)
        on_engine = len(client.api.containers())
        print(
            f"created {args.containers} containers in {time.monotonic() - start:.0f} s ({on_engine} running)"
        )
        with (state / "agent.out").open("wb") as log:  # the child keeps its own copy of the fd
            launcher = subprocess.Popen(
                ["uv", "run", "--frozen", "infraguardian-agent", "run", "--json"],
                cwd=REPO,
                env=agent_env(state, args.all_containers),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        roles = find_roles(launcher.pid, 120)
        time.sleep(args.warmup)
        if launcher.poll() is not None:
            raise SystemExit(f"the agent exited: {(state / 'agent.out').read_text()[-800:]}")
        load_before = os.getloadavg()
        figures = sample(roles, args.window)
        load_after = os.getloadavg()
        per_min = count_requests(roles["server"], args.requests_window) if args.requests_window > 0 else {}
        print(
            f"\nidle agent watching {args.containers} containers, warm-up {args.warmup:g} s, window {args.window:g} s"
        )
        print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
        print(f"{'process':14} {'CPU % of a core':>16} {'RSS mean MB':>12} {'RSS max MB':>11}")
        for role, row in figures.items():
            print(f"{role:14} {row['cpu_pct']:16.2f} {row['rss_mb_mean']:12.1f} {row['rss_mb_max']:11.1f}")
        if per_min:
            print(
                f"requests to the server per minute ({args.requests_window:g} s traced): {sum(per_min.values()):.1f}"
            )
            for method, rate in per_min.items():
                print(f"  {rate:6.1f} {method}")
        print(json.dumps({
            "bench": "agent_idle", "containers": args.containers, "all_containers": args.all_containers,
            "warmup_s": args.warmup, "window_s": args.window, "load_avg": [load_before[0], load_after[0]],
            "processes": {role: {k: round(v, 2) for k, v in row.items()} for role, row in figures.items()},
            "requests_per_min": {k: round(v, 1) for k, v in per_min.items()},
        }))  # fmt: skip
    finally:
        if launcher is not None:
            stop(launcher, roles)
        print(f"removed {teardown(client)} benchmark containers")
        client.close()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
