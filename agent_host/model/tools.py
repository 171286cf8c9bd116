"""The read-only tools the model may call, chosen from the server's list, and their caps.

The model sees at most `max_tools` tools in at most `max_tool_tokens` o200k tokens (name,
description and input schema as Ollama receives them; output schemas are never sent). Only tools
the server annotates `readOnlyHint: true` are offered; the most useful come first and the least
useful are dropped until the list fits. Nothing the model calls can change anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp_server.log_analysis.render import tokenizer

# most useful first, for diagnosing a service on a compose host; unknown read-only tools come last
USEFULNESS = (
    "read_logs",
    "service_status",
    "container_stats",
    "compose_health",
    "compose_graph",
    "recent_events",
    "deployment_history",
    "deployment_log",
    "disk_usage",
    "check_domain",
    "list_inventory",
    "active_signals",
)
# gpt-oss rewrites spaces, dashes and dots in tool names; names outside this are not offered
TOOL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ToolDefinition:
    """A tool as the model sees it: name, description, input schema (never the output schema)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool = False

    def for_ollama(self) -> dict[str, Any]:
        """The definition in the shape Ollama's client keeps (see `ollama_parameters`)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": ollama_parameters(self.input_schema),
            },
        }

    def tokens(self) -> int:
        return tokenizer().count(json.dumps(self.for_ollama(), separators=(",", ":")))


def ollama_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """An MCP input schema in the shape the `ollama` client sends: its `Tool` model keeps only
    `type`, `description`, `enum` and `items` of each property and silently drops the rest. So an
    optional parameter (`anyOf: [{type: string}, {type: null}]`) would arrive with no type, and its
    default and bounds would vanish. Here the type is taken from the non-null branch, enums behind
    `$ref` are inlined, and "optional", the default and the bounds move into the description, so what
    the model reads is what was meant and what `tokens()` counts is what is sent."""
    defs = dict(schema.get("$defs") or {})
    required = list(schema.get("required") or [])
    properties = {
        name: _ollama_property(prop, defs, optional=name not in required)
        for name, prop in (schema.get("properties") or {}).items()
    }
    return {"type": "object", "properties": properties, "required": required}


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {
            **dict(defs.get(ref.removeprefix("#/$defs/")) or {}),
            **{k: v for k, v in prop.items() if k != "$ref"},
        }
    return prop


def _ollama_property(prop: dict[str, Any], defs: dict[str, Any], *, optional: bool) -> dict[str, Any]:
    prop = _resolve(prop, defs)
    branches = [_resolve(b, defs) for b in prop.get("anyOf") or prop.get("oneOf") or []]
    concrete = [b for b in branches if b.get("type") != "null"]
    base = {
        **(concrete[0] if len(concrete) == 1 else {}),
        **{k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")},
    }
    out: dict[str, Any] = {}
    kind = base.get("type")
    if kind is None and concrete:
        kinds = sorted({str(b.get("type")) for b in concrete if b.get("type")})
        kind = kinds[0] if len(kinds) == 1 else kinds or None
    if kind is not None:
        out["type"] = kind
    notes = []
    if optional:
        notes.append("optional")
    if "default" in base and base["default"] is not None:
        notes.append(f"default {json.dumps(base['default'])}")
    low, high = base.get("minimum"), base.get("maximum")  # string lengths would only be noise
    if low is not None or high is not None:
        notes.append(f"{low if low is not None else ''}–{high if high is not None else ''}")
    description = str(base.get("description") or base.get("title") or "").strip()
    if notes:
        description = f"{description} ({'; '.join(notes)})" if description else "; ".join(notes)
    if description:
        out["description"] = description
    enum = base.get("enum") or [b["const"] for b in concrete if "const" in b] or None
    if enum:
        out["enum"] = list(enum)
    items = base.get("items")
    if isinstance(items, dict):
        out["items"] = _ollama_property(items, defs, optional=False)
    return out


class ReadTools(Protocol):
    """What the decider needs from the caller: the server's tool definitions and a way to call one."""

    @property
    def definitions(self) -> Sequence[ToolDefinition]: ...

    async def call(self, name: str, arguments: dict[str, Any]) -> str: ...


def definitions_from_mcp(tools: Iterable[Any]) -> list[ToolDefinition]:
    """`mcp.types.Tool`s (from `list_tools`) as definitions; read_only from their annotations."""
    out = []
    for tool in tools:
        annotations = getattr(tool, "annotations", None)
        out.append(
            ToolDefinition(
                name=tool.name,
                description=(tool.description or "").strip(),
                input_schema=dict(tool.input_schema or {"type": "object", "properties": {}}),
                read_only=bool(annotations is not None and annotations.read_only_hint is True),
            )
        )
    return out


@dataclass
class ToolSelection:
    tools: list[ToolDefinition]
    tokens: int
    dropped: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return {t.name for t in self.tools}


def select_tools(definitions: Sequence[ToolDefinition], max_tools: int, max_tokens: int) -> ToolSelection:
    """The read-only tools to offer, most useful first, within the count and token budgets."""
    rank = {name: i for i, name in enumerate(USEFULNESS)}
    usable = [d for d in definitions if d.read_only and TOOL_NAME.match(d.name)]
    usable.sort(key=lambda d: (rank.get(d.name, len(rank)), d.name))
    chosen: list[ToolDefinition] = []
    dropped = [d.name for d in definitions if d not in usable]
    total = 0
    for definition in usable:
        cost = definition.tokens()
        if len(chosen) >= max_tools or total + cost > max_tokens:
            dropped.append(definition.name)
            continue
        chosen.append(definition)
        total += cost
    return ToolSelection(chosen, total, dropped)


@dataclass
class ToolBudget:
    """Caps on the model's tool calls for one incident: per tool and in all."""

    per_tool: int
    per_incident: int
    used: dict[str, int] = field(default_factory=dict)

    def refuse(self, name: str) -> str | None:
        """Why this call may not run (None: it may, and is counted)."""
        if sum(self.used.values()) >= self.per_incident:
            return f"cap reached: {self.per_incident} tool calls per incident; answer with what you have"
        if self.used.get(name, 0) >= self.per_tool:
            return f"cap reached: {self.per_tool} calls of {name} per incident; use another tool or answer"
        self.used[name] = self.used.get(name, 0) + 1
        return None


@dataclass
class LinkReadTools:
    """`ReadTools` over the server link: only read-only definitions, answers as text.

    `caller` is anything with `call_tool(name, arguments)` (the agent's `ServerLink`)."""

    definitions: list[ToolDefinition]
    caller: Any

    def __post_init__(self) -> None:
        self.definitions = [d for d in self.definitions if d.read_only]

    async def call(self, name: str, arguments: dict[str, Any]) -> str:
        if name not in {d.name for d in self.definitions}:
            return f"error: {name} is not a read-only tool of this server; it was not called"
        answer = await self.caller.call_tool(name, arguments)
        if not answer.ok:
            return f"error: {answer.error or answer.text or 'the call failed'}"
        if answer.text:
            return str(answer.text)
        return json.dumps(answer.structured, default=str)
