"""The watcher: runs the detectors of one Docker host while it holds that host's lease.

    watcher = Watcher(settings, store)
    await watcher.run()      # until cancelled: take the lease or stand by; watch while holding it

Every watcher process (`infraguardian-mcp watch`, an HTTP `serve`, a stdio `serve`) runs one. The
one that holds the lease runs the detector engine and writes signals to the store; the others stand
by and check the lease every few seconds. A stopped watcher gives its lease up at once; a killed one
leaves it to expire (`LeaseTiming.ttl_s`), then a standby takes over and continues from the signals
in the store (they keep their first_seen and are not raised again).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio

from mcp_server.detectors import DetectorEngine, Signal, SignalChange
from mcp_server.docker_ops.host import DockerHost
from mcp_server.hooks.inbox import AlertInbox, AlertInboxError
from mcp_server.settings import Settings

from .inputs import DokployInputs
from .store import Lease, LeaseLost, SignalStore, SignalStoreError

log = logging.getLogger("infraguardian.watcher")

KEEP_RESOLVED = 1000  # resolved signals kept per host (with their history)


@dataclass(frozen=True)
class LeaseTiming:
    """How long a lease lasts without renewal, and how often holders renew and standbys look."""

    ttl_s: float = 15.0
    renew_every_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.ttl_s:
            raise ValueError("renew_every_s must be above 0 and below ttl_s (renew well before expiry)")


def host_key(settings: Settings) -> str:
    """The key of this Docker host in the store: its configured name (INFRAGUARDIAN_DOCKER_HOST_NAME).
    Watchers sharing one store must give different Docker hosts different names."""
    return settings.docker_host_name


def new_holder_id() -> str:
    """`pid@hostname/random`: says which process holds a lease, and is never reused."""
    return f"{os.getpid()}@{socket.gethostname()}/{secrets.token_hex(4)}"


EngineFactory = Callable[[DockerHost, "StoreJournal"], DetectorEngine]


class StoreJournal:
    """The engine's journal: writes to the store as the lease holder, fenced by the lease (a
    watcher that lost its lease cannot overwrite the new holder's signals)."""

    def __init__(self, store: SignalStore, host: str, holder: str) -> None:
        self.store = store
        self.host = host
        self.holder = holder
        self.lost = anyio.Event()

    async def record(self, changes: Sequence[SignalChange], refreshed: Sequence[Signal]) -> None:
        try:
            await anyio.to_thread.run_sync(self.store.record, self.host, self.holder, changes, refreshed)
        except LeaseLost:
            self.lost.set()
            raise


