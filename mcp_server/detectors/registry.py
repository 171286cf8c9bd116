"""The detectors the engine runs: the explicit list `checks.ALL`, looked up by name.

Adding a detector = adding a module in `checks/` and its class to `checks.ALL`. Nothing is found by
scanning modules, so what runs is exactly what that list says.
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import Detector
from .checks import ALL
from .settings import DetectorSettings


class RegistryError(RuntimeError):
    """Two detectors share a name, a listed class has no name, or a requested detector does not exist."""


def detector_classes(classes: Iterable[type[Detector]] = ALL) -> dict[str, type[Detector]]:
    """name → class of every listed detector (`checks.ALL` by default), sorted by name."""
    found: dict[str, type[Detector]] = {}
    for cls in classes:
        if not cls.name:
            raise RegistryError(f'detector class {cls.__qualname__} has no `name`; set `name = "..."` on it')
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
