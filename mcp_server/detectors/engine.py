"""The detector engine: feeds Docker events and poll timers to the detectors and keeps the list of
active signals.

    engine = DetectorEngine(DockerHost(), DetectorSettings(), domains=[...], deployments=[...])
    async with engine:                      # starts the event stream and the poll loops
        engine.active_signals()             # what is wrong right now
        async with engine.subscribe() as changes:
            async for change in changes:    # raised / updated / resolved
                ...

Events (die, oom, kill, health_status, restart, start, stop, destroy) go to the detectors that
listen for them as they arrive; the other detectors run on their own interval. An event-born
signal is published first and its evidence (logs, inspect results) gathered after; the complete
signal replaces it in the list and the journal (until then its evidence has `evidence_pending:
true`), published as "updated" only when the evidence changed its severity or runbook. After the event
stream reconnects (events may have been missed) every polled detector runs at once.

With a `journal` (the watcher's signal store) every change and every silent refresh of an active
signal is saved after each detector call, so sessions in other processes read the same signals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Literal

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream
from pydantic import BaseModel, Field

from mcp_server.docker_ops.events import ContainerEvent, ContainerEventStream, StreamNotice
from mcp_server.docker_ops.host import DockerHost, DockerOpsError
from mcp_server.docker_ops.timeutil import parse_docker_time

from .base import (
    EVIDENCE_PENDING,
    Clock,
    Detector,
    DetectorContext,
    Findings,
    FollowUp,
    Signal,
    SignalChange,
    SystemClock,
)
from .book import SignalBook
from .inputs import DeploymentProvider, DomainProvider
from .journal import SignalJournal, UnsavedSignals
from .registry import build_detectors
from .samplers import LogGapSampler, StatsSampler
from .settings import DetectorSettings
from .state import ContainerDirectory, LifecycleMemory, labels_in_scope

if TYPE_CHECKING:
    from mcp_server.hooks.inbox import AlertInbox

log = logging.getLogger(__name__)

# the lifecycle memory needs these even when no detector asks for them
_LIFECYCLE_ACTIONS = frozenset({"kill", "stop", "oom", "die", "start", "destroy"})
_INVALIDATING_ACTIONS = frozenset({"start", "die", "destroy", "oom", "health_status", "restart", "stop"})


class DetectorStatus(BaseModel):
    """How one detector is doing (for a status tool or resource)."""

    name: str
    description: str
    event_actions: list[str]
    poll_interval_s: float | None
    runs: int = 0
    errors: int = 0
    last_run_at: datetime | None = None
    last_error: str | None = None
    notes: list[str] = Field(default_factory=list)


class EngineStatus(BaseModel):
    host: str
    event_stream: Literal["not started", "connected", "disconnected"]
    event_stream_message: str | None
    active_signals: int
    dropped_changes: int = Field(description="changes a slow subscriber did not receive")
    detectors: list[DetectorStatus]


class DetectorEngine:
    """Runs detectors against one Docker host and keeps the active signals.

    Args:
        host: the engine to watch.
        settings: thresholds and intervals (defaults when None).
        detectors: the detector instances to run (default: every registered one enabled in settings).
        clock: time source for windows and signal times (inject a ManualClock in unit tests).
        domains: the domains to probe: a list of DomainSpec or a function returning one.
        deployments: the Dokploy deployments to watch: DeploymentWatch list or a function.
        journal: where to save signal changes (None = kept in memory only).
        alerts: the alert inbox the webhooks write to (read by the external_alert detector).
    """

    def __init__(
        self,
        host: DockerHost,
        settings: DetectorSettings | None = None,
        *,
        detectors: Sequence[Detector] | None = None,
        clock: Clock | None = None,
        domains: DomainProvider | None = None,
        deployments: DeploymentProvider | None = None,
        journal: SignalJournal | None = None,
        alerts: AlertInbox | None = None,
    ) -> None:
        self.host = host
        self.journal = journal
        self._unsaved = UnsavedSignals(journal) if journal is not None else None
        # events before this were already seen by a previous watcher (set by the watcher on takeover)
        self.replay_events_from: datetime | None = None
        # restored signal id -> its last_seen: events up to then were judged by the previous watcher
        self._restored_until: dict[str, datetime] = {}
        self.settings = settings or DetectorSettings()
        self.clock = clock or SystemClock()
        self.detectors = list(detectors) if detectors is not None else build_detectors(self.settings)
        self.book = SignalBook(self.clock)
        directory = ContainerDirectory(host, self.settings)
        self.context = DetectorContext(
            host=host,
            settings=self.settings,
            clock=self.clock,
            containers=directory,
            lifecycle=LifecycleMemory(self.settings),
            stats=StatsSampler(host, directory, self.settings, self.clock),
            logs=LogGapSampler(host, self.settings),
            domains=domains,
            deployments=deployments,
            alerts=alerts,
        )
        self._status = {
            d.name: DetectorStatus(
                name=d.name,
                description=d.description,
                event_actions=sorted(d.event_actions),
                poll_interval_s=d.poll_interval_s(),
            )
            for d in self.detectors
        }
        self._wake: dict[str, anyio.Event] = {}
        # a poll loop and an on-demand poll() must not run the same detector at the same time
        self._poll_locks = {d.name: anyio.Lock() for d in self.detectors}
        self._connected = anyio.Event()
        self._stream_state: Literal["not started", "connected", "disconnected"] = "not started"
        self._stream_message: str | None = None
        self._task_group: TaskGroup | None = None
        # evidence gathered after raising: runs beside the event loop while the engine runs
        self._follow_up_group: TaskGroup | None = None
        self._follow_up_limiter = anyio.CapacityLimiter(self.settings.concurrency)
        self._follow_up_turn: dict[str, int] = {}

    def restore(self, signals: list[Signal], seen_until: datetime | None = None) -> None:
        """Start from the active signals a previous watcher saved (call before running), and replay
        only events after `seen_until`, the last time that watcher was known to be alive."""
        self.book.restore(signals)
        self.replay_events_from = seen_until
        self._restored_until = {s.id: s.last_seen for s in signals if s.status == "active"}

    # -- reading ---------------------------------------------------------------------------------
    def active_signals(self) -> list[Signal]:
        """Signals active now, most severe first."""
        return self.book.active()

    def resolved_signals(self) -> list[Signal]:
        """Recently resolved signals (up to 200), newest first."""
        return self.book.resolved()

    def subscribe(
        self, buffer: int = 256
    ) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[SignalChange]]:
        """`async with engine.subscribe() as changes: async for change in changes: ...`"""
        return self.book.subscribe(buffer)

    def status(self) -> EngineStatus:
        return EngineStatus(
            host=self.host.name,
            event_stream=self._stream_state,
            event_stream_message=self._stream_message,
            active_signals=len(self.book.active()),
            dropped_changes=self.book.dropped_changes,
            detectors=[s.model_copy() for s in self._status.values()],
        )

    async def wait_for_signal(
        self, predicate: Callable[[Signal], bool], timeout_s: float, *, with_evidence: bool = True
    ) -> Signal:
        """The first active signal matching `predicate`, waiting up to `timeout_s` for it; with
        `with_evidence` (default) only once its evidence is gathered, else as soon as it is raised.
        Raises TimeoutError when none appears in time."""

        def wanted(signal: Signal) -> bool:
            return predicate(signal) and not (with_evidence and EVIDENCE_PENDING in signal.evidence)

        async with self.subscribe() as changes:
            with anyio.fail_after(timeout_s):
                while True:
                    for signal in self.active_signals():
                        if wanted(signal):
                            return signal
                    # wake on a change, or re-check soon: evidence refreshes are not published
                    with anyio.move_on_after(0.25):
                        await changes.receive()

    async def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Wait until the event stream is subscribed (events from then on are seen)."""
        with anyio.fail_after(timeout_s):
            await self._connected.wait()

    # -- feeding ---------------------------------------------------------------------------------
    async def handle_event(self, event: ContainerEvent) -> list[SignalChange]:
        """Give one container event to the detectors that listen for it."""
        self.context.lifecycle.note(event)
        if event.action in _INVALIDATING_ACTIONS:
            self.context.containers.forget(event.container_id)
        if not labels_in_scope(event.attributes, self.settings):
            return []
        changes: list[SignalChange] = []
        follow_ups: list[FollowUp] = []
        for detector in self.detectors:
            if event.action not in detector.event_actions:
                continue
            findings = await self._guarded(detector, detector.on_event(event, self.context))
            if findings is not None:
                findings = await self._complete_inline(self._skip_judged(findings, event))
                changes += self._apply(detector, findings)
                follow_ups += findings.follow_ups
        await self._save()
        await self._gather_later(follow_ups)
        return changes

    async def poll(self, names: Sequence[str] | None = None) -> list[SignalChange]:
        """Run the polled detectors (all, or those named) once, now."""
        changes: list[SignalChange] = []
        for detector in self.detectors:
            if detector.poll_interval_s() is None or (names is not None and detector.name not in names):
                continue
            changes += await self._poll_one(detector)
        return changes

    def wake_polls(self) -> None:
        """Make every poll loop run now instead of at its next interval."""
        for event in self._wake.values():
            event.set()

    # -- running ---------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled: the event stream, one loop per polled detector, and expiry."""
        await self._sync_engine_clock()
        try:
            async with anyio.create_task_group() as tg:
                self._follow_up_group = tg
                if any(d.event_actions for d in self.detectors):
                    tg.start_soon(self._event_loop)
                else:
                    self._connected.set()
                for detector in self.detectors:
                    if detector.poll_interval_s() is not None:
                        tg.start_soon(self._poll_loop, detector)
                tg.start_soon(self._expire_loop)
        finally:
            self._follow_up_group = None
            # what was found just before a stop is saved too (the lease is still ours then)
            with anyio.move_on_after(5, shield=True):
                await self._save()

    async def __aenter__(self) -> DetectorEngine:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self.run)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return None
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, tb)

    async def _event_loop(self) -> None:
        actions = sorted(_LIFECYCLE_ACTIONS.union(*(d.event_actions for d in self.detectors)))
        since = datetime.now(UTC) - timedelta(seconds=self.settings.event_lookback_s)
        if self.replay_events_from is not None:
            # replaying what the previous watcher already judged would only flap restored signals
            since = max(since, self.replay_events_from)
        items = aiter(ContainerEventStream(self.host, actions=actions, since=since))
        try:
            async for item in items:
                if isinstance(item, StreamNotice):
                    self._on_notice(item)
                    if item.kind == "reconnected":
                        await self._sync_engine_clock()
                        self.wake_polls()
                    continue
                await self.handle_event(item)
        finally:
            with anyio.CancelScope(shield=True):
                await items.aclose()

    def _on_notice(self, notice: StreamNotice) -> None:
        self._stream_message = notice.message
        if notice.kind == "disconnected":
            self._stream_state = "disconnected"
            log.warning("%s", notice.message)
            return
        self._stream_state = "connected"
        self._connected.set()

    async def _poll_loop(self, detector: Detector) -> None:
        interval = detector.poll_interval_s() or 60.0
        while True:
            started = anyio.current_time()
            await self._poll_one(detector)
            wake = self._wake[detector.name] = anyio.Event()
            # fixed-rate detectors (probes) keep their pace however long a round took
            pause = interval - (anyio.current_time() - started) if detector.fixed_rate else interval
            with anyio.move_on_after(max(0.0, pause)):
                await wake.wait()

    async def _expire_loop(self) -> None:
        while True:
            self.expire()
            await self._save()
            await anyio.sleep(1.0)

    async def _poll_one(self, detector: Detector) -> list[SignalChange]:
        async with self._poll_locks.setdefault(detector.name, anyio.Lock()):
            findings = await self._guarded(detector, detector.poll(self.context))
        if findings is not None:
            findings = await self._complete_inline(findings)
        changes = self._apply(detector, findings) if findings is not None else []
        await self._save()
        if findings is not None:
            await self._gather_later(findings.follow_ups)
        return changes

    async def _guarded(self, detector: Detector, call: Awaitable[Findings]) -> Findings | None:
        """Await one detector call; a failing detector is recorded, never stops the others."""
        status = self._status.setdefault(
            detector.name,
            DetectorStatus(name=detector.name, description="", event_actions=[], poll_interval_s=None),
        )
        status.runs += 1
        status.last_run_at = self.clock.now()
        try:
            findings = await call
        except DockerOpsError as exc:
            status.errors += 1
            status.last_error = str(exc)
            return None
        except Exception as exc:  # a plug-in's bug must not take the engine down
            status.errors += 1
            status.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("detector %s failed", detector.name)
            return None
        status.last_error = None
        status.notes = findings.notes[-10:]
        return findings

    def _apply(self, detector: Detector, findings: Findings) -> list[SignalChange]:
        changes: list[SignalChange] = []
        for signal in findings.firing:
            if (change := self.book.upsert(signal)) is not None:
                changes.append(change)
            elif self._unsaved is not None and (stored := self.book.get(signal.id)) is not None:
                self._unsaved.refreshed(stored)
        for signal_id, reason in findings.cleared.items():
            if (change := self.book.resolve(signal_id, reason)) is not None:
                changes.append(change)
        if findings.complete:
            keep = {s.id for s in findings.firing} | findings.undecided
            changes += self.book.resolve_missing(detector.name, keep, f"{detector.name}: condition cleared")
        if self._unsaved is not None:
            self._unsaved.changed(changes)
        return changes

    async def _complete_inline(self, findings: Findings) -> Findings:
        """Outside `run()` (a direct `handle_event` or `poll` call) the caller waits for the
        result anyway: gather the evidence now and publish only complete signals."""
        if self._follow_up_group is not None or not findings.follow_ups:
            return findings
        complete: dict[str, Signal] = {}
        for follow_up in findings.follow_ups:
            complete[follow_up.signal.id] = await self._gathered(follow_up)
        findings.firing = [complete.get(s.id, s) for s in findings.firing]
        findings.follow_ups = []
        return findings

    async def _gather_later(self, follow_ups: list[FollowUp]) -> None:
        """Gather, in the background, the evidence of signals already published (while the
        engine runs, so the next event is not kept waiting for logs or an inspect)."""
        if self._follow_up_group is None:
            return
        active = {s.id for s in self.book.active()}
        for follow_up in follow_ups:
            if follow_up.signal.id not in active:
                continue  # not raised after all (a replay the previous watcher had judged)
            turn = self._follow_up_turn[follow_up.signal.id] = (
                self._follow_up_turn.get(follow_up.signal.id, 0) + 1
            )
            self._follow_up_group.start_soon(self._complete, follow_up, turn)

    async def _gathered(self, follow_up: FollowUp) -> Signal:
        """The complete signal of one follow-up (its evidence no longer pending)."""
        async with self._follow_up_limiter:
            try:
                complete = await follow_up.gather() or follow_up.signal
            except Exception as exc:  # the signal stands; say why its evidence is missing
                log.warning("gathering evidence for %s failed: %s", follow_up.signal.id, exc)
                evidence = {**follow_up.signal.evidence, "evidence_error": f"{type(exc).__name__}: {exc}"}
                complete = follow_up.signal.model_copy(update={"evidence": evidence})
        evidence = {k: v for k, v in complete.evidence.items() if k != EVIDENCE_PENDING}
        return complete.model_copy(update={"evidence": evidence})

    async def _complete(self, follow_up: FollowUp, turn: int) -> None:
        """Run one follow-up and store the complete signal: published as "updated" when its
        severity or runbook changed, else saved as a silent refresh (like any new evidence)."""
        complete = await self._gathered(follow_up)
        if self._follow_up_turn.get(complete.id) != turn:
            return  # a newer occurrence of the same problem is being completed; its evidence wins
        del self._follow_up_turn[complete.id]
        if self.book.get(complete.id) is None:
            return  # resolved in the meantime: evidence must not bring it back
        change = self.book.upsert(complete)
        if self._unsaved is not None:
            if change is not None:
                self._unsaved.changed([change])
            elif (stored := self.book.get(complete.id)) is not None:
                self._unsaved.refreshed(stored)
        await self._save()

    def expire(self) -> list[SignalChange]:
        """Resolve event-born signals whose hold time passed without a new occurrence."""
        changes = self.book.expire()
        if self._unsaved is not None:
            self._unsaved.changed(changes)
        return changes

    def _skip_judged(self, findings: Findings, event: ContainerEvent) -> Findings:
        """Drop what a replayed event says about a restored signal when the previous watcher had
        already seen that event (it happened before the signal's last_seen): replaying an OOM event
        after its die would otherwise flip a critical signal back to warning and up again."""
        if not self._restored_until:
            return findings
        happened = self.context.on_our_clock(event.time)

        def judged(signal_id: str) -> bool:
            until = self._restored_until.get(signal_id)
            if until is None:
                return False
            if happened <= until:
                return True
            del self._restored_until[signal_id]  # a newer event: the usual rules from now on
            return False

        findings.firing = [s for s in findings.firing if not judged(s.id)]
        findings.cleared = {sid: why for sid, why in findings.cleared.items() if not judged(sid)}
        return findings

    async def _save(self) -> None:
        if self._unsaved is not None:
            await self._unsaved.save()

    async def _sync_engine_clock(self) -> None:
        """Learn the offset between the engine's clock and ours (log times are engine times)."""
        try:
            info = await self.host.info()
        except DockerOpsError as exc:
            self._stream_message = str(exc)
            return
        engine_time = parse_docker_time(str(info.get("SystemTime") or ""))
        if engine_time is not None:
            self.context.engine_clock_offset_s = (engine_time - self.clock.now()).total_seconds()
