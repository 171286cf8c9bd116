"""Grouping accuracy (GA) of InfraGuardian's template mining on labelled Loghub 2k samples.

GA (Zhu et al., "Tools and Benchmarks for Automated Log Parsing", ICSE-SEIP 2019): a line counts
as correct when the set of lines in its predicted group equals the set of lines of its
ground-truth template (EventId). Per dataset, four runs:

- ours, message: the `Content` column (header already removed with the dataset's known format),
  the usual setting of published results, mined as is;
- ours, raw:     the raw line, mined with InfraGuardian's header learning and stripping (what
  happens to container logs, whose format is not known in advance);
- drain3 defaults on the same two inputs (`TemplateMiner` with drain3's default configuration:
  no masking, similarity 0.4, depth 4), the baseline a user gets from the library alone.

Datasets: every folder holding `<name>_2k.log` and `<name>_2k.log_structured.csv` under ROOT
(default `../shared/corpora/loghub`, the samples the miner was tuned on) and under each
`--held-out DIR` (samples kept apart from tuning, grouped under the folder's name; e.g. the
other Loghub datasets read out of https://github.com/logpai/loghub into /tmp). Means are
printed per group and over all datasets.

Run: uv run python bench/bench_template_mining.py [ROOT] [--held-out DIR] [--markdown]
     uv run python bench/bench_template_mining.py --mining-lines 1000000   # mining cost instead
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from mcp_server.log_analysis.templates import DEFAULT_MAX_EVENT_WORDS, DEFAULT_SIMILARITY, LogTemplateMiner

# Drain's GA in the Loghub benchmark (Zhu et al. 2019, Table 3), with per-dataset tuned settings.
PUBLISHED_DRAIN = {
    "Android": 0.911,
    "Apache": 1.000,
    "BGL": 0.963,
    "HDFS": 0.998,
    "HPC": 0.887,
    "Hadoop": 0.948,
    "HealthApp": 0.780,
    "Linux": 0.690,
    "Mac": 0.787,
    "OpenSSH": 0.788,
    "OpenStack": 0.733,
    "Proxifier": 0.527,
    "Spark": 0.920,
    "Thunderbird": 0.955,
    "Windows": 0.997,
    "Zookeeper": 0.967,
}
DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "loghub"


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


def drain3_defaults(texts: Sequence[str]) -> list[int]:
    """Cluster ids from drain3 with its default configuration (what `TemplateMiner()` does)."""
    config = TemplateMinerConfig()
    config.profiling_enabled = False
    miner = TemplateMiner(persistence_handler=None, config=config)
    return [int(miner.add_log_message(text)["cluster_id"]) for text in texts]


@dataclass
class Score:
    name: str
    group: str
    lines: int
    events: int
    ours_message: float
    ours_raw: float
    drain3_message: float
    drain3_raw: float
    ours_ms: float

    @property
    def published(self) -> float | None:
        return PUBLISHED_DRAIN.get(self.name)


def find_datasets(root: Path) -> list[Path]:
    """Folders under `root` with a `<name>_2k.log` and its `_structured.csv`, sorted by name."""
    return sorted(
        folder
        for folder in root.iterdir()
        if (folder / f"{folder.name}_2k.log_structured.csv").is_file()
        and (folder / f"{folder.name}_2k.log").is_file()
    )


def score(folder: Path, group: str, similarity: float, max_event_words: int) -> Score:
    name = folder.name
    with open(folder / f"{name}_2k.log_structured.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    text = (folder / f"{name}_2k.log").read_text(encoding="utf-8", errors="replace")
    raw = text.rstrip("\n").split("\n")  # not splitlines(): it also breaks at \x0b, \x1c, ...
    if len(raw) != len(rows):
        raise SystemExit(f"{name}: {len(raw)} raw lines but {len(rows)} labelled rows")
    truth = [row["EventId"] for row in rows]
    contents = [row["Content"] for row in rows]
    started = time.perf_counter()
    ours_message = LogTemplateMiner(
        similarity, strip_headers=False, max_event_words=max_event_words
    ).add_many(contents)
    ours_raw = LogTemplateMiner(similarity, strip_headers=True, max_event_words=max_event_words).add_many(raw)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Score(
        name,
        group,
        len(rows),
        len(set(truth)),
        grouping_accuracy(truth, ours_message),
        grouping_accuracy(truth, ours_raw),
        grouping_accuracy(truth, drain3_defaults(contents)),
        grouping_accuracy(truth, drain3_defaults(raw)),
        elapsed_ms,
    )


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _published_mean(scores: Sequence[Score]) -> str:
    known = [s.published for s in scores if s.published is not None]
    return f"{_mean(known):.3f}" if len(known) == len(scores) else "-"


def print_table(scores: list[Score], markdown: bool) -> None:
    columns = (
        "set",
        "dataset",
        "events",
        "ours raw",
        "drain3 raw",
        "ours msg",
        "drain3 msg",
        "Drain (paper)",
        "ms",
    )
    if markdown:
        print("| " + " | ".join(columns) + " |")
        print("| --- | --- | " + " | ".join("---:" for _ in columns[2:]) + " |")
    else:
        print(f"{columns[0]:<9} {columns[1]:<12}" + "".join(f"{c:>14}" for c in columns[2:]))

    def row(cells: list[str]) -> None:
        if markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print(f"{cells[0]:<9} {cells[1]:<12}" + "".join(f"{c:>14}" for c in cells[2:]))

    for group in dict.fromkeys(s.group for s in scores):
        members = [s for s in scores if s.group == group]
        for s in members:
            published = f"{s.published:.3f}" if s.published is not None else "-"
            row(
                [
                    group,
                    s.name,
                    str(s.events),
                    f"{s.ours_raw:.3f}",
                    f"{s.drain3_raw:.3f}",
                    f"{s.ours_message:.3f}",
                    f"{s.drain3_message:.3f}",
                    published,
                    f"{s.ours_ms:.0f}",
                ]
            )
        cells = [
            group,
            "mean",
            "",
            f"{_mean([s.ours_raw for s in members]):.3f}",
            f"{_mean([s.drain3_raw for s in members]):.3f}",
            f"{_mean([s.ours_message for s in members]):.3f}",
            f"{_mean([s.drain3_message for s in members]):.3f}",
            _published_mean(members),
            "",
        ]
        row([f"**{c}**" if c and markdown else c for c in cells])
    if len({s.group for s in scores}) > 1:
        row(
            [
                "all",
                "mean",
                "",
                f"{_mean([s.ours_raw for s in scores]):.3f}",
                f"{_mean([s.drain3_raw for s in scores]):.3f}",
                f"{_mean([s.ours_message for s in scores]):.3f}",
                f"{_mean([s.drain3_message for s in scores]):.3f}",
                _published_mean(scores),
                "",
            ]
        )


def mining_cost(lines: int, repeats: int = 3) -> None:
    """Best CPU time of `LogTemplateMiner().add_many` over every line of a synthetic container log."""
    from bench_log_digest import make_log  # bench/ is on sys.path when this file runs as a script

    texts = make_log(lines).decode().splitlines()
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        miner = LogTemplateMiner()
        miner.add_many(texts)
        timings.append(time.process_time() - started)
    print(
        f"{lines:,} lines: add_many best CPU {min(timings) * 1000:,.0f} ms, {miner.cluster_count} templates"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT, help="samples used for tuning")
    parser.add_argument(
        "--held-out", type=Path, action="append", default=[], help="folder of held-out samples"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--similarity", type=float, default=DEFAULT_SIMILARITY, help="Drain similarity for ours"
    )
    parser.add_argument(
        "--max-event-words",
        type=int,
        default=DEFAULT_MAX_EVENT_WORDS,
        help="0 turns event-word splitting off",
    )
    parser.add_argument(
        "--mining-lines",
        type=int,
        default=0,
        help="instead: CPU time of mining every line of bench_log_digest's synthetic log of this size",
    )
    args = parser.parse_args()
    logging.getLogger("drain3").setLevel(logging.WARNING)
    if args.mining_lines:
        mining_cost(args.mining_lines)
        return
    # Each held-out folder is its own group, named after the folder ("unseen", "inspected").
    groups = [("tuning", args.root)] + [(folder.name, folder) for folder in args.held_out]
    scores = [
        score(folder, group, args.similarity, args.max_event_words)
        for group, root in groups
        for folder in find_datasets(root)
    ]
    print_table(scores, args.markdown)


if __name__ == "__main__":
    main()
