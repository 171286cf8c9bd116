"""The alert inbox: recorded Alertmanager / Uptime Kuma requests and small hand-made batches stored in a
real SQLite file: duplicates, out-of-order resolves, implicit resolve (and never with truncation), two
writers on one file, state kept across a reopen."""

from __future__ import annotations

import itertools
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_server.hooks import parse_alertmanager, parse_uptime_kuma
from mcp_server.hooks.inbox import AlertInbox, InboxReceipt
from mcp_server.hooks.models import AlertStatus, ExternalAlert, WebhookBatch

from .recordings import ALERTMANAGER, UPTIME_KUMA, case

HOST = "local"
T0 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
_digests = itertools.count()


def kuma(name: str) -> WebhookBatch:
    r = case(UPTIME_KUMA, name)
    return parse_uptime_kuma(r.method, r.query, r.body, r.content_type)


def am(name: str) -> WebhookBatch:
    r = case(ALERTMANAGER, name)
    return parse_alertmanager(r.body, r.content_type)


def alert(
    key: str,
    status: AlertStatus = "firing",
    *,
    started: datetime | None = T0,
    ended: datetime | None = None,
    received: datetime = T0,
    summary: str = "api is down",
) -> ExternalAlert:
    return ExternalAlert(
        source="alertmanager",
        key=key,
        status=status,
        name="ApiDown",
        summary=summary,
        severity="critical",
        started_at=started,
        ended_at=ended,
        received_at=received,
    )


def batch(*alerts: ExternalAlert, group: str | None = "g1", truncated: int = 0) -> WebhookBatch:
    return WebhookBatch(
        source="alertmanager",
        alerts=alerts,
        group_key=group,
        truncated_alerts=truncated,
        raw_status="firing",
        payload_digest=f"hand-made-{next(_digests)}",
    )


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[AlertInbox]:
    opened = AlertInbox.in_state_dir(tmp_path)
    yield opened
    opened.close()


def firing_keys(inbox: AlertInbox) -> list[str]:
    return [s.alert.key for s in inbox.firing(HOST)]


def test_uptime_kuma_down_resend_up(inbox: AlertInbox, tmp_path: Path) -> None:
    assert inbox.last_seq(HOST) == 0
    assert inbox.accept(HOST, kuma("http_down__json")) == InboxReceipt(accepted=1)
    assert stat.S_IMODE((tmp_path / "signals.sqlite3").stat().st_mode) == 0o600
    seq = inbox.last_seq(HOST)
    assert seq == 1
    [stored] = inbox.firing(HOST)
    assert (stored.alert.key, stored.alert.status, stored.resolved_by) == ("monitor:1", "firing", None)
    first_start = stored.alert.started_at
    # Uptime Kuma's "resend if down" beat: the same DOWN again, later heartbeat time
    resend = inbox.accept(HOST, kuma("http_down_resend__json"))
    assert resend == InboxReceipt(duplicates=1)
    assert resend.summary() == "0 new, 1 duplicate, 0 stale, 0 resolved by absence"
    assert inbox.last_seq(HOST) == seq  # nothing a reader must act on
    [again] = inbox.firing(HOST)
    assert again.alert.started_at == first_start and again.first_seen == stored.first_seen
    assert again.last_seen >= stored.last_seen
    assert inbox.accept(HOST, kuma("http_up__json")) == InboxReceipt(accepted=1)
    assert inbox.firing(HOST) == [] and inbox.last_seq(HOST) == seq + 1
    [recent] = inbox.recent(HOST)
    assert (recent.alert.status, recent.resolved_by) == ("resolved", "sender")


def test_test_notifications_and_empty_batches_store_nothing(inbox: AlertInbox) -> None:
    assert inbox.accept(HOST, kuma("test_notification__json")) == InboxReceipt()
    assert inbox.accept(HOST, batch()) == InboxReceipt()
    assert inbox.last_seq(HOST) == 0 and inbox.recent(HOST) == []


def test_alertmanager_repeat_is_a_duplicate_and_resolve_resolves(inbox: AlertInbox) -> None:
    assert inbox.accept(HOST, am("firing")).accepted == 1
    # byte-identical repeat after repeat_interval, and the same bytes again as a retry
    assert inbox.accept(HOST, am("repeat")) == InboxReceipt(duplicates=1)
    assert inbox.accept(HOST, am("firing")) == InboxReceipt(duplicates=1)
    assert firing_keys(inbox) == ["4f6f9d3b76566105"]
    assert inbox.accept(HOST, am("resolved")) == InboxReceipt(accepted=1)
    assert firing_keys(inbox) == []
    # the firing request retried late (after its resolve): byte-identical, a duplicate, still resolved
    assert inbox.accept(HOST, am("firing")).accepted == 0
    assert firing_keys(inbox) == []


