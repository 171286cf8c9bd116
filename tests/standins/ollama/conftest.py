"""Clients of the real `ollama` library pointed at the `ollama_standin` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ollama
import pytest

from standins.ollama import OllamaStandIn

MODEL = "gpt-oss:20b"
EMBED_MODEL = "nomic-embed-text"

READ_LOGS_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "read_logs",
        "description": "Read the last log lines of a service",
        "parameters": {
            "type": "object",
            "properties": {"service": {"type": "string"}, "lines": {"type": "integer"}},
            "required": ["service"],
        },
    },
}

DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "root_cause": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "solution": {"enum": ["raise_memory_limit", "restart"]},
    },
    "required": ["root_cause", "confidence", "solution"],
    "additionalProperties": False,
}


@pytest.fixture
def client(ollama_standin: OllamaStandIn) -> Iterator[ollama.Client]:
    with ollama.Client(host=ollama_standin.url) as c:
        yield c


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
