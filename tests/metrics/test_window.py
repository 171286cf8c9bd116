"""Rule windows stepped with a ManualClock: a breach must hold for the whole `for`, a good reading
ends it, a breach seen from our first reading is undecided until it has lasted long enough, and a
percentile rule judges the timings of a full window."""

from __future__ import annotations

from mcp_server.detectors.base import ManualClock
from mcp_server.metrics.rules import parse_rule
from mcp_server.metrics.window import RuleWindow, percentile


def feed(
    window: RuleWindow, clock: ManualClock, values: list[float], step_s: float = 15.0
) -> list[tuple[bool, bool]]:
    """(breached, decided) after each reading, one reading every `step_s`."""
    out = []
    for value in values:
        judgement = window.add(clock.now(), value)
        out.append((judgement.breached, judgement.decided))
        clock.advance(step_s)
    return out


def test_breach_must_hold_for_the_whole_window() -> None:
    clock = ManualClock()
    window = RuleWindow(parse_rule("queue", "http://n8n/m q > 10 for 1m"))
    # fine first, then 5 breaching readings 15 s apart: the run reaches 60 s on the fifth
    results = feed(window, clock, [3, 45, 45, 45, 45, 45])
    assert results == [
        (False, True),
        (False, True),
        (False, True),
        (False, True),
        (False, True),
        (True, True),
    ]
    last = window.add(clock.now(), 50)
    assert last.breached and last.since is not None and (clock.now() - last.since).total_seconds() == 75
    assert [v for _, v in last.values][-3:] == [45, 45, 50]
    # one good reading ends the run; the next breach starts counting again
    assert feed(window, clock, [2, 60]) == [(False, True), (False, True)]


def test_without_for_the_latest_reading_decides() -> None:
    clock = ManualClock()
    window = RuleWindow(parse_rule("errors", "http://n8n/m e >= 1"))
    assert feed(window, clock, [1, 0, 5]) == [(True, True), (False, True), (True, True)]


def test_breach_from_the_first_reading_is_undecided_until_it_lasted() -> None:
    """After a restart we can't know how long the value has been high: not firing, not fine."""
    clock = ManualClock()
    window = RuleWindow(parse_rule("queue", "http://n8n/m q > 10 for 30s"))
    assert feed(window, clock, [45, 45, 45]) == [(False, False), (False, False), (True, True)]


def test_evidence_keeps_the_newest_points() -> None:
    clock = ManualClock()
    window = RuleWindow(parse_rule("q", "http://n8n/m q > 10"), history_points=4)
    feed(window, clock, [float(v) for v in range(10)])
    judgement = window.add(clock.now(), 99)
    assert [v for _, v in judgement.values] == [7, 8, 9, 99]


def test_percentile_of_a_full_window() -> None:
    clock = ManualClock()
    window = RuleWindow(parse_rule("search", "http://q/h p95 > 500ms for 1m"), history_points=2)
    # slow from the start: undecided until a whole minute of timings exists
    assert feed(window, clock, [900, 900, 900, 900]) == [(False, False)] * 4
    judgement = window.add(clock.now(), 900)
    assert (judgement.breached, judgement.decided, judgement.value) == (True, True, 900)
    assert len(window.samples) == 5  # the whole minute is kept, not just history_points
    # mostly fast: p95 of the minute is still one of the slow timings, until they leave the window
    results = []
    for _ in range(5):
        clock.advance(15)
        j = window.add(clock.now(), 100)
        results.append((j.breached, j.value))
    assert results == [(True, 900), (True, 900), (True, 900), (True, 900), (False, 100)]


def test_nearest_rank_percentile_returns_a_seen_value() -> None:
    timings = [float(v) for v in range(1, 101)]
    assert (percentile(timings, 95), percentile(timings, 50), percentile([7.0], 99)) == (95.0, 50.0, 7.0)
