"""A stronger lexical yardstick for the benchmark only: TF-IDF over the stored incidents' vocabulary.

The project's `LexicalEmbedding` hashes words and word pairs into 256 buckets, so unrelated words
collide. This one gives every word of the stored incidents its own dimension, weighted by inverse
document frequency (rare words such as `maxmemory` count more than `error`), with sublinear term
frequency and L2 normalisation: the classic lexical retrieval baseline. Words never seen in the
stored incidents are dropped (they cannot match anything). It is fitted on the incidents, so it is
not a general-purpose embedding: it exists to tell whether wordllama beats plain word overlap done
well, not only a compact hashed one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space

from agent_host.memory.embeddings import lexical_tokens, unit_vector


def words(text: str) -> list[str]:
    """The same lowercase word tokens as LexicalEmbedding, without its word pairs."""
    return [token for token in lexical_tokens(text) if " " not in token]


class TfidfEmbedding(EmbeddingFunction[Documents]):
    """TF-IDF vectors over a fixed vocabulary; `TfidfEmbedding.fit(texts)` makes one from the texts
    that will be stored. Its config holds the vocabulary and weights, so Chroma can rebuild it."""

    def __init__(self, vocabulary: Sequence[str], idf: Sequence[float]) -> None:
        if len(vocabulary) != len(idf):
            raise ValueError(f"{len(vocabulary)} words but {len(idf)} idf weights; send one weight per word")
        self.vocabulary = {word: index for index, word in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)

    @classmethod
    def fit(cls, corpus: Sequence[str]) -> TfidfEmbedding:
        """Vocabulary and smoothed idf = ln((1 + n) / (1 + df)) + 1 of the words of `corpus`."""
        document_frequency: Counter[str] = Counter()
        for text in corpus:
            document_frequency.update(set(words(text)))
        vocabulary = sorted(document_frequency)
        n = len(corpus)
        idf = [math.log((1 + n) / (1 + document_frequency[word])) + 1.0 for word in vocabulary]
        return cls(vocabulary, idf)

    def embed_one(self, text: str) -> np.ndarray:
        vector = np.zeros(len(self.vocabulary) + 1, dtype=np.float32)
        for word, count in Counter(words(text)).items():
            index = self.vocabulary.get(word)
            if index is not None:
                vector[index] = (1.0 + math.log(count)) * self.idf[index]
        return unit_vector(vector, spare=len(vector) - 1)  # no known word: the spare direction

    def __call__(self, input: Documents) -> Embeddings:
        return [self.embed_one(text) for text in input]

    @staticmethod
    def name() -> str:
        return "bench-tfidf"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"vocabulary": list(self.vocabulary), "idf": [float(w) for w in self.idf]}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> TfidfEmbedding:
        return TfidfEmbedding(list(config["vocabulary"]), list(config["idf"]))
