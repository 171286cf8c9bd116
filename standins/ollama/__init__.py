"""A local stand-in for Ollama's HTTP API that plays scripted model turns, for tests and the incident lab.

The real `ollama` client (`Client`, `AsyncClient`) runs against it unchanged: `/api/chat` with
tools, thinking (`think` = low/medium/high or a bool), `format` ("json" or a JSON schema),
streaming (NDJSON) and not; `/api/tags`, `/api/version`, `/api/show`, `/api/ps`, `/api/embed`
(deterministic hashed bag-of-words vectors); errors with Ollama's status codes and
`{"error": "..."}` bodies. Every request is recorded with an o200k token estimate.

    from standins.ollama import OllamaStandIn
    with OllamaStandIn(script=[{"content": "hello"}]) as ollama_server:
        reply = ollama.Client(host=ollama_server.url).chat("gpt-oss:20b", messages=[...])
    ollama_server.chats[0].messages      # what was sent

Script format: see `standins.ollama.script`. Models: gpt-oss:20b and nomic-embed-text by default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .catalog import ModelCard
    from .records import RecordedRequest
    from .server import OllamaStandIn

__all__ = ["ModelCard", "OllamaStandIn", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    # imported lazily so `--help` of the command stays fast
    if name == "OllamaStandIn":
        from .server import OllamaStandIn

        return OllamaStandIn
    if name == "ModelCard":
        from .catalog import ModelCard

        return ModelCard
    if name == "RecordedRequest":
        from .records import RecordedRequest

        return RecordedRequest
    raise AttributeError(name)
