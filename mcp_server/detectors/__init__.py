"""Detectors: turn Docker events, stats, logs, disks, domains and Dokploy deployments into Signals.

Public API:
    DetectorEngine(host, settings, domains=..., deployments=...)  # `async with engine:` runs it
    engine.active_signals() / engine.subscribe() / engine.status()
    DetectorSettings, Signal, Severity, Target, SignalChange, DomainSpec, DeploymentWatch
The concrete detectors live in `checks/`, one module each, listed in `checks.ALL` (see registry.py).
"""

from typing import TYPE_CHECKING

from mcp_server.lazy_exports import lazy_exports

from .settings import DetectorSettings

if TYPE_CHECKING:
    from .base import Detector, DetectorContext, Findings, ManualClock, Severity, Signal, SignalChange, Target
    from .engine import DetectorEngine, DetectorStatus, EngineStatus
    from .inputs import DeploymentWatch, DomainSpec, dokploy_deployment_watches, dokploy_domain_specs
    from .registry import build_detectors, detector_classes

# Imported on first use: the engine pulls in the Dokploy client (httpx, jsonschema, ~0.8 s), and
# `mcp_server.settings` imports this package for DetectorSettings on every command (so even the
# signal models of .base wait until someone asks for them).
_LAZY = {
    "Detector": ".base",
    "DetectorContext": ".base",
    "Findings": ".base",
    "ManualClock": ".base",
    "Severity": ".base",
    "Signal": ".base",
    "SignalChange": ".base",
    "Target": ".base",
    "DetectorEngine": ".engine",
    "DetectorStatus": ".engine",
    "EngineStatus": ".engine",
    "DeploymentWatch": ".inputs",
    "DomainSpec": ".inputs",
    "dokploy_deployment_watches": ".inputs",
    "dokploy_domain_specs": ".inputs",
    "build_detectors": ".registry",
    "detector_classes": ".registry",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "DeploymentWatch",
    "Detector",
    "DetectorContext",
    "DetectorEngine",
    "DetectorSettings",
    "DetectorStatus",
    "DomainSpec",
    "EngineStatus",
    "Findings",
    "ManualClock",
    "Severity",
    "Signal",
    "SignalChange",
    "Target",
    "build_detectors",
    "detector_classes",
    "dokploy_deployment_watches",
    "dokploy_domain_specs",
]
