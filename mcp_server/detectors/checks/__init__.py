"""The concrete detectors, one module each, and `ALL`: the one list the engine runs.

Adding a detector = adding a module here with one `Detector` subclass that sets `name`, adding its
class to `ALL` below, and adding `tests/detectors/test_<name>.py`. Nothing is found by scanning:
a detector that is not in `ALL` does not run (a test checks that every module here is listed).
The framework the detectors build on (Detector, the engine, samplers, evidence, probes, formatting)
lives one level up in `mcp_server/detectors/`.
"""

from ..base import Detector
from .cpu_saturation import CpuSaturationDetector
from .crash_loop import CrashLoopDetector
from .disk_pressure import DiskPressureDetector
from .domain_down import DomainDownDetector
from .exited import ExitedDetector
from .external_alert import ExternalAlertDetector
from .failed_deployment import FailedDeploymentDetector
from .hung import HungDetector
from .memory_pressure import MemoryPressureDetector
from .metric_rule import MetricRuleDetector
from .oom import OomDetector
from .restart_storm import RestartStormDetector
from .unhealthy import UnhealthyDetector
from .unresponsive import UnresponsiveDetector

# Sorted by detector name: the engine runs them in this order.
ALL: tuple[type[Detector], ...] = (
    CpuSaturationDetector,
    CrashLoopDetector,
    DiskPressureDetector,
    DomainDownDetector,
    ExitedDetector,
    ExternalAlertDetector,
    FailedDeploymentDetector,
    HungDetector,
    MemoryPressureDetector,
    MetricRuleDetector,
    OomDetector,
    RestartStormDetector,
    UnhealthyDetector,
    UnresponsiveDetector,
)

__all__ = [
    "ALL",
    "CpuSaturationDetector",
    "CrashLoopDetector",
    "DiskPressureDetector",
    "DomainDownDetector",
    "ExitedDetector",
    "ExternalAlertDetector",
    "FailedDeploymentDetector",
    "HungDetector",
    "MemoryPressureDetector",
    "MetricRuleDetector",
    "OomDetector",
    "RestartStormDetector",
    "UnhealthyDetector",
    "UnresponsiveDetector",
]
