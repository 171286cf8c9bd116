"""The embedding functions: wordllama offline (networking blocked), the lexical baseline's
determinism, Ollama's /api/embed against the real Ollama stand-in, and the one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from chromadb.api.collection_configuration import load_collection_configuration_from_json

from agent_host.memory import embeddings
from agent_host.memory.documents import incident_document
from agent_host.memory.embeddings import (
    LexicalEmbedding,
    OllamaEmbedding,
    WordLlamaEmbedding,
    embedding_for,
    embedding_id,
)
from agent_host.memory.errors import MemoryStoreError
from agent_host.memory.settings import MemorySettings
from standins.ollama.server import OllamaStandIn

from .conftest import varied_incidents

OOM_QUERY = "killed by out of memory, exit 137"


def _cosine(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connect and name lookup raises (and is recorded): nothing may reach out."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[1:] if len(args) > 1 else args))
        raise OSError("networking is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_wordllama_loads_and_embeds_with_networking_blocked(
    no_network: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embeddings, "_wordllama_model", None)  # load it here, under the block
    vectors = WordLlamaEmbedding()(["container api was OOM killed", "disk full on /var/lib/docker"])
    assert len(vectors) == 2
    assert all(v.shape == (256,) for v in vectors)
    assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-3 for v in vectors)
    assert no_network == []
    assert embeddings._wordllama_model is not None  # cached for the next caller


def test_wordllama_ranks_the_oom_incident_first_for_an_oom_question() -> None:
    texts = {i.kind: incident_document(i)[1] for i in varied_incidents()}
    assert len(texts) >= 5
    fn = WordLlamaEmbedding()
    [query] = fn([OOM_QUERY])
    vectors = dict(zip(texts, fn(list(texts.values())), strict=True))
    ranked = sorted(texts, key=lambda kind: -_cosine(query, vectors[kind]))
    assert ranked[0] == "oom", ranked


def test_an_empty_text_gets_a_usable_vector() -> None:
    for fn in (WordLlamaEmbedding(), LexicalEmbedding()):
        [vector] = fn([""])
        assert float(np.linalg.norm(vector)) > 0.5  # cosine distance to it is defined


def test_lexical_is_deterministic_across_processes() -> None:
    text = "api exited with exit_code=137 oom_killed=true after a deploy"
    here = LexicalEmbedding()([text])[0]
    assert np.array_equal(here, LexicalEmbedding()([text])[0])
    code = (
        "import json,sys; from agent_host.memory.embeddings import LexicalEmbedding; "
        f"print(json.dumps([float(x) for x in LexicalEmbedding()([{text!r}])[0]]))"
    )
    # another interpreter with another hash seed: Python's hash() would differ, blake2b does not
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    there = np.asarray(__import__("json").loads(out.stdout), dtype=np.float32)
    assert np.allclose(here, there)
    assert abs(float(np.linalg.norm(here)) - 1.0) < 1e-5


def test_lexical_puts_shared_words_closer() -> None:
    fn = LexicalEmbedding()
    oom, oom2, disk = fn(["api oom killed exit 137", "worker oom killed exit 137", "disk full no space left"])
    assert _cosine(oom, oom2) > _cosine(oom, disk)


def test_embedding_ids_and_the_configured_choice() -> None:
    assert embedding_id(WordLlamaEmbedding()) == "wordllama-256"
    assert embedding_id(LexicalEmbedding()) == "lexical-256"
    assert (
        embedding_id(OllamaEmbedding("http://127.0.0.1:9", "nomic-embed-text")) == "ollama:nomic-embed-text"
    )
    assert isinstance(embedding_for(MemorySettings(), None), WordLlamaEmbedding)
    chosen = embedding_for(MemorySettings(embedding="ollama", ollama_model="mxbai"), "http://127.0.0.1:9")
    assert isinstance(chosen, OllamaEmbedding) and chosen.model == "mxbai"
    with pytest.raises(MemoryStoreError) as caught:
        embedding_for(MemorySettings(embedding="ollama"), None)
    assert (
        str(caught.value) == "embedding=ollama needs OLLAMA_HOST or INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST"
    )


def test_a_stored_config_rebuilds_our_functions_not_chroma_s_default() -> None:
    for fn in (
        WordLlamaEmbedding(),
        LexicalEmbedding(),
        OllamaEmbedding("http://127.0.0.1:9", "nomic-embed-text"),
    ):
        stored = {"embedding_function": {"type": "known", "name": fn.name(), "config": fn.get_config()}}
        rebuilt = load_collection_configuration_from_json(stored).get("embedding_function")
        assert rebuilt is not None and rebuilt.name() == fn.name()
        assert not fn.is_legacy()
        assert fn.default_space() == "cosine"


def test_ollama_embeds_through_the_stand_in(ollama_standin: OllamaStandIn) -> None:
    fn = OllamaEmbedding(ollama_standin.url, "nomic-embed-text")
    vectors = fn(["api OOM killed", "disk full"])
    assert [v.shape for v in vectors] == [(768,), (768,)]  # nomic-embed-text's length
    assert not np.allclose(vectors[0], vectors[1])
    embeds = [r for r in ollama_standin.requests if r.path == "/api/embed"]
    assert len(embeds) == 1
    assert embeds[0].body["model"] == "nomic-embed-text"
    assert embeds[0].body["input"] == ["api OOM killed", "disk full"]
    assert embedding_id(fn) == "ollama:nomic-embed-text"


def test_ollama_down_is_one_clear_line(ollama_standin: OllamaStandIn) -> None:
    fn = OllamaEmbedding(ollama_standin.url, "nomic-embed-text", timeout=10)
    ollama_standin.down()
    with pytest.raises(MemoryStoreError) as caught:
        fn(["api OOM killed"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Ollama at {ollama_standin.url} could not embed with nomic-embed-text: ")
    assert message.endswith("pull the model or set INFRAGUARDIAN_AGENT__MEMORY__EMBEDDING=wordllama")


def test_ollama_without_the_model_says_so(ollama_standin: OllamaStandIn) -> None:
    fn = OllamaEmbedding(ollama_standin.url, "mxbai-embed-large")
    with pytest.raises(MemoryStoreError) as caught:
        fn(["api OOM killed"])
    assert "mxbai-embed-large" in str(caught.value)
    assert "not found" in str(caught.value)
