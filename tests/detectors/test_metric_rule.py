"""metric_rule detector: config rules read from a real local HTTP server, judged on a ManualClock
(raised after the `for` window with the contract's evidence, kept while a read fails, resolved when
the value drops); a p95 latency rule; and a label rule on a real container's compose service."""

from __future__ import annotations

from typing import Any

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, DetectorSettings, ManualClock, Target
from mcp_server.detectors.base import fingerprint
from mcp_server.docker_ops.host import DockerHost

from ..metrics.helpers import MetricServer
from .helpers import T0, fast_settings, start, unique, wait_resolved

pytestmark = pytest.mark.anyio

EVIDENCE_KEYS = {
    "rule",
    "expression",
    "source",
    "source_kind",
    "metric",
    "operator",
    "threshold",
    "unit",
    "for_s",
    "value",
    "breached_since",
    "values",
}


@pytest.fixture
def metric_server() -> Any:
    with MetricServer().running() as server:
        yield server


def rule_engine(host: DockerHost, clock: ManualClock, *rules: dict[str, str]) -> DetectorEngine:
    settings = DetectorSettings(enabled=["metric_rule"], metrics={"rules": list(rules)})  # type: ignore[arg-type]
    return DetectorEngine(host, settings, clock=clock)


def notes(engine: DetectorEngine) -> list[str]:
    return next(d.notes for d in engine.status().detectors if d.name == "metric_rule")


async def test_config_rule_fires_after_its_window_and_resolves(
    offline_host: DockerHost, metric_server: MetricServer
) -> None:
    clock = ManualClock(T0)
    url = metric_server.url("/metrics") + "?token=s3cr3t-token-value"
    engine = rule_engine(
        offline_host,
        clock,
        {"name": "queue", "service": "n8n/n8n-worker", "rule": f"{url} n8n_queue_waiting > 10 for 30s"},
    )
    target = Target.for_compose_service("offline", "n8n", "n8n-worker")

    async def poll_with(value: int) -> None:
        metric_server.set("/metrics", f"# TYPE n8n_queue_waiting gauge\nn8n_queue_waiting {value}\n")
        await engine.poll()
        clock.advance(15)

    for value in (3, 45, 45):
        await poll_with(value)
        assert engine.active_signals() == []
    await poll_with(45)  # 30 s of breaching readings
    [signal] = engine.active_signals()
    assert signal.id == fingerprint("metric_rule", target, "queue") and signal.target == target
    assert (signal.kind, signal.runbook, signal.severity) == ("metric_rule", "queue-stuck", "warning")
    assert signal.summary.startswith(
        "n8n-worker: queue n8n_queue_waiting = 45 > 10 for 30s (http://127.0.0.1:"
    )
    evidence = signal.evidence
    assert set(evidence) == EVIDENCE_KEYS
    assert "s3cr3t-token-value" not in str(evidence) and "s3cr3t-token-value" not in signal.summary
    assert (evidence["source_kind"], evidence["metric"], evidence["operator"], evidence["unit"]) == (
        "prometheus",
        "n8n_queue_waiting",
        ">",
        "",
    )
    assert (evidence["threshold"], evidence["for_s"], evidence["value"]) == (10.0, 30.0, 45.0)
    assert evidence["breached_since"] == T0.replace(second=15).isoformat()
    assert [v for _, v in evidence["values"]] == [3.0, 45.0, 45.0, 45.0]
    # the container list fails on this host: noted, and the config rule is judged all the same
    assert any("container list failed" in n for n in notes(engine))

    # a failed read keeps the signal as it is and says why
    metric_server.set("/metrics", "down", status=503)
    await engine.poll()
    assert [s.id for s in engine.active_signals()] == [signal.id]
    assert any("n8n-worker: rule queue: HTTP 503" in n for n in notes(engine))

    clock.advance(15)
    await poll_with(2)
    assert engine.active_signals() == []
    assert engine.resolved_signals()[0].id == signal.id


