"""Signals and the signal book (framework, no Docker): fingerprints and targets, bounded summary
and evidence, dedup, expiry, ordering and subscribers."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mcp_server.detectors import ManualClock, Severity, Target
from mcp_server.detectors.base import MAX_EVIDENCE_CHARS, bound_evidence, fingerprint
from mcp_server.detectors.book import SignalBook
from mcp_server.detectors.state import service_level, target_from_labels

from .helpers import T0, make_signal

pytestmark = pytest.mark.anyio


def test_fingerprint_ignores_container_id_but_not_the_service() -> None:
    a = Target.for_container("h", "shop-web-1", project="shop", service="web", container_id="aaa")
    recreated = a.model_copy(update={"container_id": "bbb"})
    other = Target.for_container("h", "shop-api-1", project="shop", service="api", container_id="aaa")
    assert fingerprint("oom", a) == fingerprint("oom", recreated)
    assert fingerprint("oom", a) != fingerprint("oom", other)
    assert fingerprint("oom", a) != fingerprint("exited", a)
    assert fingerprint("oom", a).startswith("oom-")


def test_swarm_task_names_do_not_split_the_fingerprint() -> None:
    labels = {"com.docker.swarm.service.name": "shop-app"}
    one = target_from_labels("h", "shop-app.1.abc", "id1", labels)
    two = target_from_labels("h", "shop-app.1.xyz", "id2", labels)
    assert one.key() == two.key()
    assert one.app_name == "shop-app" and (one.kind, one.name) == ("swarm_service", "shop-app")
    assert one.container_name == "shop-app.1.abc" and one.key() == "swarm_service:h/shop-app"


def test_stack_containers_map_to_namespace_and_short_service() -> None:
    labels = {"com.docker.swarm.service.name": "blog_db", "com.docker.stack.namespace": "blog"}
    target = target_from_labels("h", "blog_db.1.q", "id", labels)
    assert (target.app_name, target.service, target.name) == ("blog", "db", "blog_db")
    assert service_level(target).container_name is None


def test_only_infraguardians_own_mark_travels_with_a_signal_target() -> None:
    labels = {
        "com.docker.compose.project": "guard", "com.docker.compose.service": "agent",
        "io.infraguardian.self": "true", "traefik.http.routers.x.rule": "Host(`a`)",
    }  # fmt: skip
    own = target_from_labels("h", "guard-agent-1", "id", labels)
    assert own.labels == {"io.infraguardian.self": "true"}
    assert service_level(own).labels == {"io.infraguardian.self": "true"}
    assert service_level(own).key() == "compose_service:h/guard/agent"  # same key as without the mark
    other = target_from_labels("h", "shop-web-1", "id", {**labels, "io.infraguardian.self": "false"})
    assert other.labels == {} and service_level(other).labels == {}


def test_describe_names_the_target() -> None:
    t = Target.for_container("h", "shop-web-1", project="shop", service="web")
    assert t.describe() == "container shop-web-1 on host h"
    assert service_level(t).describe() == "compose service web of project shop on host h"
    assert Target.for_domain("h", "shop.example.com").describe() == "domain shop.example.com on host h"


def test_summary_is_one_bounded_line() -> None:
    clock = ManualClock(T0)
    sig = make_signal(clock, Target.for_host("h"), summary="line one\nline two   " + "x" * 1000)
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


async def test_book_dedups_keeps_first_seen_and_publishes_changes() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    target = Target.for_container("h", "c")
    async with book.subscribe() as changes:
        assert book.upsert(make_signal(clock, target)) is not None
        clock.advance(30)
        assert book.upsert(make_signal(clock, target, summary="new numbers")) is None  # repeat: no change
        clock.advance(30)
        updated = book.upsert(make_signal(clock, target, Severity.critical))
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
    book.upsert(make_signal(clock, Target.for_container("h", "a"), auto_resolve_after_s=60))
    book.upsert(make_signal(clock, Target.for_container("h", "b")))
    clock.advance(59)
    assert book.expire() == []
    clock.advance(1)
    expired = book.expire()
    assert [c.signal.target.container_name for c in expired] == ["a"]
    assert [s.target.container_name for s in book.active()] == ["b"]


def test_book_orders_by_severity() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    book.upsert(make_signal(clock, Target.for_container("h", "w")))
    clock.advance(1)
    book.upsert(make_signal(clock, Target.for_container("h", "c"), Severity.critical))
    assert [s.target.container_name for s in book.active()] == ["c", "w"]


async def test_slow_subscriber_loses_changes_without_blocking() -> None:
    clock = ManualClock(T0)
    book = SignalBook(clock)
    async with book.subscribe(buffer=1):
        book.upsert(make_signal(clock, Target.for_container("h", "a")))
        book.upsert(make_signal(clock, Target.for_container("h", "b")))
    assert book.dropped_changes == 1
    assert len(book.active()) == 2
