"""Incident memory at scale: 10,000 stored incidents, how fast `KnowledgeBase.similar()` answers.

A knowledge base on embedded Chroma in a temporary state directory (wordllama embeddings, as by
default) is filled with 10,000 synthetic closed incidents: 9 kinds of failure over 12 apps × 8
services, varied evidence, log lines and outcomes, each made into its document by the real
`incident_document` and written with the collection's batched add. Then 200 new open incidents
ask `similar(n=3)` — the call the agent makes before every decision (query text, redaction,
embedding, the nearest 12 without itself, same service first) — and each call is timed.

Target (issue 17): a similarity query over 10k stored incidents answers in < 50 ms.

Run: uv run python bench/memory_query.py [--incidents 10000] [--queries 200]
Prints one line of results and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.memory import KnowledgeBase, MemorySettings, incident_document
from agent_host.memory import chroma as chroma_parts

APPS = ("shop", "blog", "crm", "billing", "wiki", "chat", "media", "search", "auth", "erp", "forum", "mail")
SERVICES = ("api", "web", "worker", "db", "cache", "proxy", "scheduler", "queue")
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# kind → (evidence maker, log lines, (solution, tool) candidates)
KINDS: dict[str, tuple[Any, tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "oom": (
        lambda r: {"exit_code": 137, "oom_killed": True},
        (
            "java.lang.OutOfMemoryError: Java heap space",
            "FATAL ERROR: Reached heap limit Allocation failed",
            "MemoryError",
            "Killed process {n} (python) total-vm:{n}kB",
        ),
        (("raise-memory", "set_memory_limit"), ("restart", "restart_service")),
    ),
    "crash_loop": (
        lambda r: {"exit_codes": [1] * r.randint(3, 8), "exits_in_window": r.randint(3, 12)},
        (
            "KeyError: 'DATABASE_URL'",
            "Error: listen EADDRINUSE: address already in use :::{n}",
            "panic: runtime error: index out of range [{n}]",
            "ModuleNotFoundError: No module named 'app{n}'",
        ),
        (("rollback-deploy", "rollback_deployment"), ("restart", "restart_service")),
    ),
    "exited": (
        lambda r: {"exit_code": r.choice([1, 2, 126, 127, 139, 143]), "oom_killed": False},
        (
            "exec /entrypoint.sh: no such file or directory",
            "Segmentation fault (core dumped)",
            "/bin/sh: app{n}: not found",
            "received SIGTERM, shutting down",
        ),
        (("start", "start_service"), ("rollback-deploy", "rollback_deployment")),
    ),
    "unhealthy": (
        lambda r: {"own_probe": {"answered": r.random() < 0.5, "status_code": 200}},
        (
            "GET /health 503 Service Unavailable",
            "health check timed out after {n}ms",
            "could not connect to redis:6379: connection refused",
            "pool exhausted, {n} waiting",
        ),
        (("restart", "restart_service"), ("fix-healthcheck", "update_compose")),
    ),
    "disk_pressure": (
        lambda r: {
            "used_percent": r.randint(90, 100),
            "reclaimable_bytes": {"images": r.randint(1, 9) * 10**9},
        },
        (
            "write /var/lib/postgresql/data: no space left on device",
            "ENOSPC: no space left on device, write",
            "could not extend file: No space left on device",
            "disk quota exceeded",
        ),
        (("prune-images", "prune_images"), ("prune-build-cache", "prune_build_cache")),
    ),
    "memory_pressure": (
        lambda r: {"memory_percent": r.randint(88, 99)},
        ("GC overhead limit exceeded", "cache size {n} MB, evicting", "heap usage {n}%"),
        (("raise-memory", "set_memory_limit"), ("restart", "restart_service")),
    ),
    "cpu_saturation": (
        lambda r: {"cpu_share_percent": r.randint(150, 400)},
        ("request took {n}ms", "worker timeout (pid:{n})", "event loop blocked for {n}ms"),
        (("limit-cpu", "set_cpu_limit"), ("restart", "restart_service")),
    ),
    "hung": (
        lambda r: {"silence_s": r.randint(300, 3600)},
        ("waiting for lock on table orders", "retrying connection attempt {n}", "deadlock detected"),
        (("restart", "restart_service"),),
    ),
    "domain_down": (
        lambda r: {"http": {"status": r.choice([502, 503, 504, None])}},
        (
            "upstream connect error or disconnect/reset before headers",
            "no healthy upstream",
            "x509: certificate has expired or is not yet valid",
            "dial tcp {n}: i/o timeout",
        ),
        (("restart", "restart_service"), ("fix-route", "update_compose")),
    ),
}


def synthetic_incident(rng: random.Random, number: int, *, closed: bool = True) -> Incident:
    """One incident as the loop leaves it: signal, facts, decision, actions, outcome."""
    kind = rng.choice(list(KINDS))
    make_evidence, logs, fixes = KINDS[kind]
    app, service = rng.choice(APPS), rng.choice(SERVICES)
    evidence = make_evidence(rng)
    lines = [rng.choice(logs).format(n=rng.randint(1, 99999)) for _ in range(rng.randint(1, 3))]
    evidence["last_log_lines"] = lines
    opened = T0 + timedelta(minutes=number * 7 + rng.randint(0, 6))
    key = f"service:local/{app}/{service}"
    signal = {
        "id": f"{kind}-{app}-{service}", "kind": kind, "severity": "critical",
        "summary": f"{service} of {app}: {kind.replace('_', ' ')}",
        "target": {"kind": "container", "host": "local", "app_name": app, "service": service},
        "evidence": evidence, "first_seen": opened.isoformat(),
    }  # fmt: skip
    facts: dict[str, Any] = {k: v for k, v in evidence.items() if k in ("exit_code", "oom_killed")}
    facts["log_patterns"] = rng.sample(
        ["out_of_memory", "connection_refused", "no_space_left", "config_error"], 1
    )
    incident = Incident(
        id=f"inc-{number:06d}", fingerprint=key, target={"host": "local", "app_name": app, "service": service},
        target_key=key, kind=kind, severity="critical", summary=str(signal["summary"]), runbook=kind,
        signals=[signal], facts=facts, opened_at=opened,
    )  # fmt: skip
    if not closed:
        return incident
    solution, tool = rng.choice(fixes)
    incident.decision = Decision(runbook=kind, solution=solution, solution_title=solution.replace("-", " "))
    fate = rng.random()
    if fate < 0.15:
        incident.close("escalated", "needs a human: no safe fix", "escalate")
        return incident
    incident.actions.append(
        ActionRecord(
            key=f"{incident.id}:act:0", tool=tool, arguments={"app_name": app, "service": service}, ok=True
        )
    )
    if fate < 0.35:
        incident.close("escalated", "needs a human: verification unhealthy", "escalate")
    else:
        incident.close("resolved", f"resolved by {solution} in {rng.randint(8, 90)} s", "learn")
        incident.closed_at = opened + timedelta(seconds=rng.randint(8, 90))
    return incident


async def run(count: int, queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="ig-memory-bench-") as state:
        kb = await KnowledgeBase.open(MemorySettings(), Path(state))
        try:
            started = time.perf_counter()
            documents = [incident_document(synthetic_incident(rng, n)) for n in range(count)]
            made_s = time.perf_counter() - started
            collection = kb._collection(chroma_parts.INCIDENTS)
            started = time.perf_counter()
            for start in range(0, count, 1000):
                batch = documents[start : start + 1000]
                await anyio.to_thread.run_sync(
                    lambda b=batch: collection.add(
                        ids=[d[0] for d in b], documents=[d[1] for d in b], metadatas=[d[2] for d in b]
                    )
                )
            stored_s = time.perf_counter() - started
            assert await kb.count() == count
            asks = [synthetic_incident(rng, count + n, closed=False) for n in range(queries)]
            await kb.similar(asks[0], n=3)  # the first query warms the index; not counted
            timings = []
            found_same = 0
            for ask in asks:
                started = time.perf_counter()
                found = await kb.similar(ask, n=3)
                timings.append((time.perf_counter() - started) * 1000)
                found_same += bool(found and found[0].same_service)
                assert len(found) == 3
        finally:
            await kb.close()
    timings.sort()
    return {
        "incidents": count,
        "queries": queries,
        "documents_s": round(made_s, 2),
        "store_s": round(stored_s, 2),
        "query_ms_p50": round(statistics.median(timings), 2),
        "query_ms_p95": round(timings[int(len(timings) * 0.95) - 1], 2),
        "query_ms_max": round(timings[-1], 2),
        "same_service_first": found_same,
        "load_avg": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    result = anyio.run(run, args.incidents, args.queries, args.seed)
    print(
        f"memory similar(): {result['incidents']} incidents stored in {result['store_s']} s "
        f"(documents made in {result['documents_s']} s); {result['queries']} queries: "
        f"p50 {result['query_ms_p50']} ms, p95 {result['query_ms_p95']} ms, max {result['query_ms_max']} ms "
        f"(target < 50 ms); load {result['load_avg']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
