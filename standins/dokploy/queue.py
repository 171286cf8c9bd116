"""Dokploy's in-memory deployment queue (v0.29.9+): FIFO, one job at a time on the local server.

`deploy`/`redeploy` only enqueue and return; the worker then creates the deployment row, runs the
build and sets the final status. `deployment.queueList` shows the waiting and active jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from .ids import now_ms

log = logging.getLogger(__name__)

JobKind = Literal["compose", "application"]


@dataclass
class Job:
    """One queued deployment, as Dokploy's queue holds it."""

    number: int
    kind: JobKind
    service_id: str
    type: Literal["deploy", "redeploy"]
    title: str
    description: str
    timestamp: int
    service_path: dict[str, str]
    processed_on: int | None = None
    state: Literal["waiting", "active"] = "waiting"
    source: str = "api"  # "api" or "webhook"

    def as_queue_item(self) -> dict[str, Any]:
        """The item `deployment.queueList` returns for this job."""
        id_key = "composeId" if self.kind == "compose" else "applicationId"
        data: dict[str, Any] = {
            id_key: self.service_id,
            "titleLog": self.title,
            "type": self.type,
            "applicationType": self.kind,
            "descriptionLog": self.description,
            "server": False,
        }
        item: dict[str, Any] = {
            "id": f"job-{self.number}",
            "name": "deployments",
            "data": data,
            "timestamp": self.timestamp,
        }
        if self.processed_on is not None:
            item["processedOn"] = self.processed_on
        item["state"] = self.state
        item["servicePath"] = self.service_path
        return item


Runner = Callable[[Job], Awaitable[None]]


class DeploymentQueue:
    """FIFO of deployment jobs with a single worker task on the server's event loop."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._jobs: list[Job] = []
        self._counter = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work(), name="dokploy-standin-queue")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def add(
        self,
        kind: JobKind,
        service_id: str,
        type_: Literal["deploy", "redeploy"],
        title: str,
        description: str,
        service_path: dict[str, str],
        source: str = "api",
    ) -> Job:
        self._counter += 1
        job = Job(
            self._counter, kind, service_id, type_, title, description, now_ms(), service_path, source=source
        )
        self._jobs.append(job)
        self._idle.clear()
        self._wakeup.set()
        return job

    def items(self) -> list[dict[str, Any]]:
        """queueList: waiting and active jobs, newest first."""
        return [job.as_queue_item() for job in reversed(self._jobs)]

    def clean(self, service_id: str) -> int:
        """Drop the waiting jobs of one service (`cleanQueues`); the active one keeps running."""
        before = len(self._jobs)
        self._jobs = [j for j in self._jobs if j.state == "active" or j.service_id != service_id]
        return before - len(self._jobs)

    def pending_for(self, service_id: str) -> bool:
        return any(j.service_id == service_id for j in self._jobs)

    async def wait_idle(self) -> None:
        """Until no job is waiting or running (tests and shutdown)."""
        await self._idle.wait()

    async def _work(self) -> None:
        while True:
            job = next((j for j in self._jobs if j.state == "waiting"), None)
            if job is None:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            job.state = "active"
            job.processed_on = now_ms()
            try:
                await self._runner(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broken job must not stop the queue, as in Dokploy
                log.exception("deployment job %s failed unexpectedly", job.number)
                print(f"dokploy-standin: deployment job {job.number} crashed", file=sys.stderr)
            finally:
                if job in self._jobs:
                    self._jobs.remove(job)
