"""The one way out of the server: every tool result, resource and prompt passes through here.

`OutboundBoundary` is MCP middleware (it wraps every inbound request, whatever the transport or
protocol version), so a new tool, resource or prompt cannot forget any of it:

- **Secrets** are redacted in every string (values under secret-looking keys, credentials in text).
- **Untrusted text is fenced.** Container output reaches the model only inside `<untrusted-data>`
  markers (see `mcp_server/safety/boundary.py`): every string under a field that carries such data
  (`UNTRUSTED_FIELDS`: logs, probe output, deployment logs, compose files …), every multi-line
  string, and every string that shows a forged marker, an instruction-like line or invisible/bidi
  characters. Single-line names and labels that look harmless are left as they are (defused).
- **Results are bounded.** A read that runs longer than `mcp_read_timeout_s` is stopped, and an
  answer larger than `mcp_result_max_kib` is replaced by an error that says how to narrow the
  request, so one call cannot flood a 20B model's context or hold the server.
- **Every tool call is audited.** Calls that fail before they reach the safety gate (unknown tool,
  schema errors, unknown names, refused arguments) still get an audit row.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError

from mcp_server.redaction import redact, redact_text
from mcp_server.safety import Safety
from mcp_server.safety.audit import AuditRecord, CallAudit, ResultStatus, current_call_audit
from mcp_server.safety.boundary import (
    defuse,
    fence_value,
    is_fenced,
    looks_hostile,
    normalise,
    wrap_untrusted,
)
from mcp_server.server.idempotent_calls import idempotent_call

log = logging.getLogger("infraguardian.server")

# Fields whose strings always came from a container, a deployment or a file someone else wrote.
UNTRUSTED_FIELDS = frozenset(
    {
        "last_log_lines",
        "log_tail",
        "last_probe",
        "output",
        "probe_output",
        "logs",
        "stdout",
        "stderr",
        "text",
        "compose_file",
        "composeFile",
        "file_text",
        "included_file",
        "body",
    }
)
# Our own prose (the blast radius a human confirms, policy decisions): multi-line by design, so it
# is fenced only when something in it looks hostile (a container name can carry anything).
OWN_TEXT_FIELDS = frozenset({"confirmation", "policy", "reason", "hint", "next_steps"})
SHORT_VALUE_CHARS = 300  # longer single-line values get the full fence with its preamble
TRUSTED_RESOURCE_SCHEMES = ("runbook://",)  # our own files, shipped with the server
MRTR_PROTOCOL = "2026-07-28"  # from this revision on, every result carries `resultType`


# -- cleaning values ----------------------------------------------------------------------------------


def clean_string(
    text: str, source: str, *, untrusted: bool, redacted: bool = False, own_text: bool = False
) -> str:
    """One string on its way out: redacted, and fenced when it is (or may be) untrusted.
    `redacted`: the caller ran `redact` over it already; `own_text`: prose the server wrote."""
    if not text or is_fenced(text):
        return text
    if untrusted or ("\n" in text and not own_text) or looks_hostile(text):
        if "\n" in text or len(text) > SHORT_VALUE_CHARS:
            return wrap_untrusted(text, source, redacted=redacted)
        return fence_value(text, redacted=redacted)
    return text if redacted else redact_text(text)


def _clean_key(key: str) -> str:
    if not looks_hostile(key):
        return key
    return "[suspicious key] " + " ".join(defuse(normalise(key)).split())


def clean_value(value: Any, source: str, *, untrusted: bool = False) -> Any:
    """A JSON-like value with every string redacted and, where needed, fenced (`clean_string`);
    `source` names where it is (it labels the fence)."""
    return _clean_redacted(redact(value), source, untrusted)


def _clean_redacted(value: Any, source: str, untrusted: bool, own_text: bool = False) -> Any:
    if isinstance(value, str):
        return clean_string(value, source, untrusted=untrusted, redacted=True, own_text=own_text)
    if isinstance(value, Mapping):
        return {
            _clean_key(str(k)): _clean_redacted(
                v, f"{source}.{k}", untrusted or k in UNTRUSTED_FIELDS, k in OWN_TEXT_FIELDS
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean_redacted(v, f"{source}[{i}]", untrusted, own_text) for i, v in enumerate(value)]
    return value


def clean_tool_result(result: dict[str, Any], tool: str) -> dict[str, Any]:
    """A `CallToolResult` as a wire dict, cleaned. The text block that mirrors the structured
    content is rebuilt from the cleaned structure, so both say the same."""
    out = dict(result)
    structured = result.get("structuredContent")
    if isinstance(structured, dict):
        cleaned = clean_value(structured, f"{tool} result")
        out["structuredContent"] = cleaned
        text = json.dumps(cleaned, indent=2, ensure_ascii=False)
        out["content"] = [{"type": "text", "text": text}]
        return out
    blocks = []
    for block in result.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text":
            text = str(block.get("text", ""))
            if result.get("isError"):  # one line; fenced when it echoes something hostile
                text = fence_value(text) if looks_hostile(text) else " ".join(redact_text(text).split())
            else:
                text = clean_string(text, f"{tool} result", untrusted=False)
            block = {**block, "text": text}
        blocks.append(block)
    out["content"] = blocks
    return out


def clean_resource_result(result: dict[str, Any]) -> dict[str, Any]:
    """Resource contents: ours (runbooks) only redacted; JSON walked like a tool result; any other
    text (a compose file, a log) fenced as a whole."""
    contents = []
    for item in result.get("contents") or []:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            uri, text = str(item.get("uri", "")), item["text"]
            if uri.startswith(TRUSTED_RESOURCE_SCHEMES):
                text = redact_text(text)
            elif item.get("mimeType") == "application/json":
                text = _clean_json_text(text, uri)
            elif text:
                text = wrap_untrusted(text, f"resource {uri}")
            item = {**item, "text": text}
        contents.append(item)
    return {**result, "contents": contents}


def _clean_json_text(text: str, uri: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return wrap_untrusted(text, f"resource {uri}")
    return json.dumps(clean_value(data, f"resource {uri}"), ensure_ascii=False)


def clean_prompt_result(result: dict[str, Any]) -> dict[str, Any]:
    """Prompt messages are our own text plus the client's arguments: redacted, never fenced."""
    messages = []
    for message in result.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, dict) and isinstance(content.get("text"), str):
            message = {**message, "content": {**content, "text": redact_text(content["text"])}}
        messages.append(message)
    return {**result, "messages": messages}


