"""How many refused webhook requests get an audit row: at most `per_minute` per sender address.

Every refused request (wrong token, bad payload, too large) is worth an audit row, but anyone who can
reach the port can send them: without a bound, a loop of bad requests would grow the audit log
without end. Past the bound a sender's refusals are still answered and logged, just not written;
the next row written for that sender says how many were left out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

REFUSALS_AUDITED_PER_MINUTE = 20
MAX_SENDERS = 1000  # addresses remembered; the oldest is forgotten first (a spoofing flood stays bounded)


class RefusalBudget:
    """`take(sender)` → None when this refusal may not be audited, else how many of the sender's
    refusals were left out since its last audited one (0 usually)."""

    def __init__(
        self, per_minute: int = REFUSALS_AUDITED_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ):
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._left_out: dict[str, int] = {}

    def take(self, sender: str) -> int | None:
        now = self._clock()
        with self._lock:
            times = self._recent.pop(sender, None) or deque()
            self._recent[sender] = times  # most recently seen last
            while times and now - times[0] >= 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                self._left_out[sender] = self._left_out.get(sender, 0) + 1
                return None
            times.append(now)
            while len(self._recent) > MAX_SENDERS:
                oldest = next(iter(self._recent))
                del self._recent[oldest]
                self._left_out.pop(oldest, None)
            return self._left_out.pop(sender, 0)
