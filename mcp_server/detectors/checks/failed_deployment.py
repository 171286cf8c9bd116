"""Failed deployment: the newest finished Dokploy deployment of a compose or application ended in
`error`. It resolves when a newer deployment finishes `done`.

The rows come from `DetectorContext.deployments` (DeploymentWatch: a function returning rows, e.g.
`DokployClient.deployments_by_compose`). A running deployment does not change the verdict until it
finishes. The tail of the failed deployment's log is fetched once per deployment when available.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import ValidationError

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..inputs import DeploymentWatch, resolve_provider
from ..settings import DetectorSettings

if TYPE_CHECKING:  # loaded when a deployment is judged (~70 ms): `status` never needs the models
    from mcp_server.dokploy.models import Deployment

_OLDEST = datetime.min.replace(tzinfo=UTC)


def _when(row: Deployment) -> datetime:
    for value in (row.created_at, row.started_at, row.finished_at):
        if value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _OLDEST


def newest_finished(rows: list[Deployment]) -> tuple[Deployment | None, int, Deployment | None]:
    """(newest finished row, how many finished rows in a row are errors, newest successful row)."""
    finished = sorted((r for r in rows if r.finished), key=_when, reverse=True)
    if not finished:
        return None, 0, None
    streak = 0
    for row in finished:
        if row.status != "error":
            break
        streak += 1
    last_ok = next((r for r in finished if r.status == "done"), None)
    return finished[0], streak, last_ok


class FailedDeploymentDetector(Detector):
    name = "failed_deployment"
    runbook = "failed-deployment"
    description = "the newest finished Dokploy deployment of a service ended in error"

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._log_tails: OrderedDict[str, list[str]] = OrderedDict()

    def poll_interval_s(self) -> float | None:
        return self.settings.deployment_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        watches: list[DeploymentWatch] = await resolve_provider(ctx.deployments)
        findings = Findings(complete=True)
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def check(watch: DeploymentWatch) -> None:
            target = Target.for_dokploy(ctx.host_name, watch.app_name, dokploy_id=watch.dokploy_id)
            async with limiter:
                try:
                    rows = [self._row(r) for r in await watch.fetch()]
                except Exception as exc:  # any failing source (Dokploy down, bad row) is one note
                    findings.undecided.add(self.fingerprint_of(target))
                    findings.notes.append(
                        f"deployments of {watch.app_name} not read: {type(exc).__name__}: {exc}"
                    )
                    return
                signal = await self._judge(ctx, watch, target, rows)
            if signal is not None:
                findings.firing.append(signal)

        async with anyio.create_task_group() as tg:
            for watch in watches:
                tg.start_soon(check, watch)
        return findings

    @staticmethod
    def _row(row: Deployment | Mapping[str, Any]) -> Deployment:
        from mcp_server.dokploy.models import Deployment

        if isinstance(row, Deployment):
            return row
        try:
            return Deployment.model_validate(dict(row))
        except ValidationError as exc:
            raise ValueError(f"not a Dokploy deployment row: {exc.errors()[0]['msg']}") from None

    async def _judge(
        self, ctx: DetectorContext, watch: DeploymentWatch, target: Target, rows: list[Deployment]
    ) -> Signal | None:
        newest, streak, last_ok = newest_finished(rows)
        if newest is None or newest.status != "error":
            return None
        running = [r.deployment_id for r in rows if r.status == "running"]
        when = _when(newest)
        stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when != _OLDEST else "unknown time"
        title = newest.title or "deployment"
        streak_text = f"{streak} failed deployments in a row" if streak > 1 else "the last deployment failed"
        return self.signal(
            ctx,
            target,
            Severity.critical,
            f"Dokploy {watch.kind} {watch.app_name}: {streak_text} ({title!r} at {stamp})"
            + (f"; {newest.error_message}" if newest.error_message else ""),
            {
                "deployment_id": newest.deployment_id,
                "title": newest.title,
                "description": newest.description,
                "error_message": newest.error_message,
                "created_at": newest.created_at,
                "finished_at": newest.finished_at,
                "log_path": newest.log_path,
                "failed_in_a_row": streak,
                "last_successful": (
                    {"deployment_id": last_ok.deployment_id, "created_at": last_ok.created_at}
                    if last_ok
                    else None
                ),
                "running_now": running,
                "log_tail": await self._log_tail(watch, newest.deployment_id),
            },
        )

    async def _log_tail(self, watch: DeploymentWatch, deployment_id: str) -> list[str]:
        """The last lines of the deployment log (a list, so evidence trimming keeps the newest)."""
        if watch.logs is None or self.settings.deployment_log_lines == 0:
            return []
        if deployment_id not in self._log_tails:
            try:
                text = await watch.logs(deployment_id)
            except Exception as exc:  # the log is a bonus: its absence must not hide the failure
                return [f"(log unavailable: {type(exc).__name__}: {exc})"]
            lines = text.strip().splitlines()[-self.settings.deployment_log_lines :]
            self._log_tails[deployment_id] = [line.rstrip() for line in lines if line.strip()]
            while len(self._log_tails) > 256:
                self._log_tails.popitem(last=False)
        return self._log_tails[deployment_id]