# -- the middleware -----------------------------------------------------------------------------------


def _error_result(message: str, like: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer with the envelope (e.g. 2026-07-28's `resultType`) of the answer it replaces."""
    envelope = {k: v for k, v in (like or {}).items() if k in ("resultType", "_meta")}
    return {**envelope, "content": [{"type": "text", "text": message}], "isError": True}


def _size_kib(result: dict[str, Any]) -> float:
    return len(json.dumps(result, ensure_ascii=False).encode()) / 1024


class OutboundBoundary:
    """MCP server middleware: redact, fence, bound and audit every answer (see the module doc)."""

    def __init__(self, server: Any, *, result_max_kib: int, read_timeout_s: float) -> None:
        self.server = server  # the MCPServer, to tell reads (time-bounded) from actions
        self.result_max_kib = result_max_kib
        self.read_timeout_s = read_timeout_s

    def _is_read_only(self, tool: str) -> bool:
        found = self.server._tool_manager.get_tool(tool)
        annotations = getattr(found, "annotations", None)
        return bool(annotations is not None and annotations.read_only_hint)

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        method = getattr(ctx, "method", "")
        if method == "tools/call":
            return await self._tool_call(ctx, call_next)
        try:
            result = await call_next(ctx)
        except MCPError as exc:  # e.g. "no runbook 'token=…'": errors echo what the client sent
            error = exc.error
            raise MCPError(
                code=error.code, message=" ".join(redact_text(error.message).split()), data=redact(error.data)
            ) from None
        if method == "resources/read" and isinstance(result, dict):
            return clean_resource_result(result)
        if method == "prompts/get" and isinstance(result, dict):
            return clean_prompt_result(result)
        return result

    async def _tool_call(self, ctx: Any, call_next: Any) -> Any:
        """A repeat of an idempotency key (request `_meta`) is answered from its record instead
        of running again; see server/idempotent_calls.py."""
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        tool = str(params.get("name", ""))[:100]
        envelope = {"resultType": "complete"} if str(ctx.protocol_version) >= MRTR_PROTOCOL else {}
        mutating = not self._is_read_only(tool)
        # An action is never cut in half by its client going away (the agent killed -9 ends the
        # stdio session, which cancels its requests): it runs to its end and its real answer is
        # kept for the idempotency key, so the resumed agent's repeat replays it instead of
        # finding "outcome unknown". Actions have their own timeouts; reads stay cancellable.
        with anyio.CancelScope(shield=mutating):
            async with idempotent_call(
                ctx,
                tool=tool,
                arguments=params.get("arguments"),
                mutating=mutating,
                client=_client_name(ctx),
                envelope=envelope,
            ) as idempotent:
                if idempotent.answer is not None:
                    return idempotent.answer
                result = await self._answer_tool_call(ctx, call_next, tool, params.get("arguments"))
                idempotent.finish(result)
                return result

    async def _answer_tool_call(self, ctx: Any, call_next: Any, tool: str, arguments: Any) -> Any:
        mark = CallAudit()
        token = current_call_audit.set(mark)
        started = time.monotonic()
        try:
            result = await self._run_bounded(ctx, call_next, tool)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self._audit_if_missing(ctx, mark, tool, arguments, "error", _first_line(exc), started)
            raise
        finally:
            current_call_audit.reset(token)
        if not isinstance(result, dict) or result.get("resultType") == "input_required":
            return result
        result = clean_tool_result(result, tool or "tool")
        size = _size_kib(result)
        if size > self.result_max_kib:
            mutating = not self._is_read_only(tool)
            done = " The call itself ran to its end (see infraguardian://audit)." if mutating else ""
            result = _error_result(
                f"{tool}'s answer was {size:,.0f} KiB, over the {self.result_max_kib} KiB limit for one "
                f"answer, so none of it is returned.{done} Narrow the request and call again: a smaller "
                "tail, max_tokens or limit, a later since, one service instead of a whole app.",
                like=result,
            )
        if result.get("isError"):
            text = " ".join(
                str(b.get("text", "")) for b in result.get("content") or [] if isinstance(b, dict)
            )
            await self._audit_if_missing(ctx, mark, tool, arguments, "error", text, started)
        else:
            await self._audit_if_missing(ctx, mark, tool, arguments, "ok", "", started)
        return result

    async def _run_bounded(self, ctx: Any, call_next: Any, tool: str) -> Any:
        if not self._is_read_only(tool):
            return await call_next(ctx)  # actions have their own timeouts; never cut one in half
        with anyio.move_on_after(self.read_timeout_s):
            return await call_next(ctx)
        envelope = {"resultType": "complete"} if str(ctx.protocol_version) >= MRTR_PROTOCOL else None
        return _error_result(
            f"{tool} took longer than {self.read_timeout_s:g} s and was stopped (nothing was changed). "
            "Narrow the request (a smaller tail or limit, one service) and call again.",
            like=envelope,
        )

    async def _audit_if_missing(
        self,
        ctx: Any,
        mark: CallAudit,
        tool: str,
        arguments: Any,
        result: ResultStatus,
        message: str,
        started: float,
    ) -> None:
        """Write the row a call that never reached the safety gate would otherwise not leave."""
        if mark.decision_ids:
            return
        safety = getattr(getattr(ctx, "lifespan_context", None), "safety", None)
        if not isinstance(safety, Safety):
            return
        failed = result != "ok"
        reason = " ".join(redact_text(message).split())[:1000]
        record = AuditRecord(
            ts=safety.clock(),
            client=_client_name(ctx),
            tool=tool or "(none)",
            action="read" if self._is_read_only(tool) else "call",
            target_key="",
            target=None,
            arguments=_bounded_arguments(arguments),
            allowed=not failed,
            code="invalid" if failed else "allowed",
            reason=reason if failed else "call ended before the safety gate was asked",
            result=result,
            summary=reason if failed else "",
            duration_s=time.monotonic() - started,
            dry_run=bool(isinstance(arguments, Mapping) and arguments.get("dry_run") is True),
            mode=safety.mode.value,
            decision_id=uuid.uuid4().hex,
        )
        try:
            await anyio.to_thread.run_sync(safety.audit.append, record)
        except Exception:  # the answer still goes out; the failure to audit is logged loudly
            log.exception("could not write the audit row of a %s call", tool)


def _bounded_arguments(arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, Mapping):
        return {} if arguments is None else {"(arguments)": str(arguments)[:200]}
    out: dict[str, Any] = {}
    for key, value in list(arguments.items())[:30]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out[str(key)[:100]] = text[:500] + ("…" if len(text) > 500 else "") if isinstance(text, str) else text
    return out


def _client_name(ctx: Any) -> str:
    for getter in (
        lambda: ctx.session.client_params.client_info.name,
        lambda: ctx.meta.client_info.name,
    ):
        try:
            name = getter()
        except AttributeError:
            continue
        if name:
            return str(name)[:200]
    return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
