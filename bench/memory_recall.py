"""Retrieval quality of incident memory: does a new incident find past incidents of the same root cause?

Data: bench/memory_eval/incidents.yaml (72 hand-written post-mortems in 18 root-cause classes) and
bench/memory_eval/queries.yaml (36 new incidents, each labelled with the class whose stored
incidents are relevant). Each embedding indexes the incidents in an in-memory Chroma collection
(cosine space, embedding function passed explicitly) and answers every query with its top 5.

Embeddings:
- wordllama: `agent_host.memory.embeddings.WordLlamaEmbedding`, the default of incident memory;
- lexical: `LexicalEmbedding`, the project's hashed bag of words (256 buckets), the plain baseline;
- tfidf: a TF-IDF yardstick fitted on the stored incidents (bench/memory_eval/tfidf.py), to tell
  whether wordllama beats word overlap done well, not only a compact hashed one.

Texts: "as written" (header `kind · service · image`, then summary, evidence, root cause, fix,
outcome), "no image" (the header without the image reference) and "no service/image" (without
the app, service and image names: the signal kind stays).

Figures: recall@k = share of queries with at least one relevant incident in the top k (k = 1, 3,
5); precision@3 = mean share of relevant incidents in the top 3; MRR = mean 1 / rank of the first
relevant incident within the top 5. Chance: recall@3 of a random top 3, from the class sizes.

Run: uv run --frozen python bench/memory_recall.py [--json FILE] [--misses]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: import the project

from agent_host.memory.embeddings import LexicalEmbedding, WordLlamaEmbedding, embedding_id
from bench.memory_eval.evaluate import (
    LabelledText,
    Scores,
    chance_recall,
    evaluate,
    load_classes,
    load_incidents,
    load_queries,
    score,
    without_image,
    without_service,
)
from bench.memory_eval.tfidf import TfidfEmbedding

DEPTH = 5  # answers asked per query; recall@1/@3/@5 and precision@3 are read from them

EmbeddingMaker = Callable[[Sequence[LabelledText]], Any]
EMBEDDINGS: dict[str, EmbeddingMaker] = {
    "wordllama": lambda incidents: WordLlamaEmbedding(),
    "lexical": lambda incidents: LexicalEmbedding(),
    "tfidf": lambda incidents: TfidfEmbedding.fit([i.text for i in incidents]),
}
VARIANTS: dict[str, Callable[[Sequence[LabelledText]], list[LabelledText]]] = {
    "as written": list,
    "no image": without_image,
    "no service/image": without_service,
}


def run(misses: bool) -> dict[str, Any]:
    incidents, queries, classes = load_incidents(), load_queries(), load_classes()
    rows: list[dict[str, Any]] = []
    for variant, transform in VARIANTS.items():
        stored, asked = transform(incidents), transform(queries)
        for name, make in EMBEDDINGS.items():
            embedding = make(stored)
            started = time.perf_counter()
            deep = evaluate(embedding, stored, asked, k=DEPTH)
            seconds = time.perf_counter() - started
            at3: Scores = score(deep.results, 3)
            row = {
                "text": variant,
                "embedding": name,
                "embedding_id": embedding_id(embedding),
                "recall@1": round(score(deep.results, 1).recall, 4),
                "recall@3": round(at3.recall, 4),
                "recall@5": round(deep.recall, 4),
                "precision@3": round(at3.precision, 4),
                "mrr@5": round(deep.mrr, 4),
                "seconds": round(seconds, 2),
                "misses@3": at3.as_dict()["misses"],
            }
            rows.append(row)
            if misses:
                for miss in row["misses@3"]:
                    top = ", ".join(f"{i} ({label})" for i, label in miss["top"])
                    print(f"[{variant} / {name}] {miss['query']} ({miss['label']}) -> {top}")
    return {
        "bench": "memory_recall",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.node()} {platform.machine()} python {platform.python_version()}",
        "incidents": len(incidents),
        "queries": len(queries),
        "classes": len(classes),
        "chance_recall@3": round(chance_recall(incidents, queries, 3), 4),
        "rows": rows,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['incidents']} incidents in {report['classes']} root-cause classes, {report['queries']} queries; "
        f"chance recall@3 = {report['chance_recall@3']:.2f}",
        "",
        "| text | embedding | recall@3 | precision@3 | MRR (top 5) | recall@1 | recall@5 | s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['text']} | {row['embedding']} | **{row['recall@3']:.2f}** | {row['precision@3']:.2f} | "
            f"{row['mrr@5']:.2f} | {row['recall@1']:.2f} | {row['recall@5']:.2f} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, help="also write the figures and every miss to this file")
    parser.add_argument("--misses", action="store_true", help="print each query without a relevant top 3")
    args = parser.parse_args()
    report = run(args.misses)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
