"""Dokploy's operation table, read from Dokploy's own OpenAPI document.

Every `/api/<router>.<procedure>` operation of the installed Dokploy is described here with its
method and the JSON Schema of its input, so that one generic call can reach all ~600 of them and
bad input is caught before it is sent. The same validation drives the stand-in, which answers
with the zod issue shapes that real Dokploy sends (`invalid_type`, `invalid_value`, ...).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

Method = Literal["GET", "POST"]

# Where the running server accepts what its document says it rejects (the capture is right):
# (operation, field that the document marks required but Dokploy treats as optional, evidence).
KNOWN_INPUT_CORRECTIONS: tuple[tuple[str, str, str], ...] = (
    ("compose.delete", "deleteVolumes", "captures compose.delete--not-found/--already-deleted: 404, not 400"),
)


class OpenApiDocumentError(ValueError):
    """The OpenAPI document is missing, unreadable or not Dokploy's."""


class UnknownOperationError(KeyError):
    """No operation of that name in the installed Dokploy."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown Dokploy operation {name!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class InputIssue:
    """One problem with an operation's input, in the shape of a zod v4 issue."""

    path: tuple[str | int, ...]
    code: str
    message: str
    expected: str | None = None
    received: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_zod(self) -> dict[str, Any]:
        """The issue as real Dokploy reports it in a 400 body's `issues` array."""
        out: dict[str, Any] = {}
        if self.code == "invalid_type":
            out["expected"] = self.expected
            out["code"] = self.code
            if self.received == "NaN":
                out["received"] = "NaN"
        else:
            if self.code == "invalid_format":
                out["origin"] = "string"
            out["code"] = self.code
            out.update(self.extra)
        out["path"] = list(self.path)
        out["message"] = self.message
        return out

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.path) or "(input)"
        return f"{where}: {self.message}"


