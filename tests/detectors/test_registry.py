"""The registry: the detectors that run are exactly the explicit list `checks.ALL`, and every
detector has its own module in `checks/` and its own test file here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from mcp_server.detectors import Detector, DetectorSettings, build_detectors, checks, detector_classes
from mcp_server.detectors.checks import ALL, OomDetector
from mcp_server.detectors.registry import RegistryError

TESTS = Path(__file__).parent

pytestmark = pytest.mark.anyio


def test_registry_finds_every_detector_module() -> None:
    names = set(detector_classes())
    assert names == {
        "oom",
        "crash_loop",
        "unhealthy",
        "exited",
        "hung",
        "memory_pressure",
        "cpu_saturation",
        "disk_pressure",
        "restart_storm",
        "domain_down",
        "failed_deployment",
        "unresponsive",
        "external_alert",
        "metric_rule",
    }
    for cls in detector_classes().values():
        assert cls.runbook and cls.description
        assert cls.event_actions or cls(DetectorSettings()).poll_interval_s() is not None
    only = build_detectors(DetectorSettings(enabled=["oom", "hung"], disabled=["hung"]))
    assert [d.name for d in only] == ["oom"]
    with pytest.raises(RegistryError, match="unknown detector name"):
        build_detectors(DetectorSettings(enabled=["nope"]))


def test_every_check_module_is_listed_and_every_listed_detector_has_its_test_file() -> None:
    modules = sorted(info.name for info in pkgutil.iter_modules(checks.__path__))
    # one module per detector, named like the detector, each listed
    assert modules == sorted(cls.name for cls in ALL)
    assert [cls.__module__ for cls in ALL] == [f"{checks.__name__}.{cls.name}" for cls in ALL]
    for name in modules:  # a detector class defined in checks/ but left out of ALL would never run
        module = importlib.import_module(f"{checks.__name__}.{name}")
        defined = {
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Detector) and cls.__module__ == module.__name__
        }
        assert defined <= set(ALL), f"{module.__name__} defines {defined - set(ALL)} but checks.ALL omits it"
    for cls in ALL:
        test_file = TESTS / f"test_{cls.name}.py"
        assert test_file.is_file(), f"{cls.__name__} has no tests/detectors/{test_file.name}"
        text = test_file.read_text()
        assert "def test_" in text and f'"{cls.name}"' in text, f"{test_file.name} does not test {cls.name}"
    # the engine's default set is the list, in name order
    built = build_detectors(DetectorSettings())
    assert [type(d) for d in built] == sorted(ALL, key=lambda cls: cls.name)


def test_registry_rejects_a_duplicate_name_and_a_nameless_detector() -> None:
    class SecondOom(OomDetector):
        pass  # inherits name "oom"

    class Nameless(Detector):
        pass

    with pytest.raises(RegistryError, match="two detectors are named 'oom'"):
        detector_classes([OomDetector, SecondOom])
    with pytest.raises(RegistryError, match="has no `name`"):
        detector_classes([Nameless])
    assert list(detector_classes([OomDetector])) == ["oom"]
