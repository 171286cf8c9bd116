"""Package attributes imported on first use (PEP 562), so importing a package stays cheap.

    __getattr__ = lazy_exports(__name__, {"DetectorEngine": ".engine", ...})

The first look-up imports the module and stores the value in the package, so later look-ups do
not come back here. Names not in the table raise AttributeError as usual.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `table[name]` (a submodule) on first use."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(
            importlib.import_module(module if module.startswith(".") else f".{module}", package), name
        )
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
