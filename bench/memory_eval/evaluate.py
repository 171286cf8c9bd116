"""Score how well an embedding finds past incidents of the same root cause, through a real Chroma index.

`evaluate(embedding, incidents, queries)` stores every incident text in a fresh in-memory Chroma
collection (cosine space, the given embedding function passed explicitly: Chroma's default one
downloads a model and must never run), asks it for the top `k` incidents of each query, and scores
the answers against the labels:

- recall@k: share of queries with at least one incident of the query's class among the top k
  (what matters to the agent: one relevant past case in its prompt is enough to reuse a fix);
- precision@k: mean share of the top k that are of the query's class;
- MRR: mean of 1 / rank of the first incident of the query's class (0 when none in the top k).

`chance_recall(incidents, queries, k)` is what a random top k would score, from the class sizes.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import chromadb
import yaml
from chromadb.config import Settings

HERE = Path(__file__).resolve().parent
INCIDENTS_FILE = HERE / "incidents.yaml"
QUERIES_FILE = HERE / "queries.yaml"


@dataclass(frozen=True)
class LabelledText:
    """One incident (stored) or query (asked), with the root-cause class it belongs to."""

    id: str
    label: str
    text: str


@dataclass(frozen=True)
class QueryResult:
    query_id: str
    label: str
    top_ids: list[str]
    top_labels: list[str]

    def first_hit_rank(self) -> int | None:
        """1-based rank of the first incident of the query's class, None when none was returned."""
        for rank, label in enumerate(self.top_labels, start=1):
            if label == self.label:
                return rank
        return None


@dataclass
class Scores:
    """Retrieval quality of one embedding over one query set (all in 0..1)."""

    k: int
    recall: float
    precision: float
    mrr: float
    queries: int
    results: list[QueryResult] = field(default_factory=list)

    def misses(self) -> list[QueryResult]:
        """Queries with no incident of their class in the top k."""
        return [r for r in self.results if r.first_hit_rank() is None]

    def as_dict(self) -> dict[str, Any]:
        return {
            f"recall@{self.k}": round(self.recall, 4),
            f"precision@{self.k}": round(self.precision, 4),
            "mrr": round(self.mrr, 4),
            "queries": self.queries,
            "misses": [
                {
                    "query": r.query_id,
                    "label": r.label,
                    "top": list(zip(r.top_ids, r.top_labels, strict=True)),
                }
                for r in self.misses()
            ],
        }


def load_set(path: Path, key: str) -> list[LabelledText]:
    """The `key` list ("incidents" or "queries") of a labelled YAML file, each item id/label/text."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path} has no `{key}:` list; send a mapping with a `{key}` list of id/label/text")
    out = []
    for item in items:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(f), str) for f in ("id", "label", "text")
        ):
            raise ValueError(f"{path}: an entry of `{key}` lacks a string id, label or text: {item!r:.80}")
        out.append(LabelledText(id=item["id"], label=item["label"], text=item["text"].strip()))
    return out


def load_classes(path: Path = INCIDENTS_FILE) -> dict[str, str]:
    """The root-cause classes of the incident file: label -> one-line definition."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    classes = data.get("classes") if isinstance(data, dict) else None
    if not isinstance(classes, dict):
        raise ValueError(f"{path} has no `classes:` mapping; send label: definition pairs")
    return {str(k): str(v) for k, v in classes.items()}


def load_incidents(path: Path = INCIDENTS_FILE) -> list[LabelledText]:
    return load_set(path, "incidents")


def load_queries(path: Path = QUERIES_FILE) -> list[LabelledText]:
    return load_set(path, "queries")


def evaluate(
    embedding: Any,
    incidents: Sequence[LabelledText],
    queries: Sequence[LabelledText],
    k: int = 3,
) -> Scores:
    """Index `incidents` with `embedding` in a throw-away Chroma collection and score top-`k` answers.

    `embedding` is a Chroma embedding function (`fn(list[str]) -> list[vector]`). The collection is
    in memory, uniquely named (Chroma shares one in-process system between ephemeral clients) and
    deleted afterwards.
    """
    if not incidents or not queries:
        raise ValueError("evaluate needs at least one incident and one query")
    if k < 1 or k > len(incidents):
        raise ValueError(f"k={k} must be between 1 and the number of incidents ({len(incidents)})")
    client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
    name = f"memory-eval-{uuid.uuid4().hex[:12]}"
    collection = client.create_collection(
        name=name, embedding_function=embedding, configuration={"hnsw": {"space": "cosine"}}
    )
    try:
        collection.add(
            ids=[i.id for i in incidents],
            documents=[i.text for i in incidents],
            metadatas=[{"label": i.label} for i in incidents],
        )
        answer = collection.query(query_texts=[q.text for q in queries], n_results=k, include=["metadatas"])
    finally:
        client.delete_collection(name)
    ids_per_query = answer["ids"]
    metas_per_query = answer["metadatas"] or []
    results = [
        QueryResult(
            query_id=q.id,
            label=q.label,
            top_ids=list(ids),
            top_labels=[str((m or {}).get("label")) for m in metas],
        )
        for q, ids, metas in zip(queries, ids_per_query, metas_per_query, strict=True)
    ]
    return score(results, k)


def score(results: Sequence[QueryResult], k: int) -> Scores:
    """recall@k, precision@k and MRR of ranked answers (each answer's labels, best first)."""
    # answers cut to their top k, so the kept results (and `Scores.misses`) speak of the same k
    results = [replace(r, top_ids=r.top_ids[:k], top_labels=r.top_labels[:k]) for r in results]
    hits = 0
    precision_sum = 0.0
    reciprocal_sum = 0.0
    for result in results:
        rank = result.first_hit_rank()
        if rank is not None:
            hits += 1
            reciprocal_sum += 1.0 / rank
        precision_sum += sum(1 for label in result.top_labels if label == result.label) / k
    n = len(results)
    return Scores(
        k=k,
        recall=hits / n,
        precision=precision_sum / n,
        mrr=reciprocal_sum / n,
        queries=n,
        results=results,
    )


def chance_recall(incidents: Sequence[LabelledText], queries: Sequence[LabelledText], k: int = 3) -> float:
    """Expected recall@k of a uniformly random top k: per query 1 - C(N - n, k) / C(N, k), where n is
    the number of stored incidents of the query's class and N all stored incidents; averaged."""
    sizes = Counter(i.label for i in incidents)
    total = len(incidents)
    per_query = [1.0 - math.comb(total - sizes[q.label], k) / math.comb(total, k) for q in queries]
    return sum(per_query) / len(per_query)


def without_header_fields(items: Sequence[LabelledText], fields: Sequence[str]) -> list[LabelledText]:
    """The same texts with the named header fields (e.g. "service", "image") left out, to measure
    how much the names of apps and images pull retrieval towards incidents of another cause."""
    prefixes = tuple(f"{name}:" for name in fields)
    out = []
    for item in items:
        header, _, body = item.text.partition("\n")
        kept = [part for part in header.split(" · ") if not part.startswith(prefixes)]
        out.append(replace(item, text=" · ".join(kept) + "\n" + body))
    return out


def without_service(items: Sequence[LabelledText]) -> list[LabelledText]:
    """The texts without the header's `service:` and `image:` fields (the signal kind stays)."""
    return without_header_fields(items, ("service", "image"))


def without_image(items: Sequence[LabelledText]) -> list[LabelledText]:
    """The texts without the header's `image:` field (service and kind stay)."""
    return without_header_fields(items, ("image",))
