"""dokploy_call: any Dokploy API operation by name (the escape hatch; typed tools come first).

Operations are classed by what they do (dokploy/operation_kinds.py), not by HTTP method:
- plain queries are reads, allowed in every mode;
- queries that return files or secrets (`docker.readContainerFile`, `settings.readTraefikEnv`,
  `sshKey.one`, …) are the `read_sensitive` action: admin mode only;
- mutations (every POST) are the `dokploy_mutation` action: admin mode by default, a human
  confirms, protected procedures (Dokploy's own settings, Traefik, volume deletion, anything naming
  Dokploy's containers) are refused in every mode.
Every answer is redacted. `docker.*` mutations naming a container get
that container resolved on Docker first, so the protection rules see its image and labels.
compose.update / compose.import snapshot the compose first, so `rollback` can undo them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.app_lookup import app_objects
from mcp_server.docker_ops.host import ContainerNotFound, DockerHost
from mcp_server.dokploy import DokployClient, snapshot_compose
from mcp_server.dokploy.openapi import Operation, UnknownOperationError
from mcp_server.dokploy.operation_kinds import OperationKind, classify, why_sensitive
from mcp_server.redaction import redact
from mcp_server.safety import Target, describe_blast_radius
from mcp_server.safety.actions import dokploy_procedure_disrupts
from mcp_server.server.arguments import OperationName
from mcp_server.server.context import fail, guarded, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import container_target, container_targets, dokploy_refs
from mcp_server.server.services import Services

TOOL = "dokploy_call"
MAX_RESULT_CHARS = 60_000
# input fields that name the Dokploy service a call is about (budgets are per procedure + service)
_SCOPE_FIELDS = ("composeId", "applicationId", "postgresId", "mysqlId", "mariadbId", "mongoId", "redisId")
# procedures that rewrite a compose's file or env: snapshot it first, so `rollback` can undo them
_COMPOSE_WRITES = frozenset({"compose.update", "compose.import"})
# what the safety gate is asked for, and what the result's `kind` says, per kind of operation
_ACTION = {
    OperationKind.READ: "read",
    OperationKind.SENSITIVE_READ: "read_sensitive",
    OperationKind.MUTATION: "dokploy_mutation",
}
_KIND_SHOWN = {
    OperationKind.READ: "query",
    OperationKind.SENSITIVE_READ: "sensitive_query",
    OperationKind.MUTATION: "mutation",
}


class DokployCallResult(BaseModel):
    operation: str
    kind: str = Field(
        description="query (read), sensitive_query (returns files or secrets: admin only) or mutation"
    )
    result: Any = Field(description="Dokploy's answer, secrets masked")
    truncated: bool = Field(description="the answer was cut to fit (then result is JSON text)")
    policy: str = Field(description="the safety decision")


def _operation(client: DokployClient, name: str) -> Operation:
    try:
        return client.operations.get(name)
    except UnknownOperationError as exc:
        raise fail(f"{exc}. Names look like router.procedure, e.g. compose.one") from None


async def _affected(svc: Services, docker: DockerHost, op: Operation, data: dict[str, Any]) -> list[Target]:
    """The containers a mutation changes, resolved on Docker so the policy sees them: the one a
    docker.* mutation names (the protection rules require it), or every container of the Dokploy
    service a deploy, start, stop, reload, … names (so it counts against those services'
    disruption budgets, as the typed tools' changes do)."""
    if op.is_query:
        return []
    if op.router != "docker":
        return await _service_containers(svc, docker, data) if dokploy_procedure_disrupts(op.name) else []
    name = data.get("containerId") or data.get("containerName")
    if not isinstance(name, str):
        return []
    try:
        target, _ = await container_target(docker, name)
    except ContainerNotFound:
        raise fail(
            f"container {name!r} is not on this Docker host; docker.* calls need a local container"
        ) from None
    return [target]


async def _service_containers(svc: Services, docker: DockerHost, data: dict[str, Any]) -> list[Target]:
    """The containers on this host of the Dokploy service(s) the input names by id."""
    ids = {data[field] for field in _SCOPE_FIELDS if isinstance(data.get(field), str)}
    if not ids:
        return []
    targets: list[Target] = []
    for app_name, ref in (await dokploy_refs(svc)).items():
        if ref.id in ids:
            found = await app_objects(docker, app_name)
            if found.group is not None and found.group.kind != "dokploy_system":
                targets += container_targets(docker, found.details.values())
    return targets


def _bounded(value: Any) -> tuple[Any, bool]:
    text = json.dumps(value, default=str)
    if len(text) <= MAX_RESULT_CHARS:
        return value, False
    return text[:MAX_RESULT_CHARS] + " …[cut; ask for less, e.g. a single id]", True


async def dokploy_call(
    ctx: Context,
    operation: Annotated[OperationName, Field(description="e.g. 'compose.one'")],
    input: Annotated[dict[str, Any], Field(max_length=200, description="e.g. {'composeId': '…'}")],
    host: DockerHostName = None,
) -> DokployCallResult:
    """Escape hatch: call any Dokploy API operation by name; prefer the typed tools. Queries
    are reads, except those returning files or secrets (readContainerFile, readTraefik*, SSH
    keys, credentials): admin only. Changes need admin mode and a human's OK; Dokploy
    settings, Traefik and volume deletion are always refused. Returns the answer, secrets masked."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        client = await svc.dokploy()
        op = _operation(client, operation)
        issues = client.operations.validate(op.name, input)
        if issues:
            listed = "; ".join(i.describe() for i in issues[:8])
            raise fail(f"invalid input for {op.name} ({listed}); expected fields: {op.field_summary()}")
        scope = next((str(input[f]) for f in _SCOPE_FIELDS if isinstance(input.get(f), str)), None)
        target = Target.for_dokploy_api(docker.name, op.name, scope=scope)
        op_kind = classify(op.name, op.method)
        kind = _KIND_SHOWN[op_kind]
        details: dict[str, Any] = {"operation": op.name, "input": input}
        if op_kind is OperationKind.SENSITIVE_READ:
            details["why_sensitive"] = why_sensitive(op.name)
        async with guarded(
            ctx,
            tool=TOOL,
            action=_ACTION[op_kind],
            target=target,
            details=details,
            affected=await _affected(svc, docker, op, input),
            confirm_message=describe_blast_radius(
                target, [], f"Input: {json.dumps(redact(input), default=str)[:500]}", action="call"
            ),
        ) as call:
            if op.name in _COMPOSE_WRITES and isinstance(input.get("composeId"), str):
                await snapshot_compose(client, svc.snapshots, input["composeId"], reason=f"before {op.name}")
            answer = await client.call(op.name, input)
            value, cut = _bounded(redact(answer))
            call.summary = f"{kind} {op.name} answered"
            return DokployCallResult(
                operation=op.name, kind=kind, result=value, truncated=cut, policy=call.decision.reason
            )
