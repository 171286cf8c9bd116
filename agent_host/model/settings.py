"""Settings of the model in the loop (`AgentSettings.model`, env `INFRAGUARDIAN_AGENT__MODEL__*`).

    OLLAMA_HOST (or INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST)   e.g. http://127.0.0.1:11434; unset: no model
    INFRAGUARDIAN_AGENT__MODEL__MODEL                          default gpt-oss:20b
    INFRAGUARDIAN_AGENT__MODEL__NUM_CTX                        context window sent with every request (≥ 32768)

Without a host the agent decides by runbooks alone ("runbook-only"); with one that does not answer,
it decides by runbooks and looks for the model again every `recheck_s`.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_NUM_CTX = 32768  # Ollama's default context is 4k on small GPUs: tools or the question get cut


def _ollama_host_from_env() -> str | None:
    return os.environ.get("OLLAMA_HOST") or None


class ModelSettings(BaseModel):
    """Where the model runs, which one, and how much it may do per incident."""

    model_config = ConfigDict(extra="forbid")

    ollama_host: str | None = Field(
        default_factory=_ollama_host_from_env,
        description="Ollama's URL (default: $OLLAMA_HOST); None: no model, runbook-only",
    )
    model: str = Field(default="gpt-oss:20b", min_length=1)
    num_ctx: int = Field(default=MIN_NUM_CTX, ge=1024, description="context window, sent explicitly")
    allow_small_context: bool = Field(
        default=False, description="accept num_ctx below 32768 (tests and labs only)"
    )
    timeout_s: float = Field(default=180.0, gt=0, description="one request to Ollama, thinking included")
    decision_timeout_s: float = Field(
        default=600.0, gt=0, description="one whole decision (all its turns); then the runbook decides"
    )
    max_calls_per_tool: int = Field(
        default=10, ge=0, description="read-only tool calls per tool per incident"
    )
    max_calls_per_incident: int = Field(default=30, ge=0, description="read-only tool calls per incident")
    max_tools: int = Field(default=15, ge=0, le=15, description="tools offered to the model")
    max_tool_tokens: int = Field(default=5000, ge=0, le=5000, description="o200k tokens of those tools")
    max_log_chars: int = Field(default=6000, ge=200, description="log digest given in the prompt")
    max_tool_result_chars: int = Field(default=4000, ge=200, description="one tool answer given back")
    recheck_s: float = Field(default=60.0, gt=0, description="how often an unreachable model is looked for")
    temperature: float | None = Field(default=None, ge=0, le=2, description="None: the model's default")

    @model_validator(mode="after")
    def _enough_context(self) -> ModelSettings:
        if self.num_ctx < MIN_NUM_CTX and not self.allow_small_context:
            raise ValueError(
                f"num_ctx {self.num_ctx} is below {MIN_NUM_CTX}: Ollama would cut the tools or the question; "
                f"send at least {MIN_NUM_CTX}"
            )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.ollama_host)