def test_partial_and_full_group_resolve(inbox: AlertInbox) -> None:
    assert inbox.accept(HOST, am("group_2_firing")).accepted == 2
    partial = inbox.accept(HOST, am("group_partial_resolved"))
    assert partial == InboxReceipt(accepted=1, duplicates=1)
    assert firing_keys(inbox) == ["658206c6ba4f7fb4"]
    assert inbox.accept(HOST, am("group_repeat_after_partial")) == InboxReceipt(duplicates=1)
    assert inbox.accept(HOST, am("group_all_resolved")).accepted == 1
    assert firing_keys(inbox) == []


def test_send_resolved_false_resolves_by_absence(inbox: AlertInbox) -> None:
    """With send_resolved: false Alertmanager never says "resolved": the repeat lists only what fires."""
    assert inbox.accept(HOST, am("group_2_firing__send_resolved_false")).accepted == 2
    receipt = inbox.accept(HOST, am("group_partial_resolved__send_resolved_false"))
    assert receipt == InboxReceipt(duplicates=1, implicitly_resolved=1)
    assert firing_keys(inbox) == ["658206c6ba4f7fb4"]
    gone = next(s for s in inbox.recent(HOST) if s.alert.key == "6c1a840bd6015bf3")
    assert (gone.alert.status, gone.resolved_by) == ("resolved", "absent from its group")


def test_truncated_batch_never_resolves_by_absence(inbox: AlertInbox) -> None:
    inbox.accept(HOST, batch(alert("a"), alert("b")))
    truncated = inbox.accept(HOST, batch(alert("b", received=T0 + timedelta(seconds=30)), truncated=1))
    assert truncated == InboxReceipt(duplicates=1)
    assert firing_keys(inbox) == ["a", "b"]
    other_group = inbox.accept(HOST, batch(alert("c"), group="g2"))
    assert other_group == InboxReceipt(accepted=1)
    assert firing_keys(inbox) == ["a", "b", "c"]  # another group's batch says nothing about g1
    complete = inbox.accept(HOST, batch(alert("b", received=T0 + timedelta(seconds=60))))
    assert complete == InboxReceipt(duplicates=1, implicitly_resolved=1)
    assert firing_keys(inbox) == ["b", "c"]


def test_out_of_order_resolve_and_firing_are_stale(inbox: AlertInbox) -> None:
    first = T0
    second = T0 + timedelta(minutes=10)
    inbox.accept(HOST, batch(alert("a", started=first)))
    inbox.accept(HOST, batch(alert("a", "resolved", started=first, ended=first + timedelta(minutes=1))))
    inbox.accept(HOST, batch(alert("a", started=second, received=second)))
    assert firing_keys(inbox) == ["a"]
    seq = inbox.last_seq(HOST)
    # the first occurrence's resolve delivered again, late: older than the current firing
    late = batch(alert("a", "resolved", started=first, ended=first + timedelta(minutes=1)), group=None)
    assert inbox.accept(HOST, late) == InboxReceipt(stale=1)
    assert firing_keys(inbox) == ["a"] and inbox.last_seq(HOST) == seq
    # an Uptime Kuma UP that arrives before its DOWN: the DOWN is older than the stored UP
    assert inbox.accept(HOST, kuma("http_up__json")).accepted == 1
    assert inbox.accept(HOST, kuma("http_down__json")) == InboxReceipt(stale=1)
    assert firing_keys(inbox) == ["a"]


def test_unknown_times_let_the_later_arrival_win(inbox: AlertInbox) -> None:
    inbox.accept(HOST, batch(alert("a", started=None)))
    resolve = alert("a", "resolved", started=None, ended=None, received=T0 + timedelta(seconds=5))
    assert inbox.accept(HOST, batch(resolve)).accepted == 1
    assert (
        inbox.accept(HOST, batch(alert("a", started=None, received=T0 + timedelta(seconds=9)))).accepted == 1
    )
    [again] = inbox.firing(HOST)
    assert again.first_seen == T0 + timedelta(seconds=9)  # a new occurrence starts a new first_seen


