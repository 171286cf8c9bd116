"""The agent reads only its own variables: a nested group of settings (flap, learning, memory,
telegram) is set through INFRAGUARDIAN_AGENT__<GROUP>__<NAME>, never by a bare variable of the
shell that happens to share a field's name (COOLDOWN_S, ENABLED, TOKEN…)."""

from __future__ import annotations

import pytest

from agent_host.settings import AgentSettings


def test_bare_shell_variables_are_not_the_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"COOLDOWN_S": "7", "ENABLED": "false", "CHROMA_URL": "http://elsewhere:1",
                        "FAILURE_PENALTY": "0.9", "TOKEN": "123:abc", "ALLOWED_CHAT_IDS": "[1]"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = AgentSettings()
    assert settings.flap.cooldown_s == 300 and settings.learning.failure_penalty == 0.15
    assert settings.memory.enabled is True and settings.memory.chroma_url is None
    assert settings.telegram.token is None and not settings.telegram.enabled


def test_the_agents_own_variables_set_each_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__FLAP__COOLDOWN_S", "7")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__LEARNING__TRUST_AFTER", "3")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__MEMORY__ENABLED", "false")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__TOKEN", "123:abc")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_CHAT_IDS", "[42]")
    settings = AgentSettings()
    assert settings.flap.cooldown_s == 7 and settings.learning.trust_after == 3
    assert settings.memory.enabled is False
    assert settings.telegram.enabled and settings.telegram.allowed_chat_ids == [42]
