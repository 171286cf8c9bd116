"""Deploy and wait: Dokploy queues a deploy and returns at once, before the deployment row exists.

We remember the deployment ids that exist before the call, trigger the deploy, wait for a new row
to appear (it is created when Dokploy's queue worker picks the job), then follow it until it is
done, error or cancelled. Matching by id rather than by `createdAt` avoids trusting the clocks of
two machines to agree.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from mcp_server.dokploy import errors as e
from mcp_server.dokploy.models import Deployment

Target = Literal["compose", "application"]


class DeployProgress(BaseModel):
    """One step of a deploy, for progress notifications."""

    phase: Literal["queued", "running", "finished"]
    elapsed_s: float
    deployment_id: str | None = None
    status: str | None = None
    message: str


class DeployResult(BaseModel):
    ok: bool
    target: Target
    target_id: str
    deployment: Deployment
    elapsed_s: float
    log_tail: str | None = None  # the end of the deployment log when it failed


ProgressCallback = Callable[[DeployProgress], Awaitable[None] | None]


async def deploy_and_wait(
    client: Any,
    target: Target,
    target_id: str,
    *,
    redeploy: bool = False,
    title: str | None = None,
    timeout_s: float = 900.0,
    poll_s: float = 1.0,
    log_tail_lines: int = 60,
    on_progress: ProgressCallback | None = None,
) -> DeployResult:
    """Deploy (or redeploy) a compose or application and wait for its deployment to finish.

    Raises `DokployTimeoutError` if the deployment does not appear or finish within `timeout_s`;
    a failed deployment is returned (`ok=False`) with the tail of its log.
    """
    started = time.monotonic()

    async def rows() -> list[Deployment]:
        if target == "compose":
            return list(await client.deployments_by_compose(target_id))
        return list(await client.deployments_by_application(target_id))

    async def report(phase: str, message: str, row: Deployment | None = None) -> None:
        if on_progress is None:
            return
        update = DeployProgress(
            phase=phase,  # type: ignore[arg-type]
            elapsed_s=round(time.monotonic() - started, 2),
            deployment_id=row.deployment_id if row else None,
            status=row.status if row else None,
            message=message,
        )
        result = on_progress(update)
        if inspect.isawaitable(result):
            await result

    known = {r.deployment_id for r in await rows()}
    action = "redeploy" if redeploy else "deploy"
    if target == "compose":
        await getattr(client, f"compose_{action}")(target_id, title=title)
    else:
        await getattr(client, f"application_{action}")(target_id, title=title)
    await report("queued", f"{target} {action} queued")

    deadline = started + timeout_s
    row: Deployment | None = None
    last_status: str | None = None
    while True:
        new = [r for r in await rows() if r.deployment_id not in known]
        if new:
            row = new[0]  # newest first
            if row.status != last_status:
                last_status = row.status
                if not row.finished:
                    await report("running", f"deployment {row.deployment_id} is {row.status}", row)
            if row.finished:
                break
        if time.monotonic() >= deadline:
            what = (
                f"deployment {row.deployment_id} still {row.status}"
                if row
                else "no deployment started (is the queue busy? see deployment.queueList)"
            )
            raise e.DokployTimeoutError(f"{target} {target_id}: {what} after {timeout_s:.0f}s")
        await anyio.sleep(poll_s)

    ok = row.status == "done"
    tail = None
    if not ok:
        try:
            tail = await client.deployment_logs(row.deployment_id, tail=log_tail_lines)
        except e.DokployError as exc:  # the log may be gone (clearDeployments); say so, don't fail
            tail = f"(log unavailable: {exc})"
    await report("finished", f"deployment {row.deployment_id} {row.status}", row)
    return DeployResult(
        ok=ok,
        target=target,
        target_id=target_id,
        deployment=row,
        elapsed_s=round(time.monotonic() - started, 2),
        log_tail=tail,
    )
