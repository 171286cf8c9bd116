"""Client overhead per call against the Dokploy stand-in, and the cost of OpenAPI input validation.

Usage: uv run python bench/bench_dokploy_client.py [--calls 500]

- "raw httpx": the same GET with a bare pooled httpx.AsyncClient — the floor (stand-in + HTTP).
- "client.call": our full path (operation lookup, validation, rate limiter, retry wrapper, decode).
  The difference is the client's overhead per call.
- validation: OperationTable.validate() alone on small and large inputs (application.update has
  ~100 fields).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import anyio
import httpx

from mcp_server.dokploy import DokployClient, OperationTable
from standins.dokploy.server import StandIn

OPENAPI = Path(__file__).resolve().parents[1].parent / "shared" / "dokploy" / "openapi.json"


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


async def run(calls: int) -> None:
    with StandIn() as standin:
        async with httpx.AsyncClient(base_url=standin.url, headers=standin.headers) as raw:
            raw_t = []
            for _ in range(calls):
                t0 = time.perf_counter()
                r = await raw.get("/api/settings.health")
                r.json()
                raw_t.append(time.perf_counter() - t0)
        async with await DokployClient.connect(
            standin.url, standin.api_key, openapi_file=OPENAPI, rate_per_s=100_000
        ) as client:
            ours = []
            for _ in range(calls):
                t0 = time.perf_counter()
                await client.call("settings.health")
                ours.append(time.perf_counter() - t0)
            ours_q = []
            for _ in range(calls):
                t0 = time.perf_counter()
                await client.call("deployment.allByCompose", composeId="doesnotexist000000000")
                ours_q.append(time.perf_counter() - t0)
    print(f"calls per series: {calls} (after 0 warm-up; stand-in in-process thread, loopback)")
    print(f"{'series':42} {'p50 ms':>8} {'p95 ms':>8}")
    for name, s in [
        ("raw httpx GET settings.health", raw_t),
        ("client.call settings.health", ours),
        ("client.call deployment.allByCompose", ours_q),
    ]:
        print(f"{name:42} {pct(s, 50):8.3f} {pct(s, 95):8.3f}")
    print(
        f"{'client overhead (p50 difference)':42} {pct(ours, 50) - pct(raw_t, 50):8.3f} "
        f"{pct(ours, 95) - pct(raw_t, 95):8.3f}"
    )

    table = OperationTable.from_file(OPENAPI)
    t0 = time.perf_counter()
    OperationTable.from_file(OPENAPI)
    load_ms = (time.perf_counter() - t0) * 1000
    small = {"composeId": "abc", "title": "t"}
    big = {
        "applicationId": "a",
        "name": "n",
        "env": "A=1\n" * 50,
        "memoryLimit": "1g",
        "replicas": 2,
        "healthCheckSwarm": {"Test": ["CMD", "true"], "Interval": 1},
        "args": ["a", "b"],
    }
    for name, op, data in [
        ("compose.deploy (2 fields)", "compose.deploy", small),
        ("application.update (7 of ~100 fields)", "application.update", big),
        ("project.create invalid (1 issue)", "project.create", {"name": 5}),
    ]:
        table.validate(op, data)  # compile the validator once
        n = 5000
        t0 = time.perf_counter()
        for _ in range(n):
            table.validate(op, data)
        us = (time.perf_counter() - t0) / n * 1e6
        print(f"validate {name:38} {us:8.1f} µs/call")
    print(f"load + index the 597-operation document: {load_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    anyio.run(run, parser.parse_args().calls)


if __name__ == "__main__":
    main()
