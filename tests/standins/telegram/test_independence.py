"""The Telegram stand-in is test equipment: it imports neither the product nor the library it imitates."""

from __future__ import annotations

from tests.standins.independence import STANDINS, forbidden_imports


def test_standin_imports_no_product_code_and_not_python_telegram_bot() -> None:
    sources = sorted((STANDINS / "telegram").rglob("*.py"))
    assert len(sources) >= 10
    assert forbidden_imports(sources, ("mcp_server", "agent_host", "telegram")) == []
