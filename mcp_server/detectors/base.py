"""The detector interface: what a detector reports (`Signal`), about what (`Target`, the one
model of `mcp_server.targets`, shared with safety and audit), and what it gets to work with
(`DetectorContext`).

A detector is one class in one module of this package (see registry.py). It can react to Docker
events (`event_actions` + `on_event`), be polled on an interval (`poll_interval_s` + `poll`), or
both. Each call returns `Findings`: the signals firing now, the fingerprints whose condition
cleared, and whether the list is complete (then the engine resolves this detector's other signals).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, Field, field_validator

from mcp_server.targets import Target

from .settings import DetectorSettings

if TYPE_CHECKING:
    from mcp_server.docker_ops.events import ContainerEvent
    from mcp_server.docker_ops.host import DockerHost
    from mcp_server.hooks.inbox import AlertInbox

    from .inputs import DeploymentProvider, DomainProvider
    from .samplers import LogGapSampler, StatsSampler
    from .state import ContainerDirectory, LifecycleMemory

MAX_SUMMARY_CHARS = 300
MAX_EVIDENCE_CHARS = 6000
MAX_EVIDENCE_STRING = 600
MAX_EVIDENCE_ITEMS = 30


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class Signal(BaseModel):
    """One detected problem. Repeated evaluation of the same problem keeps the same `id`."""

    id: str = Field(description="fingerprint: same problem on the same target = same id")
    kind: str = Field(description="the detector that raised it, e.g. oom, crash_loop")
    severity: Severity
    summary: str = Field(description="one line for an operator or a small model")
    target: Target
    evidence: dict[str, Any] = Field(default_factory=dict, description="numbers, codes, probe outputs, logs")
    runbook: str = Field(description="suggested runbook name, e.g. oom-killed")
    first_seen: datetime
    last_seen: datetime
    occurred_at: datetime | None = Field(
        default=None,
        description="when it last happened by the engine's record (a kill, an exit), on the watcher's "
        "clock; None: known only from when it was last observed (last_seen)",
    )
    auto_resolve_after_s: float | None = Field(
        default=None, description="resolves by itself this long after last_seen without a new occurrence"
    )
    status: Literal["active", "resolved"] = "active"
    resolved_at: datetime | None = None
    resolution: str | None = Field(default=None, description="why it resolved")

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str) -> str:
        line = " ".join(value.split())
        return line if len(line) <= MAX_SUMMARY_CHARS else line[: MAX_SUMMARY_CHARS - 1] + "…"

    @field_validator("evidence")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return bound_evidence(value)


SignalChangeKind = Literal["raised", "updated", "resolved"]


class SignalChange(BaseModel):
    """What a subscriber receives: a signal was raised, changed severity or runbook ("updated"),
    or resolved. Summaries and evidence of active signals refresh silently on every evaluation."""

    change: SignalChangeKind
    signal: Signal
    at: datetime


def fingerprint(kind: str, target: Target, extra: str = "") -> str:
    """`<kind>-<12 hex>`: stable for the same kind of problem on the same target (its `key()`)."""
    digest = hashlib.sha256(f"{kind}|{target.key()}|{extra}".encode()).hexdigest()[:12]
    return f"{kind}-{digest}"


def _bound_value(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_EVIDENCE_STRING else value[: MAX_EVIDENCE_STRING - 1] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if depth > 3:
        return _bound_value(str(value), depth)
    if isinstance(value, dict):
        items = list(value.items())[:MAX_EVIDENCE_ITEMS]
        return {str(k): _bound_value(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        # the newest entries are at the end of time series and log tails: keep those
        return [_bound_value(v, depth + 1) for v in list(value)[-MAX_EVIDENCE_ITEMS:]]
    if isinstance(value, BaseModel):
        return _bound_value(value.model_dump(mode="json"), depth)
    return _bound_value(str(value), depth)


def bound_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence made JSON-safe and small: strings cut, lists trimmed to their newest items, and
    the whole under MAX_EVIDENCE_CHARS (the longest lists shrink first)."""
    bounded: dict[str, Any] = _bound_value(dict(evidence), 0)
    while len(json.dumps(bounded, default=str)) > MAX_EVIDENCE_CHARS:
        longest = max(bounded, key=lambda k: len(json.dumps(bounded[k], default=str)))
        value = bounded[longest]
        if isinstance(value, list) and len(value) > 1:
            bounded[longest] = value[len(value) // 2 :]
        elif isinstance(value, str) and len(value) > 40:
            bounded[longest] = value[: len(value) // 2] + "…"
        else:
            bounded[longest] = "(dropped: evidence too large)"
            if len(json.dumps(bounded, default=str)) > MAX_EVIDENCE_CHARS:
                break
    return bounded


class Clock(Protocol):
    """Where detectors get the time. Inject a ManualClock in tests to step through windows."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (for window logic in tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


# In the evidence of a signal raised before its evidence was gathered (event-born signals are
# published at once; the logs and inspect results follow in an "updated" change).
EVIDENCE_PENDING = "evidence_pending"


@dataclass
class FollowUp:
    """Evidence to gather after `signal` was published: `gather` returns the complete signal (same
    id), or None when there is nothing to add. Lets event-born signals be raised without waiting
    for logs or `docker inspect`."""

    signal: Signal
    gather: Callable[[], Awaitable[Signal | None]]


@dataclass
class Findings:
    """What one detector call found.

    firing: signals whose condition holds now (new or seen again).
    cleared: fingerprint → reason, for signals whose condition is gone.
    complete: True when `firing` lists every problem this detector currently sees, so the engine
        resolves this detector's other active signals (polled detectors); False for events.
    undecided: fingerprints that could not be judged this round (a source failed); the engine
        leaves them as they are even when `complete` is True.
    notes: problems worth showing in the engine status (one line each), e.g. a failing source.
    follow_ups: evidence to gather after the firing signals are published (see FollowUp).
    """

    firing: list[Signal] = field(default_factory=list)
    cleared: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    undecided: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)

    @classmethod
    def raised_first(cls, signal: Signal, gather: Callable[[], Awaitable[Signal | None]]) -> Findings:
        """Findings that publish `signal` now (its evidence marked pending) and `gather` after."""
        quick = signal.model_copy(update={"evidence": {**signal.evidence, EVIDENCE_PENDING: True}})
        return cls(firing=[quick], follow_ups=[FollowUp(quick, gather)])


@dataclass
class DetectorContext:
    """Everything a detector may use. Shared by all detectors of one engine."""

    host: DockerHost
    settings: DetectorSettings
    clock: Clock
    containers: ContainerDirectory
    lifecycle: LifecycleMemory
    stats: StatsSampler
    logs: LogGapSampler
    domains: DomainProvider | None = None
    deployments: DeploymentProvider | None = None
    # what the webhooks (Uptime Kuma, Alertmanager) received; None: no inbox, no external alerts
    alerts: AlertInbox | None = None
    engine_clock_offset_s: float = 0.0

    @property
    def host_name(self) -> str:
        return self.host.name

    def now(self) -> datetime:
        return self.clock.now()

    def engine_now(self) -> datetime:
        """The Docker engine's current time (log and event timestamps are engine time)."""
        return self.clock.now() + timedelta(seconds=self.engine_clock_offset_s)

    def on_our_clock(self, engine_time: datetime) -> datetime:
        """An engine timestamp (event, exit) on the watcher's clock, comparable with last_seen."""
        return engine_time - timedelta(seconds=self.engine_clock_offset_s)


class Detector:
    """Base class of all detectors. Subclass it in its own module in this package.

    Class attributes: `name` (the signal kind, unique), `runbook` (default runbook name),
    `description` (one line), `event_actions` (Docker container actions to receive).
    Override `poll_interval_s` to be polled, `on_event` / `poll` to detect.
    """

    name: ClassVar[str] = ""
    runbook: ClassVar[str] = ""
    description: ClassVar[str] = ""
    event_actions: ClassVar[frozenset[str]] = frozenset()
    # True: the interval runs from the start of one poll to the next (a slow round does not push
    # the next one back); False: it is the pause after each poll
    fixed_rate: ClassVar[bool] = False

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings

    def poll_interval_s(self) -> float | None:
        """Seconds between polls, or None when this detector is only event-driven."""
        return None

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        return Findings()

    async def poll(self, ctx: DetectorContext) -> Findings:
        return Findings()

    def signal(
        self,
        ctx: DetectorContext,
        target: Target,
        severity: Severity,
        summary: str,
        evidence: dict[str, Any],
        *,
        runbook: str | None = None,
        hold_s: float | None = None,
        occurred_at: datetime | None = None,
    ) -> Signal:
        """Build a signal of this detector's kind with its fingerprint. `occurred_at`: when the
        engine says it happened (engine time; stored on the watcher's clock)."""
        now = ctx.now()
        return Signal(
            id=fingerprint(self.name, target),
            kind=self.name,
            severity=severity,
            summary=summary,
            target=target,
            evidence=evidence,
            runbook=runbook or self.runbook,
            first_seen=now,
            last_seen=now,
            occurred_at=ctx.on_our_clock(occurred_at) if occurred_at else None,
            auto_resolve_after_s=hold_s,
        )

    def fingerprint_of(self, target: Target) -> str:
        return fingerprint(self.name, target)
