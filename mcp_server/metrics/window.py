"""The memory of one rule: its recent readings and whether its condition has held long enough.

A plain rule (a Prometheus metric, a JSON field, `latency`) is breached when every reading since
`breached_since` breaches and that run lasts at least the rule's `for` (the latest reading alone
when `for` is 0). A percentile rule (`p95`) is breached when the percentile of the timings over the
last `for` seconds breaches, once a whole window of timings exists.

A failed read adds no reading: the run goes on. The memory lives in the detector, so after a
restart a rule learns again within one window; until then a breaching rule is "undecided" (the
engine keeps a restored signal as it is) rather than "fine".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .rules import MetricRule

# a percentile window of 1 day at a 15 s interval is 5760 timings: beyond that, drop the oldest
MAX_SAMPLES = 10_000


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence: a value that was seen."""
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Judgement:
    """What one new reading says about a rule.

    breached: the condition held for the whole `for` window.
    decided: False when the latest reading breaches but too little was seen to say for how long
        (just started, or a percentile window not yet full): neither firing nor fine.
    value: the number judged (the reading, or the percentile of the window's timings).
    since: when the current breach began (None when the latest judgement does not breach).
    values: the newest readings (time, value), oldest first, for evidence.
    """

    breached: bool
    decided: bool
    value: float
    since: datetime | None
    values: list[tuple[datetime, float]] = field(default_factory=list)


class RuleWindow:
    """The readings of one rule on one target, judged as they arrive (`add`)."""

    def __init__(self, rule: MetricRule, history_points: int = 30) -> None:
        self.rule = rule
        self.history_points = max(history_points, 1)
        self._samples: deque[tuple[datetime, float]] = deque()
        self._first_at: datetime | None = None
        self._since: datetime | None = None  # start of the current run of breaching judgements

    @property
    def samples(self) -> list[tuple[datetime, float]]:
        return list(self._samples)

    def add(self, at: datetime, value: float) -> Judgement:
        """Record one reading taken at `at` (timings in ms for latency rules) and judge the rule."""
        if self._first_at is None:
            self._first_at = at
        self._samples.append((at, value))
        self._prune(at)
        if self.rule.percentile is not None:
            return self._judge_percentile(at)
        return self._judge_plain(at, value)

    def _judge_plain(self, at: datetime, value: float) -> Judgement:
        bad = self.rule.breaches(value)
        if not bad:
            self._since = None
            return Judgement(False, True, value, None, self._recent())
        if self._since is None:
            self._since = at
        breached = (at - self._since).total_seconds() >= self.rule.for_s
        # a run that began with our first reading may have begun earlier: we can't tell yet
        decided = breached or (self._first_at is not None and self._first_at < self._since)
        return Judgement(breached, decided, value, self._since, self._recent())

    def _judge_percentile(self, at: datetime) -> Judgement:
        start = at - timedelta(seconds=self.rule.for_s)
        window = [v for t, v in self._samples if t >= start]
        covered = self.rule.for_s == 0 or self._samples[0][0] <= start
        assert self.rule.percentile is not None
        value = percentile(window, self.rule.percentile)
        bad = self.rule.breaches(value)
        if not bad:
            self._since = None
        elif self._since is None:
            self._since = at
        return Judgement(bad and covered, covered, value, self._since, self._recent())

    def _prune(self, at: datetime) -> None:
        """Keep the newest `history_points` readings; for a percentile rule also the whole `for`
        window and the newest reading at or before its start (it shows the window is covered).
        Plain rules need no more: their run is tracked by `_since`."""
        start = at - timedelta(seconds=self.rule.for_s)
        samples = self._samples
        keep_window = self.rule.percentile is not None
        while len(samples) > self.history_points and (
            not keep_window or len(samples) > MAX_SAMPLES or samples[1][0] <= start
        ):
            samples.popleft()

    def _recent(self) -> list[tuple[datetime, float]]:
        return list(self._samples)[-self.history_points :]
