"""The check each stand-in's `test_independence.py` runs: which of its files import what they must not."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tests.standins.test_product_independence import imported_modules

STANDINS = Path(__file__).resolve().parents[2] / "standins"


def forbidden_imports(sources: Iterable[Path], forbidden: Iterable[str]) -> list[str]:
    """One line per import whose top-level package is in `forbidden`: `file.py:LINE imports MODULE`."""
    banned = set(forbidden)
    return [
        f"{path.name}:{line} imports {module}"
        for path in sources
        for line, module in imported_modules(path)
        if module.split(".")[0] in banned
    ]
