"""Grouping accuracy (GA) of InfraGuardian's template mining on the labelled Loghub 2k samples.

GA (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019): a line counts
as correct when the set of lines in its predicted group equals the set of lines of its
ground-truth template (EventId). Two runs per dataset:

- content: the `Content` column (header removed with the dataset's known log format), the usual
  setting of published results, mined as is;
- raw:     the raw line, mined with InfraGuardian's generic header stripping (what happens to
  container logs, whose format is not known in advance).

Run: uv run python bench/bench_template_mining.py [/path/to/loghub]
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from pathlib import Path

from mcp_server.log_analysis.templates import LogTemplateMiner

DATASETS = ("Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper")
# Drain's GA in the Loghub benchmark (Zhu et al. 2019, Table), with per-dataset tuned settings.
PUBLISHED_DRAIN = {
    "Apache": 1.000,
    "BGL": 0.963,
    "HDFS": 0.998,
    "Hadoop": 0.948,
    "Linux": 0.690,
    "OpenSSH": 0.788,
    "Spark": 0.920,
    "Zookeeper": 0.967,
}


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Share of lines whose predicted group holds exactly the lines of their true group."""
    true_groups: dict[Hashable, set[int]] = defaultdict(set)
    predicted_groups: dict[Hashable, set[int]] = defaultdict(set)
    for index, (true_id, predicted_id) in enumerate(zip(truth, predicted, strict=True)):
        true_groups[true_id].add(index)
        predicted_groups[predicted_id].add(index)
    correct = 0
    for members in predicted_groups.values():
        labels = {truth[i] for i in members}
        if len(labels) == 1 and true_groups[next(iter(labels))] == members:
            correct += len(members)
    return correct / len(truth) if truth else 1.0


def run(root: Path) -> None:
    print(
        f"{'dataset':<10} {'lines':>5} {'true':>5} {'GA content':>10} {'groups':>6} {'GA raw':>7} "
        f"{'groups':>6} {'Drain (paper)':>13} {'ms':>6}"
    )
    sums = [0.0, 0.0, 0.0]
    for name in DATASETS:
        folder = root / name
        with open(folder / f"{name}_2k.log_structured.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        raw = (folder / f"{name}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
        truth = [row["EventId"] for row in rows]
        started = time.perf_counter()
        content_ids = LogTemplateMiner(strip_headers=False).add_many([row["Content"] for row in rows])
        raw_ids = LogTemplateMiner(strip_headers=True).add_many(raw[: len(rows)])
        elapsed_ms = (time.perf_counter() - started) * 1000
        ga_content = grouping_accuracy(truth, content_ids)
        ga_raw = grouping_accuracy(truth, raw_ids)
        sums[0] += ga_content
        sums[1] += ga_raw
        sums[2] += PUBLISHED_DRAIN[name]
        print(
            f"{name:<10} {len(rows):>5} {len(set(truth)):>5} {ga_content:>10.3f} {len(set(content_ids)):>6} "
            f"{ga_raw:>7.3f} {len(set(raw_ids)):>6} {PUBLISHED_DRAIN[name]:>13.3f} {elapsed_ms:>6.0f}"
        )
    count = len(DATASETS)
    print(
        f"{'mean':<10} {'':>5} {'':>5} {sums[0] / count:>10.3f} {'':>6} {sums[1] / count:>7.3f} {'':>6} "
        f"{sums[2] / count:>13.3f}"
    )


if __name__ == "__main__":
    run(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "loghub"
    )
