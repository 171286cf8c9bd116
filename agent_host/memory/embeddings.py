"""Embedding functions for the incident knowledge base: texts in, vectors out, never Chroma's default.

Chroma's default embedding downloads an ONNX model at its first use: it fails on a machine without
internet and would reach out on every fresh install. So every collection is given one of these,
explicitly, every time it is opened:

- `WordLlamaEmbedding` (default): wordllama's 256-dimension static word vectors, which ship inside
  the wheel. No torch, no ONNX, no network. Loaded once per process.
- `OllamaEmbedding`: the configured Ollama server's `/api/embed` (e.g. `nomic-embed-text`).
- `LexicalEmbedding`: hashed bag of words and word pairs; the plain baseline retrieval is measured
  against, and a dependency-free fallback for tests.

Each class follows Chroma 1.5.9's `EmbeddingFunction` protocol (`__call__`, static `name()`,
`get_config()`, `build_from_config()`, `default_space()`), and wordllama and lexical are registered
with Chroma, so a collection reopened later rebuilds its function from the stored config instead of
warning or falling back to the downloading default. `OllamaEmbedding` uses the same name and config
keys as Chroma's own Ollama function ("ollama": url, model_name, timeout), so any Chroma client can
read such a collection. `embedding_id()` is the short string stored in the collection's metadata:
when the configured embedding differs from the stored one, the collection is re-embedded.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from agent_host.memory.errors import MemoryStoreError

if TYPE_CHECKING:
    from agent_host.memory.settings import MemorySettings

WORDLLAMA_DIM = 256
LEXICAL_DIM = 256
OLLAMA_TIMEOUT_S = 60.0

# What an empty text is embedded as: an all-zero vector has no cosine distance to anything.
_EMPTY_TEXT = "(empty)"

_wordllama_lock = threading.Lock()
_wordllama_model: Any = None


def _wordllama() -> Any:
    """The wordllama model, loaded on first use and shared by every caller of this process.

    `cache_dir` is the package's own folder: `WordLlama.load()` otherwise looks for its tokenizer in
    `tokenizer/` (the wheel has `tokenizers/`) and tries to download it from Hugging Face.
    """
    global _wordllama_model
    if _wordllama_model is not None:
        return _wordllama_model
    with _wordllama_lock:
        if _wordllama_model is None:
            try:
                import wordllama
                from wordllama import WordLlama

                _wordllama_model = WordLlama.load(
                    cache_dir=Path(wordllama.__file__).parent, dim=WORDLLAMA_DIM, disable_download=True
                )
            except Exception as exc:  # an ImportError or a broken wheel: say which, in one line
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise MemoryStoreError(
                    f"the wordllama embedding could not be loaded: {first}; install the agent extra "
                    "(uv sync --extra agent)"
                ) from exc
    return _wordllama_model


def _texts(input: Documents) -> list[str]:
    return [text if text and text.strip() else _EMPTY_TEXT for text in input]


class FixedDimensionEmbedding:
    """What Chroma asks of each of our embedding functions beyond `__call__`: cosine space first,
    and the dimension as the stored config (rebuilt by `build_from_config`)."""

    dim: int

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}


def unit_vector(vector: np.ndarray, spare: int) -> np.ndarray:
    """`vector` scaled to length 1; a zero vector becomes the unit vector at `spare` (cosine is
    undefined for a zero vector, and Chroma would store NaNs)."""
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        vector[spare] = 1.0
        return vector
    return vector / norm


@register_embedding_function
class WordLlamaEmbedding(FixedDimensionEmbedding, EmbeddingFunction[Documents]):
    """wordllama 0.4 (`l2_supercat`, 256 dimensions), offline; vectors are L2-normalised."""

    def __init__(self) -> None:
        self.dim = WORDLLAMA_DIM

    def __call__(self, input: Documents) -> Embeddings:
        texts = _texts(input)
        if not texts:
            return []
        vectors = _wordllama().embed(texts, norm=True, return_np=True)
        return [np.asarray(row, dtype=np.float32) for row in vectors]

    @staticmethod
    def name() -> str:
        return "wordllama"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbedding:
        return WordLlamaEmbedding()

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if new_config.get("dim", WORDLLAMA_DIM) != WORDLLAMA_DIM:
            raise ValueError("wordllama's dimension is fixed at 256: re-embed into a new collection instead")


class OllamaEmbedding(EmbeddingFunction[Documents]):
    """An Ollama server's `/api/embed` with `model`; any failure is a one-line `MemoryStoreError`.

    Not registered with Chroma: its name and config match Chroma's built-in Ollama function, which
    Chroma rebuilds a reopened collection's function from (we always pass this one explicitly).
    """

    def __init__(self, host: str, model: str, timeout: float = OLLAMA_TIMEOUT_S) -> None:
        from ollama import Client  # imported here: only an Ollama-configured agent needs it

        self.host = host
        self.model = model
        self.timeout = timeout
        self._client = Client(host=host, timeout=timeout)

    def __call__(self, input: Documents) -> Embeddings:
        texts = _texts(input)
        if not texts:
            return []
        try:
            response = self._client.embed(model=self.model, input=texts)
            vectors = list(response["embeddings"])
        except Exception as exc:  # connection refused, 404 model not found, 5xx, timeouts …
            raise MemoryStoreError(self._failure(exc)) from exc
        if len(vectors) != len(texts):
            raise MemoryStoreError(
                self._failure(ValueError(f"{len(vectors)} vectors came back for {len(texts)} texts"))
            )
        return [np.asarray(vector, dtype=np.float32) for vector in vectors]

    def _failure(self, exc: Exception) -> str:
        lines = str(exc).strip().splitlines()
        why = (lines[0] if lines else type(exc).__name__)[:300]
        return (
            f"Ollama at {self.host} could not embed with {self.model}: {why}; pull the model or set "
            "INFRAGUARDIAN_AGENT__MEMORY__EMBEDDING=wordllama"
        )

    @staticmethod
    def name() -> str:
        return "ollama"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        # Chroma's own OllamaEmbeddingFunction keys, so its registry can rebuild this config.
        return {"url": self.host, "model_name": self.model, "timeout": self.timeout}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OllamaEmbedding:
        return OllamaEmbedding(
            host=str(config["url"]),
            model=str(config["model_name"]),
            timeout=float(config.get("timeout") or OLLAMA_TIMEOUT_S),
        )

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if "model_name" in new_config and new_config["model_name"] != old_config.get("model_name"):
            raise ValueError("the Ollama model of a collection cannot change: re-embed it instead")


_TOKEN = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")


def lexical_tokens(text: str) -> list[str]:
    """Lowercase words (`exit_code`, `oom-killed`, `10.0.0.1` stay whole), then adjacent pairs."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@register_embedding_function
