"""Dokploy: the async client (every operation by name, typed methods), errors, snapshots."""

from mcp_server.dokploy.client import DokployClient
from mcp_server.dokploy.deploy_wait import DeployProgress, DeployResult, deploy_and_wait
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
from mcp_server.dokploy.openapi import Operation, OperationTable
from mcp_server.dokploy.snapshots import ComposeSnapshot, SnapshotStore, snapshot_compose

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
