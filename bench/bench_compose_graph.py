"""Parse and graph every Dokploy template in the corpus (333 real compose files).

Per file: `ComposeGraph.from_text` (YAML + interpolation with the template's Dokploy `.env`,
model, implicit dependencies) and `build_report` (start order, dependants, blast radius,
upstream, kinds, findings for every service). The `.env` is built before timing starts.
Each file is timed over several rounds and its median kept, so a busy machine hurts less.

Run: uv run python bench/bench_compose_graph.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from mcp_server.compose_graph import ComposeGraph
from mcp_server.compose_graph.dokploy_template import read_template
from mcp_server.compose_graph.report import build_report

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "dokploy-templates"
# The one value a template leaves to the user (see tests/compose_graph/test_corpus.py).
USER_SUPPLIED = {"cloudflared": "CLOUDFLARE_TUNNEL_TOKEN=user-pasted-tunnel-token\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    inputs = []
    for folder in sorted(p for p in CORPUS.iterdir() if (p / "docker-compose.yml").is_file()):
        env = read_template((folder / "template.toml").read_text()).env_file_text()
        inputs.append(
            (
                folder.name,
                (folder / "docker-compose.yml").read_text(),
                env + USER_SUPPLIED.get(folder.name, ""),
            )
        )

    per_file_ms: dict[str, float] = {}
    services = 0
    wall = time.perf_counter()
    for name, text, env in inputs:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            graph = ComposeGraph.from_text(text, env_file_text=env)
            build_report(graph)
            samples.append((time.perf_counter() - start) * 1000)
        per_file_ms[name] = statistics.median(samples)
        services += len(graph.services)
    wall = time.perf_counter() - wall

    times = sorted(per_file_ms.values())
    quantiles = statistics.quantiles(times, n=100)
    slowest = max(per_file_ms, key=per_file_ms.__getitem__)
    print(f"files: {len(times)}  services: {services}  rounds per file: {rounds}")
    print(f"total (one pass over all files, sum of medians): {sum(times):.1f} ms")
    print(f"wall time for all rounds: {wall:.2f} s")
    print(
        f"per file: p50 {statistics.median(times):.2f} ms  p95 {quantiles[94]:.2f} ms  max {times[-1]:.2f} ms"
    )
    print(f"slowest: {slowest} ({per_file_ms[slowest]:.2f} ms)")


if __name__ == "__main__":
    main()