def test_changed_summary_is_stored_and_bumps_seq(inbox: AlertInbox) -> None:
    inbox.accept(HOST, batch(alert("a")))
    seq = inbox.last_seq(HOST)
    changed = inbox.accept(
        HOST, batch(alert("a", summary="api is down: 502", received=T0 + timedelta(seconds=5)))
    )
    assert changed == InboxReceipt(duplicates=1)
    assert inbox.last_seq(HOST) == seq + 1
    assert inbox.firing(HOST)[0].alert.summary == "api is down: 502"


def test_hosts_are_separate(inbox: AlertInbox) -> None:
    inbox.accept(HOST, batch(alert("a")))
    assert inbox.firing("other") == [] and inbox.last_seq("other") == 0


def test_two_writers_on_one_file_and_reopen(tmp_path: Path) -> None:
    """Two inbox objects (as in two processes) write at the same time; nothing is lost or doubled, and a
    reopened inbox sees the same state."""
    first, second = AlertInbox.in_state_dir(tmp_path), AlertInbox.in_state_dir(tmp_path)
    errors: list[BaseException] = []

    def write(inbox: AlertInbox, prefix: str) -> None:
        try:
            for i in range(40):
                inbox.accept(HOST, batch(alert(f"{prefix}{i}"), group=f"{prefix}{i}"))
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(ib, p)) for ib, p in ((first, "x"), (second, "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(first.firing(HOST)) == 80 and second.last_seq(HOST) == 80
    first.close()
    second.close()
    reopened = AlertInbox.in_state_dir(tmp_path)
    try:
        assert len(reopened.firing(HOST)) == 80 and reopened.last_seq(HOST) == 80
        assert reopened.accept(HOST, batch(alert("x0"), group="x0")) == InboxReceipt(duplicates=1)
    finally:
        reopened.close()


def test_prune_keeps_the_newest_resolved_and_every_firing(inbox: AlertInbox) -> None:
    for i in range(5):
        at = T0 + timedelta(minutes=i)
        inbox.accept(HOST, batch(alert(f"r{i}", started=at, received=at), group=f"r{i}"))
        done = alert(f"r{i}", "resolved", started=at, ended=at + timedelta(seconds=30), received=at)
        inbox.accept(HOST, batch(done, group=f"r{i}"))
    inbox.accept(HOST, batch(alert("still"), group="still"))
    assert inbox.prune(HOST, keep_resolved=2) == 3
    assert sorted(s.alert.key for s in inbox.recent(HOST)) == ["r3", "r4", "still"]
    assert firing_keys(inbox) == ["still"]


def _other_process_reads(path: Path) -> int:
    """Open, read and close the file from another process (as a reader of the signal store does);
    the firing alerts it sees."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute(\"SELECT COUNT(*) FROM alert_inbox WHERE status = 'firing'\").fetchone()[0]); c.close()"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_opening_the_file_again_in_one_process_keeps_its_writes_visible(tmp_path: Path) -> None:
    """The watcher's inbox, the signal store and the webhook route's inbox share one file in one
    process. Opening it again must not drop that process's locks: another process closing its
    connection would then think itself the last, checkpoint and delete the WAL, and every later
    write of the first connection would be lost to all other readers."""
    first = AlertInbox.in_state_dir(tmp_path)
    try:
        first.accept(HOST, batch(alert("a"), group="a"))
        AlertInbox.in_state_dir(tmp_path).close()  # e.g. the route opening its inbox lazily
        assert _other_process_reads(tmp_path / "signals.sqlite3") == 1
        first.accept(HOST, batch(alert("b"), group="b"))
        assert _other_process_reads(tmp_path / "signals.sqlite3") == 2
    finally:
        first.close()


def test_a_missed_resolve_then_a_new_occurrence_keeps_a_late_resolve_stale(inbox: AlertInbox) -> None:
    """Alertmanager keeps startsAt across repeats: a firing with a later start is a new occurrence
    (the resolve of the first one was lost or is late); that late resolve must not end the new one."""
    first, second = T0, T0 + timedelta(minutes=10)
    inbox.accept(HOST, batch(alert("a", started=first)))
    assert inbox.accept(HOST, batch(alert("a", started=second, received=second))).duplicates == 1
    assert inbox.firing(HOST)[0].alert.started_at == second
    late = alert("a", "resolved", started=first, ended=first + timedelta(minutes=2), received=second)
    assert inbox.accept(HOST, batch(late)) == InboxReceipt(stale=1)
    assert firing_keys(inbox) == ["a"]