class Watcher:
    """Holds the lease of one Docker host and runs its detectors, or stands by.

    Args:
        settings: server settings (Docker URL, host name, detector settings, Dokploy).
        store: the signal store shared by every watcher and session of this host.
        timing: lease time to live and renew interval.
        engine_factory: builds the engine (tests pass one with their own detectors or clock).
    """

    def __init__(
        self,
        settings: Settings,
        store: SignalStore,
        *,
        timing: LeaseTiming | None = None,
        engine_factory: EngineFactory | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.timing = timing or LeaseTiming()
        self.host = host_key(settings)
        self.holder = new_holder_id()
        self.role: Literal["starting", "watching", "standing by", "stopped"] = "starting"
        self.engine: DetectorEngine | None = None
        self.takeovers = 0
        self._engine_factory = engine_factory
        self._warned_url: str | None = None

    async def run(self) -> None:
        """Until cancelled: take the lease and watch, or stand by and retry every renew interval.
        On the way out the lease is given up, so a standby takes over at once."""
        try:
            while True:
                before = await self._current()
                lease = await self._acquire()
                if lease is not None and lease.holder == self.holder:
                    await self._watch(before.renewed_at if before is not None else None)
                else:
                    self._stand_by(lease)
                    await anyio.sleep(self.timing.renew_every_s)
        finally:
            self.role = "stopped"
            self.engine = None
            with anyio.move_on_after(5, shield=True):
                await self._release()

    async def _acquire(self) -> Lease | None:
        try:
            return await anyio.to_thread.run_sync(
                lambda: self.store.acquire_lease(
                    self.host, self.holder, self.settings.docker_host, self.timing.ttl_s
                )
            )
        except SignalStoreError as exc:
            log.warning("cannot reach the signal store to take the lease: %s", exc)
            return None

    async def _current(self) -> Lease | None:
        try:
            return await anyio.to_thread.run_sync(self.store.current_lease, self.host)
        except SignalStoreError:
            return None

    async def _release(self) -> None:
        try:
            await anyio.to_thread.run_sync(self.store.release_lease, self.host, self.holder)
        except SignalStoreError as exc:
            log.warning("could not give the lease of %s up (it expires by itself): %s", self.host, exc)

    def _stand_by(self, lease: Lease | None) -> None:
        if self.role != "standing by" and lease is not None:
            log.info("standing by: host %s is watched by %s", self.host, lease.holder)
        self.role = "standing by"
        if (
            lease is not None
            and lease.docker_url != self.settings.docker_host
            and lease.docker_url != self._warned_url
        ):
            self._warned_url = lease.docker_url
            log.warning(
                "the watcher of host %s watches %s, this one is configured for %s: give different "
                "engines different INFRAGUARDIAN_DOCKER_HOST_NAME values",
                self.host,
                lease.docker_url,
                self.settings.docker_host,
            )

    async def _watch(self, seen_until: float | None) -> None:
        """Run the engine from the stored signals until the lease is lost (or cancelled).
        `seen_until`: when the previous holder last renewed (its events before then are not replayed)."""
        self.role = "watching"
        self.takeovers += 1
        log.info("watching host %s (lease held by %s)", self.host, self.holder)
        journal = StoreJournal(self.store, self.host, self.holder)
        # named like the server's hosts (signals' target.host is the host key)
        docker = DockerHost(self.settings.docker_host, name=self.host)
        inputs = DokployInputs(self.settings)
        # a test's engine factory brings its own inputs; the real engine reads the webhooks' inbox
        alerts = await self._open_alert_inbox() if self._engine_factory is None else None
        try:
            stored = await anyio.to_thread.run_sync(self.store.active_signals, self.host)
            await anyio.to_thread.run_sync(self.store.prune, self.host, KEEP_RESOLVED)
            engine = self._build_engine(docker, journal, inputs, alerts)
            engine.restore(stored, datetime.fromtimestamp(seen_until, UTC) if seen_until else None)
            self.engine = engine
            async with engine, anyio.create_task_group() as tg:
                tg.start_soon(self._renew_until_lost, journal)
                await journal.lost.wait()
                tg.cancel_scope.cancel()
            log.warning("lost the lease of host %s; standing by", self.host)
        except SignalStoreError as exc:
            log.warning("signal store unavailable, retrying in %.0f s: %s", self.timing.renew_every_s, exc)
            await anyio.sleep(self.timing.renew_every_s)
        finally:
            self.engine = None
            with anyio.CancelScope(shield=True):
                await inputs.aclose()
                await docker.close()
                if alerts is not None:
                    alerts.close()

    async def _open_alert_inbox(self) -> AlertInbox | None:
        """The inbox the webhooks write to (in the state directory); None when it cannot be opened:
        the other detectors run anyway, and the reason is logged."""
        try:
            return await anyio.to_thread.run_sync(AlertInbox.in_state_dir, Path(self.settings.state_dir))
        except AlertInboxError as exc:
            log.warning("external alerts are not watched: %s", exc)
            return None

    async def _renew_until_lost(self, journal: StoreJournal) -> None:
        while not journal.lost.is_set():
            await anyio.sleep(self.timing.renew_every_s)
            lease = await self._acquire()
            if lease is not None and lease.holder != self.holder:
                journal.lost.set()

    def _build_engine(
        self, docker: DockerHost, journal: StoreJournal, inputs: DokployInputs, alerts: AlertInbox | None
    ) -> DetectorEngine:
        if self._engine_factory is not None:
            return self._engine_factory(docker, journal)
        return DetectorEngine(
            docker,
            self.settings.detectors,
            domains=inputs.domains,
            deployments=inputs.deployments,
            journal=journal,
            alerts=alerts,
        )
