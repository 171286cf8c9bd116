"""Dokploy: the async client (every operation by name, typed methods), errors, snapshots."""

from typing import TYPE_CHECKING

from mcp_server.dokploy.errors import (
    ConflictError,
    DokployError,
    DokployTimeoutError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
    ValidationError,
)
from mcp_server.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from mcp_server.dokploy.client import DokployClient
    from mcp_server.dokploy.deploy_wait import DeployProgress, DeployResult, deploy_and_wait
    from mcp_server.dokploy.openapi import Operation, OperationTable
    from mcp_server.dokploy.snapshots import ComposeSnapshot, SnapshotStore, snapshot_compose

# Imported on first use: the client pulls in httpx, jsonschema and the OpenAPI table (~0.2 s), and
# modules that only need the errors or the models (the detectors, `status`) should not pay for it.
_LAZY = {
    "DokployClient": "client",
    "DeployProgress": "deploy_wait",
    "DeployResult": "deploy_wait",
    "deploy_and_wait": "deploy_wait",
    "Operation": "openapi",
    "OperationTable": "openapi",
    "ComposeSnapshot": "snapshots",
    "SnapshotStore": "snapshots",
    "snapshot_compose": "snapshots",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ComposeSnapshot",
    "ConflictError",
    "DeployProgress",
    "DeployResult",
    "DokployClient",
    "DokployError",
    "DokployTimeoutError",
    "ForbiddenError",
    "NotFoundError",
    "Operation",
    "OperationTable",
    "ServerError",
    "SnapshotStore",
    "UnauthorizedError",
    "UnreachableError",
    "ValidationError",
    "deploy_and_wait",
    "snapshot_compose",
]
