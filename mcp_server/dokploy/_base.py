"""What the typed API mixins need from the client: the generic, validated `call`."""

from __future__ import annotations

from typing import Any, Protocol


class CallsDokploy(Protocol):
    async def call(self, operation: str, params: dict[str, Any] | None = None, /, **kw: Any) -> Any: ...


def only_set(**fields: Any) -> dict[str, Any]:
    """Drop arguments left at None so Dokploy applies its own defaults."""
    return {k: v for k, v in fields.items() if v is not None}
