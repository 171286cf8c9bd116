"""`/api/tags`, `/api/version`, `/api/show`, `/api/ps` and `/api/embed` through the real client."""

from __future__ import annotations

import math
from collections.abc import Sequence

import httpx
import ollama
import pytest

from standins.ollama import ModelCard, OllamaStandIn

from .conftest import EMBED_MODEL, MODEL


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_tags_list_the_installed_models(client: ollama.Client) -> None:
    models = client.list().models
    assert [m.model for m in models] == [MODEL, f"{EMBED_MODEL}:latest"]
    gpt = models[0]
    assert gpt.details is not None and gpt.details.family == "gptoss"
    assert gpt.details.parameter_size == "20.9B" and gpt.details.quantization_level == "MXFP4"
    assert gpt.size is not None and gpt.size > 10_000_000_000
    assert gpt.digest is not None and len(gpt.digest) == 64 and gpt.modified_at is not None


def test_version(ollama_standin: OllamaStandIn) -> None:
    response = httpx.get(f"{ollama_standin.url}/api/version")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"version": "0.32.15"}
    with OllamaStandIn(version="0.12.3") as other:
        assert httpx.get(f"{other.url}/api/version").json() == {"version": "0.12.3"}


def test_show_capabilities_and_context(client: ollama.Client) -> None:
    shown = client.show(MODEL)
    assert shown.capabilities == ["completion", "tools", "thinking"]
    assert shown.modelinfo is not None and shown.modelinfo["gptoss.context_length"] == 131072
    assert shown.details is not None and shown.details.family == "gptoss"
    assert client.show(EMBED_MODEL).capabilities == ["embedding"]


def test_custom_models_replace_the_defaults() -> None:
    card = ModelCard(name="qwen3:8b", capabilities=("completion", "tools", "thinking"), family="qwen3")
    with OllamaStandIn(models=[card, "llama3.2"]) as server:
        client = ollama.Client(host=server.url)
        assert [m.model for m in client.list().models] == ["qwen3:8b", "llama3.2:latest"]
        with pytest.raises(ollama.ResponseError) as caught:
            client.show(MODEL)
    assert caught.value.status_code == 404


def test_ps_shows_models_used_with_their_context(
    ollama_standin: OllamaStandIn, client: ollama.Client
) -> None:
    assert client.ps().models == []
    ollama_standin.script([{"content": "ok"}])
    client.chat(MODEL, messages=[{"role": "user", "content": "x"}], options={"num_ctx": 32768})
    client.embed(EMBED_MODEL, input="x")
    loaded = {m.model: m.context_length for m in client.ps().models}
    assert loaded == {MODEL: 32768, f"{EMBED_MODEL}:latest": 2048}


def test_embeddings_are_deterministic_unit_vectors(client: ollama.Client) -> None:
    texts = [
        "api container killed: out of memory",
        "the api container was killed, out of memory again",
        "disk full on the vector database volume",
    ]
    first = client.embed(EMBED_MODEL, input=texts)
    again = client.embed(EMBED_MODEL, input=texts)
    assert first.embeddings == again.embeddings
    assert len(first.embeddings) == 3 and all(len(v) == 768 for v in first.embeddings)
    assert all(math.isclose(_cosine(v, v), 1.0, abs_tol=1e-6) for v in first.embeddings)
    oom, oom_again, disk = first.embeddings
    assert _cosine(oom, oom_again) > 0.5 > _cosine(oom, disk)
    assert first.prompt_eval_count and first.prompt_eval_count > 10


@pytest.mark.anyio
async def test_embed_dimensions_and_single_input(ollama_standin: OllamaStandIn) -> None:
    client = ollama.AsyncClient(host=ollama_standin.url)
    full = (await client.embed(EMBED_MODEL, input="restart the worker")).embeddings
    short = (await client.embed(EMBED_MODEL, input="restart the worker", dimensions=64)).embeddings
    assert len(full) == 1 and len(full[0]) == 768 and len(short[0]) == 64
    assert math.isclose(_cosine(short[0], short[0]), 1.0, abs_tol=1e-6)
    assert ollama_standin.requests[-1].body["dimensions"] == 64


def test_embedding_dimension_is_configurable() -> None:
    with OllamaStandIn(embedding_dimension=256) as server:
        vectors = ollama.Client(host=server.url).embed(EMBED_MODEL, input=["a b", "c"]).embeddings
    assert [len(v) for v in vectors] == [256, 256]


def test_embed_input_errors_and_empty_input(ollama_standin: OllamaStandIn) -> None:
    url = f"{ollama_standin.url}/api/embed"
    bad = httpx.post(url, json={"model": EMBED_MODEL, "input": [1, 2]})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid input type"})
    empty = httpx.post(url, json={"model": EMBED_MODEL, "input": ""})
    assert empty.json() == {"model": EMBED_MODEL, "embeddings": []}
    too_long = httpx.post(url, json={"model": EMBED_MODEL, "input": "word " * 3000, "truncate": False})
    assert (too_long.status_code, too_long.json()) == (
        400,
        {"error": "the input length exceeds the context length"},
    )


def test_requests_are_recorded_in_order(ollama_standin: OllamaStandIn, client: ollama.Client) -> None:
    client.list()
    client.show(MODEL)
    with pytest.raises(ollama.ResponseError):
        client.show("missing")
    assert [(r.method, r.path, r.status) for r in ollama_standin.requests] == [
        ("GET", "/api/tags", 200),
        ("POST", "/api/show", 200),
        ("POST", "/api/show", 404),
    ]
    assert ollama_standin.requests[1].model == MODEL
