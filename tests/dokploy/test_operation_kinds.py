"""Dokploy operations are classed by what they do: a GET that hands out a file or a secret is not
a plain read, and the safety policy lets it through only in admin mode (issue 12, item 4)."""

from __future__ import annotations

import re

import pytest

from mcp_server.dokploy.openapi import OperationTable
from mcp_server.dokploy.operation_kinds import (
    FILE_READERS,
    READS_DESPITE_NAME,
    SECRET_READERS,
    OperationKind,
    classify,
)
from mcp_server.safety import Target
from mcp_server.safety.actions import get_action
from mcp_server.safety.models import ActionRequest
from mcp_server.safety.modes import Mode
from mcp_server.safety.policy import check_policy
from mcp_server.safety.settings import SafetySettings
from tests.conftest import OPENAPI_FILE

# The readers the audit found passing in read-only mode, and others of the same nature.
KNOWN_SENSITIVE = (
    "docker.readContainerFile",
    "docker.listContainerFiles",
    "dockerVolume.readVolumeFile",
    "dockerVolume.listVolumeFiles",
    "settings.readTraefikFile",
    "settings.readTraefikEnv",
    "settings.readTraefikConfig",
    "settings.readDirectories",
    "application.readTraefikConfig",
    "patch.readRepoFile",
    "sshKey.one",
    "sshKey.all",
    "server.withSSHKey",
    "certificates.one",
    "registry.one",
    "destination.one",
    "notification.all",
    "github.one",
    "ai.getAll",
    "cluster.addWorker",
    "user.getMetricsToken",
    "settings.getWebServerSettings",
)
# Reads the agent needs for ordinary work: they stay reads (their answers are redacted).
KNOWN_PLAIN = (
    "compose.one",
    "application.one",
    "postgres.one",
    "docker.getConfig",
    "docker.getContainers",
    "compose.readLogs",
    "deployment.readLogs",
    "compose.getConvertedCompose",
    "overview.services",
    "project.all",
)
# Words in an operation's name that say "this hands out a file or a secret".
_SCAN = re.compile(
    r"(?i)(readfile|containerfile|volumefile|readtraefik|traefikconfig|readenv|getenv|director|repofile|"
    r"ssh|privatekey|secret|token|password|credential)"
)
_CREDENTIAL_ROUTERS = (
    "sshKey",
    "certificates",
    "registry",
    "destination",
    "notification",
    "dnsProvider",
    "vaultProvider",
    "github",
    "gitlab",
    "gitea",
    "bitbucket",
    "ai",
)


@pytest.fixture(scope="module")
def table() -> OperationTable:
    return OperationTable.from_file(OPENAPI_FILE)


def test_every_operation_of_the_document_has_a_kind(table: OperationTable) -> None:
    kinds = {op.name: classify(op.name, op.method) for op in table}
    assert len(kinds) == 597
    assert set(kinds.values()) == set(OperationKind)
    # a POST is never a read, whatever its name ("testConnection" sends a message out)
    assert all(kinds[op.name] is OperationKind.MUTATION for op in table if op.method == "POST")
    assert all(kinds[op.name] is not OperationKind.MUTATION for op in table if op.method == "GET")


def test_the_lists_name_only_real_read_operations(table: OperationTable) -> None:
    for name in FILE_READERS | SECRET_READERS | READS_DESPITE_NAME:
        assert name in table, f"{name} is not a Dokploy operation"
        assert table.get(name).method == "GET", f"{name} is not a query"


@pytest.mark.parametrize("name", KNOWN_SENSITIVE)
def test_known_file_and_secret_readers_are_sensitive(table: OperationTable, name: str) -> None:
    op = table.get(name)
    assert op.method == "GET"  # exactly the ones "every GET is a read" let through
    assert classify(op.name, op.method) is OperationKind.SENSITIVE_READ


@pytest.mark.parametrize("name", KNOWN_PLAIN)
def test_ordinary_reads_stay_reads(table: OperationTable, name: str) -> None:
    op = table.get(name)
    assert classify(op.name, op.method) is OperationKind.READ


def test_a_scan_of_the_document_finds_no_unclassed_reader(table: OperationTable) -> None:
    """Every GET whose name says file/env/key/secret/token, and the records (`one`, `all`) of every
    router that stores credentials, are sensitive unless checked and listed as harmless."""
    for op in table:
        if op.method != "GET" or op.name in READS_DESPITE_NAME:
            continue
        record = op.router in _CREDENTIAL_ROUTERS and op.name.split(".")[1] in ("one", "all")
        if _SCAN.search(op.name) or record:
            assert classify(op.name, op.method) is OperationKind.SENSITIVE_READ, op.name


def test_operations_a_newer_dokploy_adds_are_judged_by_name() -> None:
    assert classify("docker.readHostFile", "GET") is OperationKind.SENSITIVE_READ
    assert classify("vault.getSecretValue", "GET") is OperationKind.SENSITIVE_READ
    assert classify("server.getPrivateKey", "GET") is OperationKind.SENSITIVE_READ
    assert classify("compose.readStatus", "GET") is OperationKind.READ
    assert classify("compose.somethingNew", "POST") is OperationKind.MUTATION
    # names compare case-insensitively, as Dokploy's router does
    assert classify("DOCKER.READCONTAINERFILE", "get") is OperationKind.SENSITIVE_READ


def _request(procedure: str) -> ActionRequest:
    target = Target(kind="dokploy_api", host="local", name=procedure)
    return ActionRequest(
        client="test", tool="dokploy_call", action="read_sensitive", target=target, details={"input": {}}
    )


@pytest.mark.parametrize("procedure", ["docker.readContainerFile", "settings.readTraefikEnv"])
def test_the_policy_allows_sensitive_reads_only_in_admin_mode(procedure: str) -> None:
    spec = get_action("read_sensitive")
    assert spec is not None and spec.min_mode is Mode.ADMIN and not spec.needs_confirmation
    for mode in ("read-only", "operate"):
        refusal = check_policy(_request(procedure), spec, SafetySettings(mode=mode))
        assert refusal is not None and refusal.code == "mode"
        assert "needs admin mode" in refusal.reason and "which file or secret you need" in refusal.reason
    # reading changes nothing, so the protection of Dokploy's settings and Traefik (which guards
    # changes) does not apply: admin mode is the gate
    assert check_policy(_request(procedure), spec, SafetySettings(mode="admin")) is None
