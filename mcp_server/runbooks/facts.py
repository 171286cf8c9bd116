"""The facts a runbook may test, and the names its arguments may use.

The agent's deterministic pre-diagnosis computes these facts for one incident from the signal and
the context the runbook gathered; a runbook's conditions (`when`, `escalate_when`) may name only
facts listed here, and its tool arguments only the placeholders below. A typo therefore fails when
the runbook loads, not at 2 a.m. Every fact may be absent (unknown): a condition on an absent fact
is false, except `present: false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FactType = Literal["bool", "number", "string", "list"]


@dataclass(frozen=True)
class FactSpec:
    type: FactType
    description: str


FACTS: dict[str, FactSpec] = {
    # the signal
    "signal_kind": FactSpec("string", "the detector that raised the signal, e.g. oom"),
    "signal_severity": FactSpec("string", "info, warning or critical"),
    # the container's last life
    "exit_code": FactSpec("number", "exit code of the last exit"),
    "oom_killed": FactSpec(
        "bool", "the kernel OOM killer ended the container (OOMKilled or exit 137 + oom event)"
    ),
    "running": FactSpec("bool", "a container of the service runs now"),
    "health": FactSpec("string", "healthy, unhealthy, starting or none (no health check)"),
    "process_alive": FactSpec(
        "bool",
        "Docker says unhealthy, yet the container's port answers our own probe (an HTTP status below "
        "500, a non-HTTP reply, or a TCP connect); false: probed, no answer; absent: not probed or "
        "a 5xx. CPU use is no evidence (an idle process uses none, a spinning one plenty)",
    ),
    "healthcheck_cannot_run": FactSpec(
        "bool",
        "the health check's own command fails to start (not found, not executable): its configuration is wrong",
    ),
    "restart_count": FactSpec("number", "Docker's restart count of the current container"),
    "restarts_last_hour": FactSpec("number", "deaths of the service in the last hour"),
    "stack_all_stopped": FactSpec("bool", "every service of the compose is stopped"),
    # memory and CPU
    "memory_limit_bytes": FactSpec("number", "the container's memory limit (absent: none)"),
    "memory_limit": FactSpec("string", "the current memory limit as set, e.g. 256m (to restore it)"),
    "memory_usage_bytes": FactSpec("number", "memory in use now, page cache excluded"),
    "memory_percent": FactSpec("number", "memory in use as a percentage of the limit"),
    "proposed_memory": FactSpec(
        "string", "the next limit to try, e.g. 512m (twice the limit, within headroom)"
    ),
    "proposed_memory_fits": FactSpec(
        "bool", "the proposed limit fits the host's free memory and the ceiling"
    ),
    "memory_raised_before": FactSpec("bool", "this target's limit was raised for an OOM before"),
    "oom_after_raise": FactSpec("bool", "it was OOM-killed again after a raise (a leak is likely)"),
    "cpu_percent": FactSpec("number", "CPU use in percent of its limit or the host's CPUs"),
    "cpu_starved_by": FactSpec(
        "list",
        "other services of the same app that burn at least a quarter of a CPU core while this one, "
        "failing its probe, barely runs (busiest first): a noisy neighbour takes the CPU it needs; "
        "empty: it runs or answers; absent: no stats of the whole app",
    ),
    # deploys
    "minutes_since_deploy": FactSpec("number", "minutes since the newest deployment finished"),
    "last_deploy_failed": FactSpec("bool", "the newest deployment ended in error"),
    "rollback_available": FactSpec("bool", "an earlier snapshot or deployment can be rolled back to"),
    "crashed_after_deploy": FactSpec("bool", "the first crash came within 15 minutes of the newest deploy"),
    # logs (from the digest; matched by code, never by the model)
    "log_patterns": FactSpec(
        "list",
        "known failure patterns in the recent logs: no_space_left, missing_env, config_error, "
        "connection_refused, out_of_memory, permission_denied, address_in_use, stuck_loop",
    ),
    "silent_for_s": FactSpec("number", "seconds since the service last wrote a log line"),
    "worker_like": FactSpec("bool", "the service looks like a queue worker or opted in to hung checks"),
    # the dependency graph
    "upstream_down": FactSpec("list", "upstream services (dependencies) that are down or unhealthy"),
    "dependants": FactSpec("list", "services that depend on this one"),
    "data_service": FactSpec("bool", "the service is a database or keeps data in a volume"),
    # disks
    "disk_used_percent": FactSpec("number", "use of the filling disk or volume"),
    "filling_is_data_volume": FactSpec("bool", "a data volume (not images or build cache) is what fills"),
    "prune_reclaimable_bytes": FactSpec("number", "what a prune of unused images and build cache frees"),
    "volume_name": FactSpec("string", "the filling volume's Docker name, e.g. shop_pgdata"),
    "volume_size_bytes": FactSpec("number", "size of the filling volume's own filesystem (tmpfs, device)"),
    "volume_size": FactSpec("string", "that size as a volume's size option writes it, e.g. 64m"),
    "proposed_volume_size": FactSpec("string", "the size to grow it to: twice its size, e.g. 128m"),
    "volume_growth": FactSpec(
        "string", "how fast it fills, e.g. 'growing 2 MiB/min, full in ~3 min', or that it is not"
    ),
    "volume_services": FactSpec("list", "the compose services that mount the filling volume"),
    "volume_type": FactSpec("string", "its filesystem type from the compose file's driver_opts, e.g. tmpfs"),
    "volume_mountpoint": FactSpec("string", "where the volume is mounted on the Docker host"),
    # metric rules (a metric_rule signal: a number InfraGuardian reads from the service crossed a threshold)
    "metric_rule": FactSpec("string", "name of the metric rule that fired, e.g. queue or latency"),
    "metric_name": FactSpec(
        "string", "what the rule reads: a Prometheus metric (n8n_queue_waiting), a JSON field, or p95"
    ),
    "metric_source_kind": FactSpec("string", "where the number comes from: prometheus, json or latency"),
    "metric_value": FactSpec("number", "the newest value the rule read"),
    "metric_operator": FactSpec("string", "how the value is compared with the threshold, e.g. >"),
    "metric_threshold": FactSpec("number", "the rule's threshold (in metric_unit)"),
    "metric_unit": FactSpec("string", "unit of value and threshold: ms for response times, else empty"),
    "metric_breached_for_s": FactSpec("number", "seconds the value has been past the threshold"),
    "service_volumes": FactSpec(
        "list", "the Docker volumes the incident's service mounts (named volumes of its compose file)"
    ),
    # domains
    "domain_status": FactSpec("number", "HTTP status the domain answered (absent: no answer)"),
    "domain_error": FactSpec("string", "why the request failed: dns, connect, timeout, tls"),
    "cert_days_left": FactSpec("number", "days until the certificate expires"),
    # this target's history (incident store)
    "failed_fixes": FactSpec("number", "fixes that failed for this target in a row"),
    "recurrences_4h": FactSpec("number", "incidents on this target in the last 4 hours"),
}

# Placeholders a tool argument may use: "{app_name}", "{service}"… come from the incident's target;
# "{facts.NAME}" is a fact above (a whole-string placeholder keeps the fact's type).
TARGET_PLACEHOLDERS: dict[str, str] = {
    "app_name": "the compose's Dokploy appName (or Compose project name)",
    "service": "the compose service",
    "container": "the container's name",
    "domain": "the domain's host name",
    "deployment_id": "the newest deployment's id",
}
