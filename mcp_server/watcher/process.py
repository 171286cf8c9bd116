"""The watcher of one server process, shared by every MCP lifespan of that process.

SSE enters the MCP lifespan once per connection, so a watcher started inside a lifespan would be
one per connection. This one runs in its own thread with its own event loop: the first lifespan
starts it, the last one to leave stops it (which gives the lease up for a standby elsewhere).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path

import anyio
from anyio.from_thread import start_blocking_portal

from mcp_server.settings import Settings

from .runner import LeaseTiming, Watcher
from .sqlite_store import SqliteSignalStore

log = logging.getLogger("infraguardian.watcher")


class ProcessWatcher:
    """`async with process_watcher.in_use(): ...` around each lifespan keeps one watcher running."""

    def __init__(self, settings: Settings, *, timing: LeaseTiming | None = None) -> None:
        self.settings = settings
        self.timing = timing
        self.watcher: Watcher | None = None
        self._users = 0
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._future: Future[None] | None = None

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[ProcessWatcher]:
        await anyio.to_thread.run_sync(self._enter)
        try:
            yield self
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._leave)

    def _enter(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                stack = contextlib.ExitStack()
                portal = stack.enter_context(start_blocking_portal(name="infraguardian-watcher"))
                self._future = portal.start_task_soon(self._main)
                self._future.add_done_callback(_log_failure)
                self._stack = stack

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._stack is not None:
                assert self._future is not None
                self._future.cancel()  # cancels the watcher task; it gives its lease up
                self._stack.close()  # waits for the thread to finish
                self._stack = self._future = None

    async def _main(self) -> None:
        store = await anyio.to_thread.run_sync(SqliteSignalStore.in_state_dir, Path(self.settings.state_dir))
        try:
            self.watcher = Watcher(self.settings, store, timing=self.timing)
            await self.watcher.run()
        finally:
            self.watcher = None
            store.close()


def _log_failure(future: Future[None]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.error("the signal watcher stopped: %s", exc)
