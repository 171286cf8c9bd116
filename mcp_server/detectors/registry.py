"""Finds the detectors: every `Detector` subclass defined in a module of this package.

Adding a detector = adding a module with one `Detector` subclass that sets `name`. No list to
edit. Modules without a detector (base, engine, samplers, …) are imported and contribute nothing.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

from .base import Detector
from .settings import DetectorSettings


class RegistryError(RuntimeError):
    """Two detectors share a name, or a requested detector does not exist."""


def _package() -> ModuleType:
    return importlib.import_module(__package__ or "mcp_server.detectors")


def detector_classes() -> dict[str, type[Detector]]:
    """name → class of every detector in the package, sorted by name."""
    package = _package()
    found: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, Detector) or cls is Detector or cls.__module__ != module.__name__:
                continue
            if not cls.name:
                continue  # an abstract helper class
            if cls.name in found and found[cls.name] is not cls:
                raise RegistryError(
                    f"two detectors are named {cls.name!r}: {found[cls.name].__module__} and {cls.__module__}"
                )
            found[cls.name] = cls
    return dict(sorted(found.items()))


def build_detectors(settings: DetectorSettings) -> list[Detector]:
    """Instances of the detectors enabled by `settings` (all of them by default)."""
    classes = detector_classes()
    requested = set(settings.enabled or []) | set(settings.disabled)
    unknown = sorted(n for n in requested if n not in classes)
    if unknown:
        raise RegistryError(
            f"unknown detector name(s) {', '.join(unknown)} in settings; known: {', '.join(classes)}"
        )
    return [cls(settings) for name, cls in classes.items() if settings.is_enabled(name)]
