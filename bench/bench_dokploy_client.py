"""Client overhead per call against the Dokploy stand-in, and the cost of OpenAPI input validation.

Usage: uv run python bench/bench_dokploy_client.py [--calls 500]

- sequential calls under the default client-side limit (10/s): "before" is the old limiter
  (aiolimiter AsyncLimiter(10, 1 s), a leaky bucket holding 10), "after" the token bucket (10/s
  sustained, burst 20). Series: 15 calls after an idle second (what one tool call does) and 100
  calls in a row (sustained load, where the limit is meant to apply).

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
from mcp_server.dokploy.transport import TokenBucket
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

    await sequential_under_limit()

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


async def sequential_under_limit() -> None:
    """Per-call latency of sequential calls with the default 10/s limit, old limiter vs new."""
    limiters: list[tuple[str, object]] = [("after: token bucket 10/s burst 20", TokenBucket(10.0, 20))]
    try:
        from aiolimiter import AsyncLimiter

        limiters.insert(0, ("before: AsyncLimiter(10, 1 s)", AsyncLimiter(10, 1.0)))
    except ImportError:  # aiolimiter is no longer a dependency of the client
        print("(aiolimiter not installed: no 'before' series)")
    print(f"\n{'sequential calls at the default limit':52} {'p50 ms':>8} {'p95 ms':>8} {'total s':>8}")
    with StandIn() as standin:
        for label, limiter in limiters:
            async with await DokployClient.connect(
                standin.url, standin.api_key, openapi_file=OPENAPI
            ) as client:
                client.transport._limiter = limiter  # type: ignore[assignment]
                for series, count in (("15 after idle", 15), ("100 in a row", 100)):
                    await anyio.sleep(2.1)  # an idle moment refills either limiter completely
                    samples = []
                    started = time.perf_counter()
                    for _ in range(count):
                        t0 = time.perf_counter()
                        await client.call("settings.health")
                        samples.append(time.perf_counter() - t0)
                    total = time.perf_counter() - started
                    print(
                        f"{label + ', ' + series:52} {pct(samples, 50):8.3f} "
                        f"{pct(samples, 95):8.3f} {total:8.2f}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    anyio.run(run, parser.parse_args().calls)


if __name__ == "__main__":
    main()
