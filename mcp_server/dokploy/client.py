"""The Dokploy client: one generic call for every operation, plus typed methods for the common ones.

The operation table comes from the user's own Dokploy (`settings.getOpenApiDocument`, cached on
disk per Dokploy version) or from a file named in the settings, so it always matches the
installed version. Input is validated against it before anything is sent.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from mcp_server.dokploy import errors as e
from mcp_server.dokploy.api_applications import ApplicationsAPI
from mcp_server.dokploy.api_compose import ComposeAPI
from mcp_server.dokploy.api_platform import PlatformAPI
from mcp_server.dokploy.openapi import OpenApiDocumentError, OperationTable, UnknownOperationError
from mcp_server.dokploy.transport import DokployTransport


class DokployClient(ComposeAPI, ApplicationsAPI, PlatformAPI):
    """Async client of one Dokploy panel. Use `async with await DokployClient.connect(...)`."""

    def __init__(self, transport: DokployTransport, operations: OperationTable) -> None:
        self.transport = transport
        self.operations = operations

    # -- life cycle ---------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        base_url: str,
        api_key: SecretStr | str | None,
        *,
        openapi_file: Path | None = None,
        cache_dir: Path | None = None,
        **transport_kw: Any,
    ) -> DokployClient:
        """Open a client; load the operation table from `openapi_file` or from the panel."""
        transport = DokployTransport(base_url, api_key, **transport_kw)
        try:
            table = await load_operation_table(transport, openapi_file=openapi_file, cache_dir=cache_dir)
        except BaseException:
            await transport.aclose()
            raise
        return cls(transport, table)

    @classmethod
    async def from_settings(cls, settings: Any) -> DokployClient:
        """Build from `mcp_server.settings.Settings` (requires DOKPLOY_URL)."""
        if settings.dokploy_url is None:
            raise e.DokployError("no Dokploy configured: set DOKPLOY_URL and DOKPLOY_API_KEY")
        if settings.dokploy_api_key is None:
            raise e.UnauthorizedError("DOKPLOY_API_KEY is not set: " + e.UNAUTHORIZED_HINT)
        return await cls.connect(
            str(settings.dokploy_url),
            settings.dokploy_api_key,
            openapi_file=settings.dokploy_openapi_file,
            cache_dir=Path(settings.state_dir) / "openapi",
            timeout_s=settings.dokploy_timeout_s,
            max_retries=settings.dokploy_max_retries,
            rate_per_s=settings.dokploy_rate_per_s,
            burst=settings.dokploy_burst,
        )

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> DokployClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the generic call ---------------------------------------------------------------------
    async def call(self, operation: str, params: dict[str, Any] | None = None, /, **kw: Any) -> Any:
        """Call any Dokploy operation by name, e.g. `call("compose.one", composeId="…")`.

        The input is checked against the operation's schema first; a wrong name or input raises
        `ValidationError` listing the expected fields, and nothing is sent.
        """
        data = {**(params or {}), **kw}
        try:
            op = self.operations.get(operation)
        except UnknownOperationError as exc:
            raise e.ValidationError(str(exc), operation=operation) from None
        if not op.json_body:
            raise e.ValidationError(
                "this operation takes a multipart upload, which Dokploy's /api surface does not accept",
                operation=op.name,
            )
        issues = self.operations.validate(op.name, data)
        if issues:
            detail = "; ".join(i.describe() for i in issues[:8])
            raise e.ValidationError(
                f"invalid input ({detail}); expected fields: {op.field_summary()}",
                operation=op.name,
                issues=[i.as_zod() for i in issues],
            )
        return await self.transport.request(op.name, op.method, data)

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """Per-operation call counters (calls, errors, retries, seconds)."""
        return self.transport.stats.snapshot()


_VERSION_SAFE = re.compile(r"[^A-Za-z0-9._-]")


async def load_operation_table(
    transport: DokployTransport, *, openapi_file: Path | None, cache_dir: Path | None
) -> OperationTable:
    """Operation table for the Dokploy behind `transport`.

    With `openapi_file` that file is used as is. Otherwise the document is read from the panel
    once per Dokploy version and kept in `cache_dir/<version>.json`.
    """
    if openapi_file is not None:
        try:
            return OperationTable.from_file(openapi_file)
        except OpenApiDocumentError as exc:
            raise e.ValidationError(f"{exc} (setting INFRAGUARDIAN_DOKPLOY_OPENAPI_FILE)") from None
    version = await transport.request("settings.getDokployVersion", "GET")
    version_key = _VERSION_SAFE.sub("_", str(version or "unknown"))
    cached = cache_dir / f"{version_key}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return OperationTable.from_file(cached)
        except OpenApiDocumentError:
            cached.unlink(missing_ok=True)  # corrupt cache: fetch again
    doc = await transport.request("settings.getOpenApiDocument", "GET")
    if not isinstance(doc, dict):
        raise e.ServerError("settings.getOpenApiDocument did not return a JSON document")
    try:
        table = OperationTable.from_document(doc)
    except OpenApiDocumentError as exc:
        raise e.ServerError(f"Dokploy's OpenAPI document is unusable: {exc}") from None
    if cached is not None:
        _atomic_write(cached, json.dumps(doc))
    return table


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
