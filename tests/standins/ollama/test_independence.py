"""The Ollama stand-in is test equipment: it imports neither the product nor the client it imitates."""

from __future__ import annotations

from tests.standins.independence import STANDINS, forbidden_imports


def test_standin_imports_no_product_code_and_not_the_ollama_client() -> None:
    sources = sorted((STANDINS / "ollama").rglob("*.py"))
    assert len(sources) >= 8
    assert forbidden_imports(sources, ("mcp_server", "agent_host", "ollama")) == []
