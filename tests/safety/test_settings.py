"""SafetySettings on its own and nested in a pydantic-settings model, as the server settings will."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mcp_server.safety import DEFAULT_BUDGETS, Mode, SafetySettings


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFRAGUARDIAN_", env_nested_delimiter="__", extra="forbid")
    safety: SafetySettings = Field(default_factory=SafetySettings)


def test_defaults() -> None:
    settings = SafetySettings()
    assert settings.mode is Mode.OPERATE
    assert settings.budgets == DEFAULT_BUDGETS
    restart = settings.budgets["restart"]
    assert (restart.max_actions, restart.window_s, restart.backoff_after(1), restart.backoff_after(2)) == (
        3,
        1800,
        30,
        60,
    )
    assert settings.max_mutations_per_minute == 30
    assert settings.memory_raise_ceiling_bytes == 4 * 2**30 and settings.memory_raise_max_factor == 2


def test_nested_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRAGUARDIAN_SAFETY__MODE", "read_only")
    monkeypatch.setenv("INFRAGUARDIAN_SAFETY__MAX_MUTATIONS_PER_MINUTE", "10")
    monkeypatch.setenv("INFRAGUARDIAN_SAFETY__BUDGETS", '{"restart": {"max_actions": 5, "window_s": 600}}')
    safety = ServerSettings().safety
    assert safety.mode is Mode.READ_ONLY and safety.max_mutations_per_minute == 10
    assert (
        safety.budgets["restart"].max_actions == 5 and safety.budgets["deploy"] == DEFAULT_BUDGETS["deploy"]
    )


def test_bad_values_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="unknown safety mode 'god'"):
        SafetySettings.model_validate({"mode": "god"})
    with pytest.raises(ValidationError, match="patterns must not be empty"):
        SafetySettings(extra_protected_names=[" "])
    with pytest.raises(ValidationError, match="db_filename"):
        SafetySettings(db_filename="../escape.sqlite3")
    with pytest.raises(ValidationError, match="max_actions"):
        SafetySettings.model_validate({"budgets": {"restart": {"max_actions": 0, "window_s": 60}}})
