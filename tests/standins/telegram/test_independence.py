"""The Telegram stand-in is test equipment: it imports neither the product nor the library it imitates."""

from __future__ import annotations

from pathlib import Path

from tests.standins.test_product_independence import imported_modules

STANDIN = Path(__file__).resolve().parents[3] / "standins" / "telegram"
FORBIDDEN = ("mcp_server", "agent_host", "telegram")


def test_standin_imports_no_product_code_and_not_python_telegram_bot() -> None:
    sources = sorted(STANDIN.rglob("*.py"))
    assert len(sources) >= 10
    offenders = [
        f"{path.name}:{line} imports {module}"
        for path in sources
        for line, module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []
