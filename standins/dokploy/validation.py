"""Input handling of the OpenAPI adapter: query parsing, zod-like validation, defaults.

The schemas come from Dokploy's own OpenAPI document through `mcp_server.dokploy.openapi`, so the
stand-in rejects exactly the inputs that document describes as invalid, with zod v4 issue shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from mcp_server.dokploy.openapi import InputIssue, Operation, OperationTable, coerce_query


@dataclass(frozen=True)
class ValidationFailure:
    """The 400 'Input validation failed' body parts: zod issues and their flattened form."""

    issues: list[dict[str, Any]]
    zod_error: dict[str, Any]


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    """`?a=1&a=2&b=` → {"a": ["1", "2"], "b": [""]} (order kept, blanks kept for the adapter rules)."""
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def query_input(op: Operation, query_string: bytes) -> dict[str, Any]:
    """The input object the adapter builds from a GET query string (coerced like zod.coerce)."""
    return coerce_query(op, parse_query(query_string))


def zod_flatten(issues: list[InputIssue]) -> dict[str, Any]:
    """`ZodError.flatten()`: root issues in formErrors, the rest grouped by their first path key."""
    form_errors: list[str] = []
    field_errors: dict[str, list[str]] = {}
    for issue in issues:
        if issue.path:
            field_errors.setdefault(str(issue.path[0]), []).append(issue.message)
        else:
            form_errors.append(issue.message)
    return {"formErrors": form_errors, "fieldErrors": field_errors}


def validate_input(table: OperationTable, op: Operation, data: Any) -> ValidationFailure | None:
    """None when Dokploy would accept `data`, else the issues it would report."""
    issues = table.validate(op.name, data)
    if not issues:
        return None
    return ValidationFailure(issues=[i.as_zod() for i in issues], zod_error=zod_flatten(issues))


def with_defaults(op: Operation, data: dict[str, Any]) -> dict[str, Any]:
    """Input after zod parsing: top-level `.default(...)` values filled in, unknown keys dropped."""
    out: dict[str, Any] = {}
    for key, schema in op.properties.items():
        if key in data:
            out[key] = data[key]
        elif isinstance(schema, dict) and "default" in schema:
            out[key] = schema["default"]
    return out
