"""Stats and log samplers (framework, no Docker): sustained conditions, CPU share, log-gap norms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mcp_server.detectors import DetectorSettings
from mcp_server.detectors.samplers import LogGapSampler, StatsSample, percentile, sustained
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0

pytestmark = pytest.mark.anyio


def _sample(
    at: datetime, *, mem: int = 0, cpu: float | None = 0.0, limit_cpus: float | None = None
) -> StatsSample:
    return StatsSample(
        at=at,
        cpu_percent=cpu,
        online_cpus=2,
        cpu_limit_cpus=limit_cpus,
        memory_used_bytes=mem,
        memory_limit_bytes=100,
        memory_limit_set=True,
    )


def test_sustained_needs_the_whole_duration_without_a_break() -> None:
    samples = [_sample(T0 + timedelta(seconds=i * 10), mem=m) for i, m in enumerate([95, 50, 95, 96, 97])]
    high = lambda s: s.memory_percent >= 90  # noqa: E731
    assert sustained(samples, high, 20) is not None
    assert sustained(samples, high, 21) is None  # the dip at 10 s breaks the run
    assert sustained(samples[:2], high, 0) is None  # newest sample is low


def test_cpu_share_uses_the_limit_or_all_host_cpus() -> None:
    assert _sample(T0, cpu=50.0, limit_cpus=0.5).cpu_share_percent == pytest.approx(100.0)
    assert _sample(T0, cpu=50.0).cpu_share_percent == pytest.approx(25.0)
    assert _sample(T0, cpu=None).cpu_share_percent is None


def test_log_gap_norm_is_a_percentile_after_enough_gaps(offline_host: DockerHost) -> None:
    sampler = LogGapSampler(offline_host, DetectorSettings(hung_min_gaps=5, hung_norm_percentile=95))
    sampler.record_gaps("svc", [1.0, 1.0, 1.0])
    assert sampler.norm("svc") == (None, 3)
    sampler.record_gaps("svc", [1.0, 2.0, 30.0] + [1.0] * 14)
    norm, count = sampler.norm("svc")
    assert count == 20 and norm == 2.0  # the single 30 s gap is above the 95th percentile
    assert percentile([5.0], 95) == 5.0
