"""The product never imports the stand-ins: they are test and lab equipment, not part of the server
or the agent. The one exception is the incident lab (`agent_host/lab/`), whose job is to deploy
scenarios through the Dokploy stand-in and, in scripted mode, let the Ollama stand-in play the model;
it is only loaded by `infraguardian-agent lab …`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("mcp_server", "agent_host")
LAB = ROOT / "agent_host" / "lab"


def imported_modules(source: Path) -> list[tuple[int, str]]:
    """Every module a file imports (absolute names; `importlib.import_module("…")` literals too)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def imports_standins(module: str) -> bool:
    return module == "standins" or module.startswith("standins.")


def test_no_product_module_imports_standins() -> None:
    sources = [
        path
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_relative_to(LAB)
    ]
    assert len(sources) > 50, "the walk found too few product files: is ROOT right?"
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources
        for line, module in imported_modules(path)
        if imports_standins(module)
    ]
    assert offenders == []


def test_the_check_sees_every_import_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import standins\n"
        "import os, standins.dokploy.server as s\n"
        "from standins.dokploy import StandIn\n"
        "from . import standins_like\n"
        "import importlib\n"
        "importlib.import_module('standins.dokploy.cli')\n"
        "def f():\n    from standins import dokploy\n"
        "    from standins.ollama.server import OllamaStandIn\n"
    )
    hits = [(line, m) for line, m in imported_modules(sample) if imports_standins(m)]
    assert hits == [
        (1, "standins"),
        (2, "standins.dokploy.server"),
        (3, "standins.dokploy"),
        (6, "standins.dokploy.cli"),
        (8, "standins"),
        (9, "standins.ollama.server"),
    ]


def absolute_imports(source: Path) -> list[tuple[int, str]]:
    """Every module a file imports, relative imports resolved against its package."""
    package = list(source.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
    return [*imported_modules(source), *found]


def test_only_the_lab_command_loads_the_lab() -> None:
    """The lab is reached only from the CLI's `lab` group (and the stand-ins only once a lab runs)."""
    users = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if not path.is_relative_to(LAB)
        for line, module in absolute_imports(path)
        if module == "agent_host.lab" or module.startswith("agent_host.lab.")
    ]
    assert users and all(user.startswith("agent_host/cli.py:") for user in users), users
