"""Detectors: turn Docker events, stats, logs, disks, domains and Dokploy deployments into Signals.

Public API:
    DetectorEngine(host, settings, domains=..., deployments=...)  # `async with engine:` runs it
    engine.active_signals() / engine.subscribe() / engine.status()
    DetectorSettings, Signal, Severity, Target, SignalChange, DomainSpec, DeploymentWatch
The concrete detectors live in `checks/`, one module each, listed in `checks.ALL` (see registry.py).
"""

from .base import Detector, DetectorContext, Findings, ManualClock, Severity, Signal, SignalChange, Target
from .engine import DetectorEngine, DetectorStatus, EngineStatus
from .inputs import DeploymentWatch, DomainSpec, dokploy_deployment_watches, dokploy_domain_specs
from .registry import build_detectors, detector_classes
from .settings import DetectorSettings

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