async def test_p95_latency_rule_and_a_json_rule_on_a_dokploy_app(
    offline_host: DockerHost, metric_server: MetricServer
) -> None:
    clock = ManualClock(T0)
    metric_server.set("/search", "ok", delay_s=0.25)
    metric_server.set("/stats", '{"db": {"connections": 95}}', content_type="application/json")
    engine = rule_engine(
        offline_host,
        clock,
        {
            "name": "search",
            "service": "vectors/qdrant",
            "rule": f"{metric_server.url('/search')} p95 > 100ms",
        },
        {
            "name": "connections",
            "service": "blog",
            "rule": f"{metric_server.url('/stats')} json:db.connections >= 90",
            "severity": "critical",
        },
    )
    await engine.poll()
    signals = {s.evidence["rule"]: s for s in engine.active_signals()}
    latency, connections = signals["search"], signals["connections"]
    assert (latency.runbook, latency.evidence["source_kind"], latency.evidence["percentile"]) == (
        "slow-responses",
        "latency",
        95,
    )
    assert set(latency.evidence) == EVIDENCE_KEYS | {"percentile"}
    assert latency.evidence["unit"] == "ms" and latency.evidence["value"] >= 250
    assert latency.summary.startswith("qdrant: search p95 = ") and "ms > 100ms (" in latency.summary
    assert connections.target == Target.for_swarm_service("offline", "blog")
    assert (connections.severity, connections.runbook) == ("critical", "metric-threshold")
    assert connections.evidence["metric"] == "db.connections" and connections.evidence["value"] == 95

    metric_server.set("/search", "ok")
    metric_server.set("/stats", '{"db": {"connections": 12}}', content_type="application/json")
    clock.advance(15)
    await engine.poll()
    assert engine.active_signals() == []


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_label_rule_on_a_compose_service(
    host: DockerHost, docker_client: docker.DockerClient, metric_server: MetricServer
) -> None:
    project, service = unique("metrics"), "worker"
    metric_server.set("/metrics", "queue_waiting 45\n")
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "infraguardian.metric.queue": f"{metric_server.url('/metrics')} queue_waiting > 10",
        "infraguardian.metric.broken": f"{metric_server.url('/metrics')} queue_waiting >> 10",
    }
    settings = fast_settings(enabled=["metric_rule"], metrics={"interval_s": 0.3})
    async with DetectorEngine(host, settings) as engine:
        container = await start(docker_client, f"{project}-{service}-1", ["sleep", "3600"], labels=labels)
        signal = await engine.wait_for_signal(lambda s: s.kind == "metric_rule", 30)
        assert signal.target == Target.for_compose_service("testhost", project, service)
        assert signal.id == fingerprint("metric_rule", signal.target, "queue")
        assert signal.summary.startswith(f"{service}: queue queue_waiting = 45 > 10 (")
        assert any(
            n.startswith(f"label infraguardian.metric.broken on {project}-{service}-1: rule broken: '>>'")
            for n in notes(engine)
        )

        metric_server.set("/metrics", "queue_waiting 3\n")
        done = await wait_resolved(engine, signal.id, 30)
        assert done.resolution == "metric_rule: condition cleared"

        # high again, then the container goes away: its rule goes with it and the signal resolves
        metric_server.set("/metrics", "queue_waiting 50\n")
        again = await engine.wait_for_signal(lambda s: s.id == signal.id, 30)
        assert again.evidence["value"] == 50
        async with engine.subscribe() as changes:
            await anyio.to_thread.run_sync(lambda: container.remove(force=True))
            with anyio.fail_after(30):
                async for change in changes:
                    if change.change == "resolved" and change.signal.id == signal.id:
                        break
        assert signal.id not in {s.id for s in engine.active_signals()}


async def test_a_restored_signal_waits_for_a_full_window_after_a_restart(
    offline_host: DockerHost, metric_server: MetricServer
) -> None:
    """A new watcher does not know how long the value has been high: the signal it restored is
    neither re-raised nor resolved until a whole `for` window was seen, or a reading is fine."""
    clock = ManualClock(T0)
    rule = {"name": "queue", "service": "n8n/worker", "rule": f"{metric_server.url('/m')} q > 10 for 30s"}
    metric_server.set("/m", "q 45\n")
    first = rule_engine(offline_host, clock, rule)
    for _ in range(3):
        await first.poll()
        clock.advance(15)
    [signal] = first.active_signals()

    restarted = rule_engine(offline_host, clock, rule)
    restarted.restore([signal], seen_until=clock.now())
    for _ in range(2):  # 0 s and 15 s of readings: too short to judge, the signal stays
        await restarted.poll()
        assert [s.id for s in restarted.active_signals()] == [signal.id]
        clock.advance(15)
    metric_server.set("/m", "q 2\n")
    await restarted.poll()
    assert restarted.active_signals() == []
