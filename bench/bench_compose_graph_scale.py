"""compose_graph on one big generated compose file: time, peak memory and answer size.

The file has N services (default 2,000) in a chain: each one's `depends_on` and `UPSTREAM_URL`
name the one before, every 100th is a database the next 99 reach through `DATABASE_URL`, and
every service shares an `x-common` anchor (`<<: *common`). So every service has a long blast
radius or upstream, which is what made the old answer grow with the square of the file (207 s,
67 MB, 824 MB peak for 2,000 services).

Measured, each in a fresh process-local run:
- parse: `ComposeGraph.from_text` (bounded YAML load, interpolation, model, implicit deps);
- bounded answer: `summarize(graph)` (what the compose_graph tool returns) and its JSON size;
- focused answer: `summarize(graph, focus=<middle service>)`;
- peak memory of parse + answer (tracemalloc, Python allocations), in a separate run so that
  tracing does not slow the timed runs.

Run: uv run python bench/bench_compose_graph_scale.py [--services N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from dataclasses import asdict

from mcp_server.compose_graph import ComposeGraph
from mcp_server.compose_graph.summary import summarize


def big_compose(services: int) -> str:
    lines = ["x-common: &common", "  restart: unless-stopped", "  logging: {driver: json-file}", "services:"]
    for i in range(services):
        image = "postgres:16" if i % 100 == 0 else f"registry.example.com/team/svc{i}:1.{i}"
        lines += [f"  svc{i}:", "    <<: *common", f"    image: {image}", "    environment:"]
        lines.append(f"      SERVICE_NAME: svc{i}")
        if i:
            lines.append(f"      UPSTREAM_URL: http://svc{i - 1}:8080/api")
            lines.append(f"      DATABASE_URL: postgres://app:pw@svc{(i // 100) * 100}:5432/app")
            lines += ["    depends_on:", f"      - svc{i - 1}"]
        lines.append(f'    command: ["serve", "--port", "8080", "--peer", "svc{(i * 7) % services}:8080"]')
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    text = big_compose(args.services)
    focus = f"svc{args.services // 2}"

    parse_s, answer_s, focus_s = [], [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        graph = ComposeGraph.from_text(text)
        parse_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        summary = summarize(graph)
        answer_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        focused = summarize(graph, focus=focus)
        focus_s.append(time.perf_counter() - start)

    tracemalloc.start()
    summarize(ComposeGraph.from_text(text))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    size = len(json.dumps(asdict(summary)))
    print(f"services: {args.services}  file: {len(text) / 1024:.0f} KiB  rounds: {args.rounds}")
    print(f"parse (from_text), median: {statistics.median(parse_s):.2f} s")
    print(f"bounded answer (summarize), median: {statistics.median(answer_s):.2f} s")
    print(f"focused answer (summarize focus={focus}), median: {statistics.median(focus_s):.2f} s")
    print(f"peak Python memory, parse + answer: {peak / 1024**2:.0f} MiB")
    print(
        f"answer: {size / 1024:.1f} KiB JSON, {len(summary.services)} of {summary.services_total} services "
        f"described; focused: {len(json.dumps(asdict(focused))) / 1024:.1f} KiB"
    )


if __name__ == "__main__":
    main()
