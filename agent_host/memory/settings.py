"""Settings of incident memory (nested in the agent's settings as `memory`):

INFRAGUARDIAN_AGENT__MEMORY__ENABLED        false = no knowledge base at all
INFRAGUARDIAN_AGENT__MEMORY__CHROMA_URL     http(s)://host:port of a Chroma server (else embedded)
INFRAGUARDIAN_AGENT__MEMORY__CHROMA_TOKEN   that server's auth token (never printed)
INFRAGUARDIAN_AGENT__MEMORY__EMBEDDING      wordllama (offline, default) or ollama
INFRAGUARDIAN_AGENT__MEMORY__OLLAMA_MODEL   the Ollama embedding model (default nomic-embed-text)
INFRAGUARDIAN_AGENT__MEMORY__SIMILAR_COUNT  how many similar past incidents a decision sees
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class MemorySettings(BaseModel):
    """Where the incident knowledge base lives and how its texts are turned into vectors."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="keep and consult a knowledge base of past incidents")
    chroma_url: str | None = Field(
        default=None,
        description="http(s)://host:port of a Chroma server; unset = embedded Chroma in <state_dir>/memory",
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="auth token for that Chroma server (sent as `Authorization: Bearer …`)"
    )
    embedding: Literal["wordllama", "ollama"] = Field(
        default="wordllama",
        description="wordllama: offline, weights ship with the package; ollama: the Ollama server's /api/embed",
    )
    ollama_model: str = Field(default="nomic-embed-text", description="embedding model when embedding=ollama")
    similar_count: int = Field(
        default=3, ge=1, le=10, description="similar past incidents shown to a decision"
    )

    @field_validator("chroma_url")
    @classmethod
    def _chroma_url_is_http(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "chroma_url must be http://host:port or https://host:port of a Chroma server "
                "(leave it unset for the embedded store)"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError("chroma_url has a port that is not a number: send http://host:port") from None
        return value.rstrip("/")
