"""A long-lived stream of container events that survives engine restarts.

    stream = ContainerEventStream(host)
    async for item in stream:
        if item.kind == "disconnected":  # the engine went away; the stream reconnects by itself
            ...
        elif item.kind == "reconnected":  # events may be missing: re-poll the inventory
            ...
        elif item.kind == "event":
            print(item.action, item.container_name)

How it keeps its place: it remembers the engine time of the last event it delivered. When the
connection drops (engine restart, network), it reconnects with backoff and subscribes again with
`since=<that time>`, so the engine replays what happened in between; replayed events it already
delivered are dropped (de-duplicated by time, action and container id).

A broken connection yields `StreamNotice(kind="disconnected")` at once, and every reconnect
yields `StreamNotice(kind="reconnected")` before the replayed events. Treat "reconnected" as
"re-read container state": the engine keeps only its last 256 events in memory and forgets them
when it restarts, so events from while the old engine was going down can't be replayed.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from .host import DockerHost, DockerOpsError, InvalidArgument, translate_error
from .models import COMPOSE_PROJECT, COMPOSE_SERVICE, STACK_NAMESPACE, SWARM_SERVICE_NAME
from .timeutil import TimeInput, docker_time_to_ns, ns_to_api, ns_to_datetime, to_api_time

# docker-py and tenacity are loaded when a stream connects: `status` replays past events and the
# detectors import `ContainerEvent` without ever opening a stream.
if TYPE_CHECKING:
    import docker
    from tenacity import RetryCallState

WATCHED_ACTIONS: tuple[str, ...] = (
    "die",
    "oom",
    "kill",
    "health_status",
    "restart",
    "start",
    "stop",
    "destroy",
)
"""Container events that matter for health: crashes, OOM kills, health flips, restarts, removals."""


class ContainerEvent(BaseModel):
    """One container event from the engine."""

    kind: Literal["event"] = "event"
    action: str = Field(description="die, oom, kill, health_status, restart, start, stop, destroy")
    health_status: str | None = Field(default=None, description="healthy/unhealthy for health_status")
    container_id: str
    container_name: str | None
    image: str | None
    exit_code: int | None = Field(default=None, description="set on die")
    signal: str | None = Field(default=None, description="set on kill")
    compose_project: str | None = None
    compose_service: str | None = None
    swarm_service: str | None = None
    stack_namespace: str | None = None
    time: datetime
    time_nano: int = Field(description="engine time in ns since the epoch: the resume position")
    attributes: dict[str, str] = Field(default_factory=dict, description="labels and extra fields")


class StreamNotice(BaseModel):
    """Marks a change of the connection. `disconnected`: the stream broke, reconnecting with backoff.
    `reconnected`: back, replaying from the last event; events may have been missed: re-poll state."""

    kind: Literal["connected", "disconnected", "reconnected"]
    base_url: str
    at: datetime = Field(description="when the subscription started (local clock, UTC)")
    resumed_since: datetime | None = Field(description="engine time the subscription replays from")
    disconnected_at: datetime | None = None
    failed_attempts: int = Field(default=0, description="connection attempts that failed before this one")
    reason: str | None = Field(default=None, description="why the previous connection ended")
    message: str


EventItem = ContainerEvent | StreamNotice


def parse_event(raw: dict[str, Any]) -> ContainerEvent:
    """Build a ContainerEvent from one raw engine event (container type)."""
    actor = raw.get("Actor") or {}
    attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    action_full = str(raw.get("Action") or raw.get("status") or "")
    action, _, detail = action_full.partition(":")
    time_nano = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    exit_code = attributes.get("exitCode")
    return ContainerEvent(
        action=action.strip(),
        health_status=(detail.strip() or None) if action == "health_status" else None,
        container_id=str(actor.get("ID") or raw.get("id") or ""),
        container_name=attributes.get("name"),
        image=attributes.get("image"),
        exit_code=int(exit_code) if exit_code and exit_code.lstrip("-").isdigit() else None,
        signal=attributes.get("signal"),
        compose_project=attributes.get(COMPOSE_PROJECT),
        compose_service=attributes.get(COMPOSE_SERVICE),
        swarm_service=attributes.get(SWARM_SERVICE_NAME),
        stack_namespace=attributes.get(STACK_NAMESPACE),
        time=ns_to_datetime(time_nano),
        time_nano=time_nano,
        attributes=attributes,
    )


@dataclass
class _End:
    """Put on the queue by the reader thread when the connection ends."""

    reason: str


@dataclass
class _Connection:
    client: docker.DockerClient
    stream: Any
    since_ns: int
    items: queue.Queue[dict[str, Any] | _End]
    reader: threading.Thread

    def close(self) -> None:
        # shutting the socket down wakes the reader thread, which then puts _End on the queue
        with contextlib.suppress(Exception):  # best effort: the socket may already be gone
            self.stream.close()
        self.client.close()


class ContainerEventStream:
    """Container events of one engine as an endless async iterator (see module docstring).

    Args:
        host: the engine to watch.
        actions: which container actions to deliver (default WATCHED_ACTIONS).
        since: replay events from this time on first connect (datetime, UNIX seconds, ISO time or
            an age like "5m"); default: from the moment of subscribing.
        backoff_initial / backoff_max: seconds to wait between reconnect attempts (exponential
            with jitter, capped at backoff_max).
        heartbeat_interval: when no event arrived for this many seconds, ping the engine and
            reconnect if it doesn't answer (catches silently dead tcp/ssh connections).
        max_backlog: events buffered for a slow consumer; beyond that the stream reconnects
            and replays (announced by the usual disconnected/reconnected notices). Keep it well
            above 256, the engine's replay buffer, so a replay never overflows by itself.
    """

    def __init__(
        self,
        host: DockerHost,
        *,
        actions: Sequence[str] = WATCHED_ACTIONS,
        since: TimeInput | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        heartbeat_interval: float = 30.0,
        dedup_window: int = 4096,
        max_backlog: int = 10_000,
    ) -> None:
        self.host = host
        self.actions = frozenset(actions)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.heartbeat_interval = heartbeat_interval
        self._dedup_window = dedup_window
        self.max_backlog = max_backlog
        self._seen: OrderedDict[tuple[int, str, str], None] = OrderedDict()
        self._cursor_ns: int | None = None
        if since is not None:
            try:
                api_time = to_api_time(since)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            seconds, _, nanos = api_time.partition(".")
            self._cursor_ns = int(seconds) * 1_000_000_000 + int(nanos or 0)
        self.last_event_at: datetime | None = None
        self.failed_attempts = 0
        """Connection attempts that failed since the stream was last connected (0 while connected)."""

    @property
    def resume_position(self) -> datetime | None:
        """Engine time the next reconnect will replay from (the last delivered event's time)."""
        return ns_to_datetime(self._cursor_ns) if self._cursor_ns is not None else None

    def __aiter__(self) -> AsyncGenerator[EventItem, None]:
        """A new subscription. Close it with `await it.aclose()` (or leave the `async for`)."""
        return self._run()

    def _connect_blocking(self) -> _Connection:
        client = self.host.new_client()
        try:
            if self._cursor_ns is None:
                # the engine's own clock, so a remote engine with a skewed clock replays correctly
                system_time = str(client.info().get("SystemTime") or "")
                self._cursor_ns = docker_time_to_ns(system_time) or int(datetime.now(UTC).timestamp() * 1e9)
            since_ns = self._cursor_ns
            filters = {"type": ["container"], "event": sorted(self.actions)}
            stream = client.events(since=ns_to_api(since_ns), filters=filters, decode=True)
        except Exception as exc:
            client.close()
            raise translate_error(exc, self.host.base_url, "subscribe to events") from exc
        items: queue.Queue[dict[str, Any] | _End] = queue.Queue(maxsize=self.max_backlog)

        def read() -> None:
            # reading at once matters: the engine silently drops events for subscribers that lag
            reason = "the engine closed the event stream (restart or connection loss)"
            try:
                for raw in stream:
                    try:
                        items.put_nowait(raw)
                    except queue.Full:
                        reason = f"the consumer fell {self.max_backlog} events behind; resyncing"
                        with contextlib.suppress(Exception):
                            stream.close()
                        break
            except Exception as exc:
                reason = f"event stream failed: {translate_error(exc, self.host.base_url, 'read events')}"
            items.put(_End(reason))  # waits for room: the consumer drains the backlog first

        reader = threading.Thread(target=read, name=f"docker-events {self.host.name}", daemon=True)
        reader.start()
        return _Connection(client, stream, since_ns, items, reader)

    async def _connect(self, state: dict[str, Any]) -> _Connection:
        from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

        def note_failure(retry_state: RetryCallState) -> None:
            state["failed"] = self.failed_attempts = retry_state.attempt_number
            outcome = retry_state.outcome
            if outcome is not None and outcome.exception() is not None:
                state["reason"] = str(outcome.exception())

        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(
                multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
            ),
            retry=retry_if_exception_type(DockerOpsError),
            sleep=anyio.sleep,
            before_sleep=note_failure,
            reraise=True,
        )
        connection: _Connection = await retrying(anyio.to_thread.run_sync, self._connect_blocking)
        self.failed_attempts = 0
        return connection

    def _accept(self, raw: dict[str, Any]) -> ContainerEvent | None:
        if raw.get("Type") != "container":
            return None
        event = parse_event(raw)
        if event.action not in self.actions:
            return None
        key = (event.time_nano, f"{event.action}:{event.health_status or ''}", event.container_id)
        if key in self._seen:
            return None  # replayed after a reconnect: already delivered
        self._seen[key] = None
        if len(self._seen) > self._dedup_window:
            self._seen.popitem(last=False)
        if self._cursor_ns is None or event.time_nano > self._cursor_ns:
            self._cursor_ns = event.time_nano
        self.last_event_at = event.time
        return event

    async def _next_raw(self, connection: _Connection) -> dict[str, Any] | _End:
        idle = 0.0
        while True:
            try:
                return connection.items.get_nowait()
            except queue.Empty:
                pass
            # wait in a worker thread with a short timeout so cancellation stays prompt
            got = await anyio.to_thread.run_sync(_get_or_none, connection.items, 1.0, abandon_on_cancel=True)
            if got is not None:
                return got
            idle += 1.0
            if idle >= self.heartbeat_interval:
                idle = 0.0
                try:
                    await self.host.ping()
                except DockerOpsError as exc:
                    connection.close()
                    return _End(f"engine stopped answering pings: {exc}")

    async def _run(self) -> AsyncGenerator[EventItem, None]:
        first = True
        reason: str | None = None
        disconnected_at: datetime | None = None
        while True:
            state: dict[str, Any] = {"failed": 0, "reason": reason}
            connection = await self._connect(state)
            try:
                yield self._notice(first, connection, state, disconnected_at)
                first = False
                while True:
                    raw = await self._next_raw(connection)
                    if isinstance(raw, _End):
                        reason = raw.reason
                        break
                    event = self._accept(raw)
                    if event is not None:
                        yield event
            finally:
                # synchronous on purpose: it only shuts a socket down, and an await here would be
                # skipped when the consumer cancels or closes the iterator
                connection.close()
            disconnected_at = datetime.now(UTC)
            yield StreamNotice(
                kind="disconnected",
                base_url=self.host.base_url,
                at=disconnected_at,
                resumed_since=self.resume_position,
                disconnected_at=disconnected_at,
                reason=reason,
                message=f"lost the event stream of {self.host.base_url} ({reason}); reconnecting",
            )

    def _notice(
        self, first: bool, connection: _Connection, state: dict[str, Any], disconnected_at: datetime | None
    ) -> StreamNotice:
        since = ns_to_datetime(connection.since_ns)
        if first:
            return StreamNotice(
                kind="connected",
                base_url=self.host.base_url,
                at=datetime.now(UTC),
                resumed_since=since,
                failed_attempts=state["failed"],
                reason=state["reason"] if state["failed"] else None,
                message=f"subscribed to container events of {self.host.base_url} from {since.isoformat()}",
            )
        return StreamNotice(
            kind="reconnected",
            base_url=self.host.base_url,
            at=datetime.now(UTC),
            resumed_since=since,
            disconnected_at=disconnected_at,
            failed_attempts=state["failed"],
            reason=state["reason"],
            message=(
                f"reconnected to {self.host.base_url} and replayed events since {since.isoformat()}; "
                "events from before an engine restart may be missing: re-read container state"
            ),
        )


def _get_or_none(items: queue.Queue[dict[str, Any] | _End], timeout: float) -> dict[str, Any] | _End | None:
    try:
        return items.get(timeout=timeout)
    except queue.Empty:
        return None
