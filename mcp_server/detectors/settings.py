"""Thresholds and intervals of the detectors, with defaults that suit a small production host.

`DetectorSettings` is a plain pydantic model so the main settings can nest it (e.g. under
`detectors:` in the YAML file). Every duration is in seconds and every share in percent; the field
names say so. Short windows are only for tests: real hosts need minutes to tell a blip from a fault.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mcp_server.metrics.settings import MetricSettings


class DetectorSettings(BaseModel):
    """Configuration of the detector engine and of each detector."""

    model_config = ConfigDict(extra="forbid")

    # -- which detectors and which containers ---------------------------------------------------
    enabled: list[str] | None = Field(
        default=None, description="detector names to run (None = all registered detectors)"
    )
    disabled: list[str] = Field(default_factory=list, description="detector names never to run")
    include_labels: dict[str, str] = Field(
        default_factory=dict,
        description="only watch containers and volumes carrying all these labels (empty = everything)",
    )
    exclude_label: str | None = Field(
        default="infraguardian.ignore",
        description="containers/volumes with this label set to true/1/yes are never watched",
    )
    concurrency: int = Field(default=8, ge=1, le=64, description="parallel engine calls per poll round")

    # -- event-born signals ----------------------------------------------------------------------
    event_hold_s: float = Field(
        default=1800.0,
        gt=0,
        description="a signal born from an event (OOM, exit, crash loop) stays active this long after "
        "its last occurrence, then resolves by itself",
    )
    requested_stop_window_s: float = Field(
        default=120.0,
        gt=0,
        description="a die within this time after a kill/stop request (docker stop, redeploy) is "
        "treated as intended, not as a crash",
    )
    state_poll_interval_s: float = Field(
        default=60.0, gt=0, description="how often exited/OOM-killed containers are re-read (missed events)"
    )
    log_lines_in_evidence: int = Field(default=20, ge=0, le=200)

    # -- crash loop and restart storm ------------------------------------------------------------
    crash_loop_exits: int = Field(
        default=5, ge=2, description="exits of one container/service that make a loop"
    )
    crash_loop_window_s: float = Field(default=600.0, gt=0)
    restart_storm_services: int = Field(
        default=3, ge=2, description="distinct services of one compose project that must die in the window"
    )
    restart_storm_window_s: float = Field(default=300.0, gt=0)

    # -- health checks ---------------------------------------------------------------------------
    unhealthy_poll_interval_s: float = Field(default=60.0, gt=0)

    # -- stats: memory and CPU -------------------------------------------------------------------
    stats_interval_s: float = Field(default=15.0, gt=0, description="how often stats are sampled")
    stats_history_s: float = Field(default=1800.0, gt=0, description="how much stats history is kept")
    memory_warning_percent: float = Field(default=90.0, gt=0, le=100)
    memory_critical_percent: float = Field(default=98.0, gt=0, le=100)
    memory_duration_s: float = Field(default=300.0, ge=0, description="the level must hold this long")
    memory_include_unlimited: bool = Field(
        default=False, description="also judge containers without a memory limit (against host memory)"
    )
    cpu_percent: float = Field(
        default=90.0, gt=0, le=100, description="share of the CPU limit (or of all host CPUs without one)"
    )
    cpu_duration_s: float = Field(default=300.0, ge=0)

    # -- hung (silent and idle) ------------------------------------------------------------------
    hung_interval_s: float = Field(default=30.0, gt=0, description="how often logs are checked for silence")
    hung_min_silence_s: float = Field(default=600.0, gt=0, description="never flag a shorter silence")
    hung_norm_factor: float = Field(
        default=5.0, ge=1, description="flag when silence exceeds this many times the usual log gap"
    )
    hung_norm_percentile: float = Field(default=95.0, gt=0, le=100)
    hung_min_gaps: int = Field(
        default=20, ge=2, description="log gaps to observe before the usual gap is trusted"
    )
    hung_cpu_idle_percent: float = Field(
        default=2.0, ge=0, description="CPU below this (100 = one core) counts as idle"
    )
    hung_log_tail: int = Field(default=500, ge=10, le=10000, description="max log lines read per check")
    hung_learn_window_s: float = Field(
        default=6 * 3600.0, gt=0, description="how far back logs are read the first time a container is seen"
    )
    hung_scope: str = Field(
        default="workers",
        pattern="^(opted_in|workers|all)$",
        description="which containers the hung detector checks: `opted_in` = only those labelled "
        "infraguardian.hung.after=<age or true>; `workers` = those plus containers whose name, image, "
        "command or compose service looks like a queue worker (worker, celery, rq, sidekiq, consumer, "
        "queue, job); `all` = every running container (reads every container's log)",
    )

    # -- disk ------------------------------------------------------------------------------------
    disk_interval_s: float = Field(default=60.0, gt=0)
    disk_warning_percent: float = Field(default=85.0, gt=0, le=100)
    disk_critical_percent: float = Field(default=95.0, gt=0, le=100)
    disk_fill_warning_s: float = Field(
        default=6 * 3600.0, gt=0, description="warn when the projection says full within this time"
    )
    disk_fill_critical_s: float = Field(default=3600.0, gt=0)
    disk_projection_window_s: float = Field(
        default=3600.0, gt=0, description="samples used for the fill rate"
    )
    disk_min_samples: int = Field(default=3, ge=2, description="samples needed before projecting")
    df_image: str | None = Field(
        default=None,
        description="image with `df` (already on the host) to measure disks of a remote engine",
    )

    # -- domains ---------------------------------------------------------------------------------
    domain_interval_s: float = Field(default=60.0, gt=0)
    domain_timeout_s: float = Field(default=10.0, gt=0)
    domain_slow_ms: float = Field(default=5000.0, gt=0)
    # Replay this much event history when the engine starts, so a restart of the server (or a
    # fault in the moment between start and subscription) does not hide a recent OOM kill or crash.
    event_lookback_s: float = Field(default=300.0, ge=0, le=86_400)
    domain_down_statuses: list[int] = Field(
        default_factory=lambda: [404, 502, 503, 504],
        description="HTTP statuses that mean down (Traefik answers 404 when no router matches); "
        "any status >= 500 is down too",
    )
    domain_failures_before_signal: int = Field(
        default=2, ge=1, description="consecutive failed checks before a domain is reported"
    )
    tls_warning_days: float = Field(default=14.0, ge=0)
    tls_critical_days: float = Field(default=3.0, ge=0)
    tls_require_trusted: bool = Field(
        default=True,
        description="report certificates the system trust store rejects (e.g. Traefik's default)",
    )
    tls_ca_file: Path | None = Field(default=None, description="extra CA bundle for the trust check")

    # -- our own probes of container ports (the unresponsive detector) ---------------------------
    probe_interval_s: float = Field(
        default=5.0, gt=0, description="how often each container port is probed (one probe per port)"
    )
    probe_timeout_s: float = Field(default=2.0, gt=0, description="a probe with no answer by then fails")
    probe_failures_before_signal: int = Field(
        default=2, ge=1, description="failed probes in a row before a container is reported"
    )
    probe_retry_delay_s: float = Field(
        default=1.0,
        ge=0,
        description="a port that just failed is probed again after this pause, not a whole interval later",
    )
    probe_start_grace_s: float = Field(
        default=30.0, ge=0, description="a container started this recently is probed but not judged"
    )
    probe_max_ports: int = Field(default=4, ge=1, le=64, description="ports probed per container at most")
    probe_skip_ports: list[int] = Field(
        default_factory=lambda: [22, 25, 53, 1433, 1521, 2181, 3306, 5432, 5672, 6379, 9092, 11211, 27017],
        description="ports never probed unless a label asks (databases and brokers log or block "
        "clients that connect without speaking their protocol)",
    )

    # -- Dokploy deployments ---------------------------------------------------------------------
    deployment_interval_s: float = Field(default=60.0, gt=0)
    deployment_log_lines: int = Field(default=30, ge=0, le=500)

    # -- outside monitors (webhooks) and custom metric rules ---------------------------------------
    external_alert_poll_s: float = Field(
        default=0.5, gt=0, description="how often the alerts received by the webhooks are read"
    )
    metrics: MetricSettings = Field(default_factory=MetricSettings)

    @model_validator(mode="after")
    def _ordered_levels(self) -> DetectorSettings:
        if self.memory_critical_percent < self.memory_warning_percent:
            raise ValueError("memory_critical_percent must be >= memory_warning_percent")
        if self.disk_critical_percent < self.disk_warning_percent:
            raise ValueError("disk_critical_percent must be >= disk_warning_percent")
        if self.tls_critical_days > self.tls_warning_days:
            raise ValueError("tls_critical_days must be <= tls_warning_days")
        if self.disk_fill_critical_s > self.disk_fill_warning_s:
            raise ValueError("disk_fill_critical_s must be <= disk_fill_warning_s")
        return self

    def is_enabled(self, name: str) -> bool:
        """True when the detector `name` should run under these settings."""
        if name in self.disabled:
            return False
        return self.enabled is None or name in self.enabled
