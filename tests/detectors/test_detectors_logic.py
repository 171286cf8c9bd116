"""Window, dedup and judgement logic with an injected clock (no Docker needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mcp_server.detectors import (
    DetectorEngine,
    DetectorSettings,
    ManualClock,
    Severity,
    Signal,
    Target,
    build_detectors,
    detector_classes,
)
from mcp_server.detectors.base import MAX_EVIDENCE_CHARS, bound_evidence, fingerprint
from mcp_server.detectors.book import SignalBook
from mcp_server.detectors.checks.disk_pressure import fill_rate
from mcp_server.detectors.checks.failed_deployment import newest_finished
from mcp_server.detectors.evidence import explain_exit_code, short_exit_label
from mcp_server.detectors.fmt import human_bytes, human_duration
from mcp_server.detectors.inputs import DomainSpec, resolve_provider
from mcp_server.detectors.registry import RegistryError
from mcp_server.detectors.samplers import LogGapSampler, StatsSample, percentile, sustained
from mcp_server.detectors.state import labels_in_scope, service_level, target_from_labels
from mcp_server.docker_ops.host import DockerHost
from mcp_server.dokploy.models import Deployment, Domain

from .helpers import make_event

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _signal(
    clock: ManualClock, target: Target, severity: Severity = Severity.warning, **kw: object
) -> Signal:
    now = clock.now()
    return Signal(
        id=fingerprint("test", target),
        kind="test",
        severity=severity,
        summary=str(kw.pop("summary", "something is wrong")),
        target=target,
        runbook="unhealthy",
        first_seen=now,
        last_seen=now,
        **kw,  # type: ignore[arg-type]
    )


def _engine(offline_host: DockerHost, clock: ManualClock, **settings: object) -> DetectorEngine:
    return DetectorEngine(offline_host, DetectorSettings(**settings), clock=clock)  # type: ignore[arg-type]


# -- signals and targets ---------------------------------------------------------------------------
def test_fingerprint_ignores_container_id_but_not_the_service() -> None:
    a = Target(host="h", app_name="shop", service="web", container_name="shop-web-1", container_id="aaa")
    recreated = a.model_copy(update={"container_id": "bbb"})
    other = a.model_copy(update={"service": "api", "container_name": "shop-api-1"})
    assert fingerprint("oom", a) == fingerprint("oom", recreated)
    assert fingerprint("oom", a) != fingerprint("oom", other)
    assert fingerprint("oom", a) != fingerprint("exited", a)
    assert fingerprint("oom", a).startswith("oom-")


def test_swarm_task_names_do_not_split_the_fingerprint() -> None:
    labels = {"com.docker.swarm.service.name": "shop-app"}
    one = target_from_labels("h", "shop-app.1.abc", "id1", labels)
    two = target_from_labels("h", "shop-app.1.xyz", "id2", labels)
    assert one.key() == two.key()
    assert one.app_name == "shop-app" and one.swarm_service == "shop-app"


def test_stack_containers_map_to_namespace_and_short_service() -> None:
    labels = {"com.docker.swarm.service.name": "blog_db", "com.docker.stack.namespace": "blog"}
    target = target_from_labels("h", "blog_db.1.q", "id", labels)
    assert (target.app_name, target.service, target.swarm_service) == ("blog", "db", "blog_db")
    assert service_level(target).container_name is None


def test_describe_names_the_target() -> None:
    t = Target(host="h", app_name="shop", service="web", container_name="shop-web-1")
    assert t.describe() == "container shop-web-1 (compose shop, service web)"
    assert service_level(t).describe() == "compose shop, service web"
    assert Target(host="h", domain="shop.example.com").describe() == "domain shop.example.com"


def test_summary_is_one_bounded_line() -> None:
    clock = ManualClock(T0)
    sig = _signal(clock, Target(host="h"), summary="line one\nline two   " + "x" * 1000)
    assert "\n" in "line one\nline two" and "\n" not in sig.summary
    assert len(sig.summary) <= 300


def test_evidence_is_bounded_and_keeps_the_newest_items() -> None:
    evidence = {
        "log": [f"line {i} " + "y" * 200 for i in range(500)],
        "text": "z" * 10_000,
        "when": T0,
        "nested": {"deep": {"deeper": {"deepest": {"x": [1, 2, 3]}}}},
    }
    bounded = bound_evidence(evidence)
    assert len(json.dumps(bounded)) <= MAX_EVIDENCE_CHARS
    assert bounded["log"][-1].startswith("line 499")
    assert bounded["when"] == T0.isoformat()
    assert len(bounded["text"]) < 10_000


# -- the signal book -------------------------------------------------------------------------------
async def test_book_dedups_keeps_first_seen_and_publishes_changes() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    target = Target(host="h", container_name="c")
    async with book.subscribe() as changes:
        assert book.upsert(_signal(clock, target)) is not None
        clock.advance(30)
        assert book.upsert(_signal(clock, target, summary="new numbers")) is None  # repeat: no change
        clock.advance(30)
        updated = book.upsert(_signal(clock, target, Severity.critical))
        assert updated is not None and updated.change == "updated"
        resolved = book.resolve(fingerprint("test", target), "healthy again")
        assert resolved is not None
        kinds = [changes.receive_nowait().change for _ in range(3)]
    assert kinds == ["raised", "updated", "resolved"]
    assert book.active() == []
    done = book.resolved()[0]
    assert done.first_seen == T0 and done.last_seen == T0 + timedelta(seconds=60)
    assert done.status == "resolved" and done.resolution == "healthy again"


def test_book_expires_event_signals_after_their_hold() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    book.upsert(_signal(clock, Target(host="h", container_name="a"), auto_resolve_after_s=60))
    book.upsert(_signal(clock, Target(host="h", container_name="b")))
    clock.advance(59)
    assert book.expire() == []
    clock.advance(1)
    expired = book.expire()
    assert [c.signal.target.container_name for c in expired] == ["a"]
    assert [s.target.container_name for s in book.active()] == ["b"]


def test_book_orders_by_severity() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    book.upsert(_signal(clock, Target(host="h", container_name="w")))
    clock.advance(1)
    book.upsert(_signal(clock, Target(host="h", container_name="c"), Severity.critical))
    assert [s.target.container_name for s in book.active()] == ["c", "w"]


async def test_slow_subscriber_loses_changes_without_blocking() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    async with book.subscribe(buffer=1):
        book.upsert(_signal(clock, Target(host="h", container_name="a")))
        book.upsert(_signal(clock, Target(host="h", container_name="b")))
    assert book.dropped_changes == 1
    assert len(book.active()) == 2


# -- event-driven detectors through the engine -----------------------------------------------------
async def test_crash_loop_needs_n_exits_within_the_window(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(offline_host, clock, crash_loop_exits=3, crash_loop_window_s=60, enabled=["crash_loop"])
    # two exits, then a long pause: the first falls out of the window
    await engine.handle_event(make_event("die", T0, exit_code=1, container_id="a"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=10), exit_code=1, container_id="b"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=70), exit_code=1, container_id="c"))
    assert engine.active_signals() == []
    # a recreated container of the same service counts towards the same loop
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=75), exit_code=1, container_id="d"))
    assert engine.active_signals() == []  # 0 s and 10 s fell out of the window: only 2 exits
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=80), exit_code=2, container_id="e"))
    [sig] = engine.active_signals()
    assert sig.kind == "crash_loop" and sig.severity == Severity.critical
    assert sig.target.app_name == "shop" and sig.target.service == "web" and sig.target.container_name is None
    assert sig.evidence["exit_codes"] == [1, 1, 2]
    assert "3 exits" in sig.summary and "code 2" in sig.summary
    assert sig.auto_resolve_after_s == 60


async def test_requested_stops_are_not_crashes(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(
        offline_host,
        clock,
        crash_loop_exits=2,
        restart_storm_services=2,
        enabled=["crash_loop", "exited", "restart_storm"],
    )
    for i, service in enumerate(["web", "api", "web"]):
        at = T0 + timedelta(seconds=i * 5)
        cid = f"id-{service}"
        await engine.handle_event(make_event("kill", at, container_id=cid, service=service, signal="15"))
        await engine.handle_event(
            make_event("die", at + timedelta(seconds=1), container_id=cid, service=service, exit_code=143)
        )
    assert engine.active_signals() == []


async def test_a_reload_signal_does_not_hide_a_crash(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(offline_host, clock, enabled=["exited"])
    await engine.handle_event(make_event("kill", T0, signal="SIGHUP"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=1), exit_code=3))
    [sig] = engine.active_signals()
    assert sig.kind == "exited" and sig.evidence["exit_code"] == 3
    assert sig.runbook == "exited-nonzero"
    # the engine can't be asked: the detector still reports from the event, and says so
    assert sig.evidence["last_log_lines"][0].startswith("(logs unavailable")


async def test_clean_exit_is_not_reported(offline_host: DockerHost) -> None:
    engine = _engine(offline_host, ManualClock(T0), enabled=["exited"])
    await engine.handle_event(make_event("die", T0, exit_code=0))
    assert engine.active_signals() == []


async def test_oom_event_then_die_137_is_one_critical_signal(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(offline_host, clock, enabled=["oom", "exited"])
    await engine.handle_event(make_event("oom", T0))
    [warning] = engine.active_signals()
    assert warning.severity == Severity.warning
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=1), exit_code=137))
    [sig] = engine.active_signals()  # exited stays quiet: exit 137 right after an oom is the OOM kill
    assert sig.id == warning.id and sig.severity == Severity.critical and sig.runbook == "oom-killed"
    assert "OOM" in sig.evidence["explanation"]["meaning"]


async def test_restart_storm_needs_distinct_services(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(
        offline_host, clock, restart_storm_services=3, restart_storm_window_s=120, enabled=["restart_storm"]
    )
    for i in range(5):  # one service dying often is a crash loop, not a storm
        await engine.handle_event(make_event("die", T0 + timedelta(seconds=i), exit_code=1, service="web"))
    assert engine.active_signals() == []
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=10), exit_code=1, service="api"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=20), exit_code=1, service="worker"))
    [sig] = engine.active_signals()
    assert sig.target.app_name == "shop" and sig.target.service is None
    assert sig.evidence["services"] == ["api", "web", "worker"]
    assert sig.evidence["exits_per_service"]["web"] == 5
    # containers without a compose project never make a storm
    other = _engine(offline_host, clock, restart_storm_services=2, enabled=["restart_storm"])
    for svc in ("a", "b", "c"):
        await other.handle_event(make_event("die", T0, exit_code=1, project=None, service=None, name=svc))
    assert other.active_signals() == []


async def test_unhealthy_clears_on_healthy_event(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = _engine(offline_host, clock, enabled=["unhealthy"])
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    # raised for an earlier container of the same name: the fingerprint ignores the id
    target = target_from_labels("offline", "shop-web-1", "earlier-id", labels)
    raised = _signal(clock, target).model_copy(
        update={"id": fingerprint("unhealthy", target), "kind": "unhealthy"}
    )
    engine.book.upsert(raised)
    await engine.handle_event(make_event("health_status", T0, health="starting"))
    assert [s.id for s in engine.active_signals()] == [raised.id]
    await engine.handle_event(make_event("health_status", T0, health="healthy"))
    assert engine.active_signals() == []
    assert engine.resolved_signals()[0].resolution == "container shop-web-1 is healthy again"


async def test_events_outside_the_label_scope_are_ignored(offline_host: DockerHost) -> None:
    engine = _engine(offline_host, ManualClock(T0), include_labels={"team": "a"}, enabled=["exited"])
    await engine.handle_event(make_event("die", T0, exit_code=1))
    assert engine.active_signals() == []
    assert labels_in_scope({"team": "a"}, DetectorSettings(include_labels={"team": "a"}))
    assert not labels_in_scope({"infraguardian.ignore": "true"}, DetectorSettings())


async def test_a_failing_detector_is_recorded_and_the_others_run(offline_host: DockerHost) -> None:
    engine = _engine(offline_host, ManualClock(T0), enabled=["unhealthy", "exited"])
    changes = await engine.poll()  # both poll the engine, which is unreachable
    assert changes == []
    status = {d.name: d for d in engine.status().detectors}
    assert status["unhealthy"].errors == 1 and "not reachable" in (status["unhealthy"].last_error or "")
    await engine.handle_event(make_event("die", T0, exit_code=1))
    assert [s.kind for s in engine.active_signals()] == ["exited"]


# -- sampled detectors' pure parts -----------------------------------------------------------------
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


def test_fill_rate_projection() -> None:
    samples = [(T0 + timedelta(seconds=i * 60), 1000 + i * 600) for i in range(5)]
    assert fill_rate(samples) == pytest.approx(10.0)  # 600 bytes per minute
    assert fill_rate([(T0, 5), (T0, 9)]) is None
    assert fill_rate(samples[:1]) is None


# -- inputs, deployments, exit codes, registry, settings ------------------------------------------
def test_domain_spec_from_dokploy_and_connect_override() -> None:
    row = Domain.model_validate(
        {
            "domainId": "d1",
            "host": "Shop.Example.com",
            "https": True,
            "port": 3000,
            "path": "api",
            "serviceName": "web",
            "composeId": "cmp1",
        }
    )
    spec = DomainSpec.from_dokploy(row, app_name="shop-abc")
    assert spec.url == "https://shop.example.com/api" and spec.expected_target == "web:3000"
    assert spec.dokploy_id == "cmp1" and spec.label == "shop.example.com/api"
    local = spec.model_copy(update={"connect_to": "127.0.0.1:8443"})
    assert local.connect_address() == ("127.0.0.1", 8443)
    with pytest.raises(ValidationError, match="bare host name"):
        DomainSpec(host="https://shop.example.com")


async def test_providers_can_be_lists_or_sync_or_async_functions() -> None:
    async def later() -> list[int]:
        return [3]

    assert await resolve_provider([1]) == [1]
    assert await resolve_provider(lambda: [2]) == [2]
    assert await resolve_provider(later) == [3]
    assert await resolve_provider(None) == []


def test_newest_finished_deployment_and_error_streak() -> None:
    def row(i: str, status: str, minute: int) -> Deployment:
        return Deployment(deployment_id=i, status=status, created_at=f"2026-03-01T12:{minute:02d}:00.000Z")  # type: ignore[arg-type]

    rows = [row("a", "done", 1), row("b", "error", 2), row("c", "error", 3), row("d", "running", 4)]
    newest, streak, last_ok = newest_finished(rows)
    assert newest is not None and newest.deployment_id == "c" and streak == 2
    assert last_ok is not None and last_ok.deployment_id == "a"
    assert newest_finished([row("x", "running", 1)]) == (None, 0, None)


def test_exit_code_words() -> None:
    assert short_exit_label(1) == "general error"
    assert short_exit_label(137, True) == "OOM kill"
    assert short_exit_label(143) == "killed by SIGTERM"
    assert "not found" in explain_exit_code(127)["meaning"]


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
    }
    for cls in detector_classes().values():
        assert cls.runbook and cls.description
        assert cls.event_actions or cls(DetectorSettings()).poll_interval_s() is not None
    only = build_detectors(DetectorSettings(enabled=["oom", "hung"], disabled=["hung"]))
    assert [d.name for d in only] == ["oom"]
    with pytest.raises(RegistryError, match="unknown detector name"):
        build_detectors(DetectorSettings(enabled=["nope"]))


def test_settings_reject_inverted_levels() -> None:
    with pytest.raises(ValidationError, match="memory_critical_percent"):
        DetectorSettings(memory_warning_percent=95, memory_critical_percent=90)
    with pytest.raises(ValidationError):
        DetectorSettings(unknown_field=1)  # type: ignore[call-arg]


def test_human_formatting() -> None:
    assert human_bytes(28 * 1024 * 1024) == "28.0 MiB"
    assert human_duration(30) == "~30 s" and human_duration(600) == "~10 min"
    assert human_duration(0.25) == "~0.2 s" and human_duration(5400) == "~1.5 h"