def _js_type(value: Any) -> str:
    """The name zod uses for the type of a received value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "NaN" if isinstance(value, float) and math.isnan(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _schema_type(schema: Mapping[str, Any]) -> str:
    """Short type name of a schema for messages (`string`, `number`, `"a"|"b"`...)."""
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "anyOf" in schema or "oneOf" in schema:
        parts = [_schema_type(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " | ".join(dict.fromkeys(parts))
    t = schema.get("type", "any")
    if t == "integer":
        return "number"
    if t == "array":
        return f"{_schema_type(schema.get('items', {}))}[]"
    return str(t)


@dataclass(frozen=True)
class Operation:
    """One Dokploy procedure: `compose.one` is `GET /api/compose.one?composeId=...`."""

    name: str
    method: Method
    input_schema: dict[str, Any]
    json_body: bool = True  # False for the multipart-only procedures (not callable over /api)

    @property
    def router(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_query(self) -> bool:
        return self.method == "GET"

    @property
    def properties(self) -> dict[str, Any]:
        props = self.input_schema.get("properties", {})
        return props if isinstance(props, dict) else {}

    @property
    def required(self) -> list[str]:
        req = self.input_schema.get("required", [])
        return list(req) if isinstance(req, list) else []

    def field_summary(self) -> str:
        """`composeId: string (required), tail?: number` — what to tell a caller who got it wrong."""
        if not self.properties:
            return "(no input)"
        parts = []
        for key, schema in self.properties.items():
            opt = "" if key in self.required else "?"
            parts.append(f"{key}{opt}: {_schema_type(schema)}")
        return ", ".join(parts)


class OperationTable:
    """All operations of one Dokploy version, with input validation."""

    def __init__(self, operations: Iterable[Operation], version: str | None = None) -> None:
        self._ops: dict[str, Operation] = {op.name.lower(): op for op in operations}
        self._validators: dict[str, Draft202012Validator] = {}
        self.version = version

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_document(
        cls,
        doc: Mapping[str, Any],
        corrections: Iterable[tuple[str, str, str]] = KNOWN_INPUT_CORRECTIONS,
    ) -> OperationTable:
        optional = {(name, fld) for name, fld, _ in corrections}
        paths = doc.get("paths")
        if not isinstance(paths, dict) or not paths:
            raise OpenApiDocumentError("OpenAPI document has no 'paths': is it Dokploy's?")
        ops: list[Operation] = []
        for path, item in paths.items():
            if not isinstance(item, dict):
                continue
            name = path.strip("/")
            for method, spec in item.items():
                if method not in ("get", "post") or not isinstance(spec, dict):
                    continue
                op = _operation_from_spec(name, "GET" if method == "get" else "POST", spec)
                fixed = [r for r in op.required if (op.name, r) not in optional]
                if fixed != op.required:
                    op = Operation(op.name, op.method, {**op.input_schema, "required": fixed}, op.json_body)
                ops.append(op)
        if not ops:
            raise OpenApiDocumentError("OpenAPI document lists no GET/POST operations")
        info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
        version = info.get("version") if isinstance(info, dict) else None
        return cls(ops, version=str(version) if version else None)

    @classmethod
    def from_file(cls, path: str | Path) -> OperationTable:
        p = Path(path)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise OpenApiDocumentError(f"OpenAPI document not found: {p}") from exc
        except (OSError, ValueError) as exc:
            raise OpenApiDocumentError(f"OpenAPI document {p} is not readable JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise OpenApiDocumentError(f"OpenAPI document {p} is not a JSON object")
        return cls.from_document(doc)

    # -- lookup ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._ops

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops.values())

    def names(self) -> list[str]:
        return sorted(op.name for op in self._ops.values())

    def get(self, name: str) -> Operation:
        """The operation (the path is case-insensitive, as in Dokploy's adapter)."""
        op = self._ops.get(name.strip().strip("/").lower())
        if op is None:
            names = [o.name for o in self._ops.values()]
            raise UnknownOperationError(name, difflib.get_close_matches(name, names, n=3, cutoff=0.6))
        return op

    # -- validation -----------------------------------------------------------------------
    def validate(self, name: str, data: Any) -> list[InputIssue]:
        """Issues with `data` as input of operation `name`; [] when Dokploy would accept it."""
        op = self.get(name)
        validator = self._validators.get(op.name)
        if validator is None:
            validator = Draft202012Validator(op.input_schema)
            self._validators[op.name] = validator
        if data is None:
            data = {}
        issues = [_to_issue(err) for err in validator.iter_errors(data)]
        order = {key: n for n, key in enumerate(op.properties)}  # zod reports in schema order
        issues.sort(key=lambda i: (order.get(str(i.path[0]), len(order)) if i.path else -1, i.path[1:]))
        return issues


def _operation_from_spec(name: str, method: Method, spec: dict[str, Any]) -> Operation:
    if method == "GET":
        props: dict[str, Any] = {}
        required: list[str] = []
        for param in spec.get("parameters", []) or []:
            if not isinstance(param, dict) or param.get("in") != "query":
                continue
            props[param["name"]] = param.get("schema", {})
            if param.get("required"):
                required.append(param["name"])
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        return Operation(name=name, method=method, input_schema=schema)
    body = spec.get("requestBody") or {}
    content = body.get("content", {}) if isinstance(body, dict) else {}
    if "application/json" in content:
        schema = dict(content["application/json"].get("schema") or {"type": "object"})
        return Operation(name=name, method=method, input_schema=schema)
    if content:  # multipart only
        schema = dict(next(iter(content.values())).get("schema") or {"type": "object"})
        return Operation(name=name, method=method, input_schema=schema, json_body=False)
    return Operation(name=name, method=method, input_schema={"type": "object", "properties": {}})


def _to_issue(err: ValidationError) -> InputIssue:
    path = tuple(err.absolute_path)
    kw = err.validator
    schema = err.schema if isinstance(err.schema, dict) else {}
    if kw == "required":
        missing = str(err.message).split("'")[1] if "'" in str(err.message) else "?"
        prop = schema.get("properties", {}).get(missing, {})
        expected = _schema_type(prop)
        if "anyOf" in prop:  # zod `.nullable()` without `.optional()`: "nonoptional"
            expected = "nonoptional"
        return InputIssue(
            path=(*path, missing),
            code="invalid_type",
            expected=expected,
            received="undefined",
            message=f"Invalid input: expected {expected}, received undefined",
        )
    if kw in ("type", "anyOf", "oneOf") and not (kw != "type" and "enum" in str(err.schema)):
        expected = _schema_type(schema)
        received = _js_type(err.instance)
        return InputIssue(
            path=path,
            code="invalid_type",
            expected=expected,
            received=received,
            message=f"Invalid input: expected {expected}, received {received}",
        )
    if kw in ("enum", "const"):
        values = list(schema.get("enum", [schema.get("const")]))
        shown = "|".join(json.dumps(v) for v in values)
        return InputIssue(
            path=path,
            code="invalid_value",
            message=f"Invalid option: expected one of {shown}",
            extra={"values": values},
        )
    if kw == "pattern":
        pattern = schema.get("pattern", "")
        return InputIssue(
            path=path,
            code="invalid_format",
            message=f"Invalid string: must match pattern /{pattern}/",
            extra={"format": "regex", "pattern": f"/{pattern}/"},
        )
    if kw in ("minLength", "minimum", "exclusiveMinimum", "minItems"):
        return _size_issue(path, "too_small", kw, schema, err.instance)
    if kw in ("maxLength", "maximum", "exclusiveMaximum", "maxItems"):
        return _size_issue(path, "too_big", kw, schema, err.instance)
    if kw == "format":
        fmt = schema.get("format", "")
        return InputIssue(
            path=path,
            code="invalid_format",
            message=f"Invalid {fmt}",
            extra={"format": fmt},
        )
    return InputIssue(path=path, code="custom", message=str(err.message))


def _size_issue(
    path: tuple[str | int, ...], code: str, kw: str, schema: dict[str, Any], instance: Any
) -> InputIssue:
    limit = schema.get(kw)
    origin = {"minLength": "string", "maxLength": "string", "minItems": "array", "maxItems": "array"}.get(
        kw, "number"
    )
    inclusive = kw not in ("exclusiveMinimum", "exclusiveMaximum")
    op = (">=" if inclusive else ">") if code == "too_small" else ("<=" if inclusive else "<")
    what = {
        "string": f"string to have {op}{limit} characters",
        "array": f"array to have {op}{limit} items",
    }.get(origin, f"number to be {op}{limit}")
    word = "Too small" if code == "too_small" else "Too big"
    key = "minimum" if code == "too_small" else "maximum"
    return InputIssue(
        path=path,
        code=code,
        message=f"{word}: expected {what}",
        extra={"origin": origin, key: limit, "inclusive": inclusive},
    )


def coerce_query(op: Operation, raw: Mapping[str, list[str]]) -> dict[str, Any]:
    """Turn a parsed query string into the input Dokploy's adapter validates.

    Mirrors `@dokploy/trpc-openapi`: one key per field, a repeated key becomes an array, a single
    value for an array field is wrapped, and number/integer/boolean fields are coerced like zod's
    `z.coerce` (so `tail=abc` becomes NaN, and `Boolean("false")` is true). Unknown keys are dropped.
    """
    out: dict[str, Any] = {}
    for key, values in raw.items():
        schema = op.properties.get(key)
        if schema is None or not values:
            continue
        values = [v for v in values if v != ""]
        if not values:
            continue
        if schema.get("type") == "array":
            out[key] = values
            continue
        value: Any = values if len(values) > 1 else values[0]
        if isinstance(value, str):
            value = _coerce_scalar(schema, value)
        out[key] = value
    return out


def _coerce_scalar(schema: Mapping[str, Any], value: str) -> Any:
    t = schema.get("type")
    if t in ("number", "integer"):
        try:
            num = float(value)
        except ValueError:
            return math.nan
        return int(num) if num.is_integer() else num
    if t == "boolean":
        return value != ""
    return value


def encode_query(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Encode a query input as Dokploy expects it (arrays as repeated keys; booleans only when true).

    A `false` boolean is left out: Dokploy coerces query booleans with JavaScript `Boolean()`,
    so the string "false" would arrive as true.
    """
    params: list[tuple[str, str]] = []
    for key, value in data.items():
        if value is None or value is False:
            continue
        if isinstance(value, list | tuple):
            params.extend((key, _scalar_text(v)) for v in value)
        else:
            params.append((key, _scalar_text(value)))
    return params


def _scalar_text(value: Any) -> str:
    if value is True:
        return "true"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