class LexicalEmbedding(FixedDimensionEmbedding, EmbeddingFunction[Documents]):
    """Hashed bag of words and word pairs into 256 signed buckets, L2-normalised; deterministic
    across processes (blake2b, not Python's salted `hash()`)."""

    def __init__(self) -> None:
        self.dim = LEXICAL_DIM

    def embed_one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for token in lexical_tokens(text) or [_EMPTY_TEXT]:
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign
        return unit_vector(vector, spare=0)  # every token may cancel out

    def __call__(self, input: Documents) -> Embeddings:
        return [self.embed_one(text) for text in input]

    @staticmethod
    def name() -> str:
        return "lexical"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LexicalEmbedding:
        return LexicalEmbedding()


def embedding_id(fn: EmbeddingFunction[Documents]) -> str:
    """What the vectors of a collection were made with, e.g. "wordllama-256", "ollama:nomic-embed-text",
    "lexical-256"; stored in the collection metadata so a different one is never mixed in."""
    if isinstance(fn, WordLlamaEmbedding):
        return f"wordllama-{fn.dim}"
    if isinstance(fn, OllamaEmbedding):
        return f"ollama:{fn.model}"
    if isinstance(fn, LexicalEmbedding):
        return f"lexical-{fn.dim}"
    return str(fn.name())


def embedding_for(settings: MemorySettings, ollama_host: str | None) -> EmbeddingFunction[Documents]:
    """The embedding the settings ask for: wordllama unless `embedding=ollama` (which needs a host)."""
    if settings.embedding == "ollama":
        if not ollama_host:
            raise MemoryStoreError(
                "embedding=ollama needs OLLAMA_HOST or INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST"
            )
        return OllamaEmbedding(host=ollama_host, model=settings.ollama_model)
    return WordLlamaEmbedding()
