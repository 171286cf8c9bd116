"""Which services a change disrupts: the per-service disruption budget counts each one once,
whichever tool asks (a restart, a stop, a redeploy, a rollback or a raw Dokploy call)."""

from __future__ import annotations

from mcp_server.safety.actions import RUNNABLE, ActionSpec, counts_as_disruption
from mcp_server.safety.budgets import Workload
from mcp_server.safety.models import ActionRequest


def disrupted_workloads(request: ActionRequest, spec: ActionSpec) -> tuple[Workload, ...]:
    """The services whose containers this request restarts, stops, recreates or removes, each
    once and keyed the same whichever tool asks: from the target and every `affected` container
    (a container counts as its Compose or Swarm service). A runnable target with no such service
    known (a project without containers, an unresolved Dokploy call) counts as itself."""
    target = request.target
    procedure = target.name if target is not None and target.kind == "dokploy_api" else None
    if target is None or not counts_as_disruption(spec, procedure):
        return ()
    found: dict[str, Workload] = {}
    for candidate in (target, *request.affected):
        workload = candidate.workload()
        if workload is not None:
            found.setdefault(workload.key(), Workload(workload.key(), workload.describe()))
    if not found and target.kind in RUNNABLE | {"dokploy_api"}:
        found[target.budget_key()] = Workload(target.budget_key(), target.describe())
    return tuple(found.values())
