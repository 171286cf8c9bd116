"""The agent in runbook-only mode on the real engine, end to end: Docker's OOM event → incident opened,
and an OOM-killed service → verified recovery (limit raised, persisted, verified), over N rounds.

Each round deploys a fresh compose through the Dokploy stand-in whose `api` allocates 40 MiB under a
32 MiB limit (OOM-killed at once, restarted by Docker), with the agent already watching through a
server it spawned over stdio (detectors on). Verification windows are capped by --verify-s (the
runbook says 600 s; the figure below is with the cap, which is stated with it).

Run: uv run python bench/bench_agent_loop.py [--rounds 5] [--verify-s 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import docker
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_host.incidents.model import Incident
from agent_host.runner import running_agent
from agent_host.settings import AgentSettings
from standins.dokploy.server import StandIn

LABELS = {"ig.bench": "agent-loop"}
OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "dokploy" / "openapi.json"


def compose_text() -> str:
    api = {
        "image": "ig/busybox:test",
        "command": ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=40M count=1 && sleep 3600"],
        "mem_limit": "32m",
        "memswap_limit": "32m",
        "restart": "unless-stopped",
        "init": True,
        "labels": LABELS,
    }
    return yaml.safe_dump({"services": {"api": api}}, sort_keys=False)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(rounds: int, verify_s: float) -> None:
    standin = StandIn(service_labels=LABELS).start()
    http = httpx.AsyncClient(base_url=standin.url, headers=standin.headers, timeout=120)
    created = await http.post("/api/project.create", json={"name": "bench-agent"})
    env_id = created.json()["environment"]["environmentId"]
    state = Path(tempfile.mkdtemp(prefix="ig-bench-agent-"))
    env = dict(os.environ)
    env.update(
        DOKPLOY_URL=standin.url,
        DOKPLOY_API_KEY=standin.api_key,
        INFRAGUARDIAN_STATE_DIR=str(state / "server"),
        INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE=str(OPENAPI),
    )
    settings = AgentSettings(
        state_dir=state / "agent", poll_s=0.5, verify_window_max_s=verify_s, verify_interval_s=1
    )
    opened: dict[str, float] = {}
    event_to_open: list[float] = []
    closed: dict[str, Incident] = {}
    done: dict[str, anyio.Event] = {}

    def listen(incident: Incident, step: str) -> None:
        app = str(incident.target.get("app_name"))
        if step == "detect_incident" and app not in opened:
            opened[app] = time.monotonic()
            first = datetime.fromisoformat(str(incident.signals[0]["first_seen"]))
            event_to_open.append(datetime.now(UTC).timestamp() - first.timestamp())
        if incident.closed:
            closed[app] = incident
            done.setdefault(app, anyio.Event()).set()

    to_open: list[float] = []
    to_recover: list[float] = []
    try:
        async with (
            running_agent(settings, env=env, listeners=[listen]) as agent,
            anyio.create_task_group() as tasks,
        ):
            tasks.start_soon(agent.monitor.run)
            await anyio.sleep(3)  # the spawned server's detectors connect to the engine's events
            for n in range(rounds):
                row = (await http.post(
                    "/api/compose.create",
                    json={"name": f"oom{n}", "appName": f"bench-oom{n}", "environmentId": env_id,
                          "sourceType": "raw", "composeType": "docker-compose", "composeFile": compose_text()},
                )).json()  # fmt: skip
                app = row["appName"]
                fault = time.monotonic()  # the deploy starts the container that is OOM-killed at once
                await http.post("/api/compose.deploy", json={"composeId": row["composeId"]})
                with anyio.fail_after(240):
                    await done.setdefault(app, anyio.Event()).wait()
                incident = closed[app]
                status = "resolved" if incident.status == "resolved" else f"NOT resolved ({incident.outcome})"
                to_open.append(opened[app] - fault)
                to_recover.append(time.monotonic() - fault)
                print(
                    f"round {n}: opened {to_open[-1]:.1f} s, {status} {to_recover[-1]:.1f} s after the fault"
                )
            tasks.cancel_scope.cancel()
    finally:
        await http.aclose()
        standin.stop()
        await standin.ateardown()
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"label": "ig.bench=agent-loop"}):
            c.remove(force=True)
    print(
        f"\nDocker's OOM event (the signal's first_seen) → incident opened: p50 {statistics.median(event_to_open):.2f} s, "
        f"p95 {pct(event_to_open, 0.95):.2f} s"
    )
    print(
        f"deploy started → incident opened: p50 {statistics.median(to_open):.2f} s, p95 {pct(to_open, 0.95):.2f} s"
    )
    print(
        f"deploy started → verified recovery (verify window capped at {verify_s:g} s): "
        f"p50 {statistics.median(to_recover):.1f} s, p95 {pct(to_recover, 0.95):.1f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--verify-s", type=float, default=8.0)
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.verify_s)
