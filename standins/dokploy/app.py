"""The stand-in's ASGI application: Dokploy's HTTP semantics, check by check, in the real order.

1. Next.js: trailing slash → 308; `/api/health`; body parser (413 over 1 MB, 400 `Invalid JSON`);
   the deploy webhooks (no auth).
2. `[...trpc].ts`: `x-api-key` must match, else 401 `{"message":"Unauthorized"}`.
3. `@dokploy/trpc-openapi`: HEAD → 204; procedure lookup by path + method (404 `Not found`);
   POST needs `application/json` (415); input validated against the OpenAPI document (400).
4. The procedure; its return value is the raw JSON body (void → empty body).
Every refusal of steps 1–3 is recorded in `world.rejections`.
"""

from __future__ import annotations

import hmac
import json
import logging
import traceback
from typing import Any

from mcp_server.dokploy.openapi import Operation, UnknownOperationError

from . import responses
from .application_runner import run_application_job
from .compose_runner import run_compose_job
from .errors import TRPCError, error_body
from .queue import DeploymentQueue, Job
from .responses import Message, Send
from .routers import PROCEDURES, VOID
from .routers.base import service_path
from .validation import query_input, validate_input, with_defaults
from .world import Rejection, World

log = logging.getLogger(__name__)

Scope = dict[str, Any]
_JSON_TYPES = ("application/json", "application/ld+json")
_NO_BODY = object()  # no JSON body parsed (JSON `null` is a real, invalid, input)


class _BodyTooLarge(Exception):
    pass


class DokployApp:
    """ASGI callable serving one stand-in `World`."""

    def __init__(self, world: World) -> None:
        self.world = world

    async def __call__(self, scope: Scope, receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    # -- lifespan: the deployment worker lives on the server's event loop ---------------------
    async def _lifespan(self, receive: Any, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                queue = DeploymentQueue(self._run_job)
                queue.start()
                self.world.queue = queue
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.world.queue is not None:
                    await self.world.queue.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run_job(self, job: Job) -> None:
        if job.kind == "compose":
            await run_compose_job(self.world, job)
        else:
            await run_application_job(self.world, job)

    # -- HTTP --------------------------------------------------------------------------
    def _reject(self, method: str, path: str, status: int, reason: str, detail: Any = None) -> None:
        self.world.rejections.append(Rejection(method, path, status, reason, detail))

    async def _http(self, scope: Scope, receive: Any, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if len(path) > 1 and path.endswith("/"):
            target = path.rstrip("/") or "/"
            location = f"{target}?{query.decode('latin-1')}" if query else target
            self._reject(method, path, 308, "trailing slash (Next.js redirects)")
            await responses.send_redirect(send, location)
            return
        if path == "/api/health":
            await responses.send_next_json(send, 200, {"ok": True})
            return
        try:
            raw = await _read_body(receive, self.world.config.body_limit_bytes)
        except _BodyTooLarge:
            self._reject(method, path, 413, "body exceeded 1mb limit")
            await responses.send_plain(send, 413, "Body exceeded 1mb limit")
            return
        content_type = headers.get("content-type")
        media = (content_type or "").split(";", 1)[0].strip().lower()
        body: Any = _NO_BODY
        if media in _JSON_TYPES:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError):
                self._reject(method, path, 400, "invalid JSON body")
                await responses.send_plain(send, 400, "Invalid JSON")
                return
        if path.startswith("/api/deploy/"):
            await self._webhook(method, path, send)
            return
        if not path.startswith("/api/"):
            self._reject(method, path, 404, "not a Dokploy API path")
            await responses.send_not_found_page(send)
            return
        if not hmac.compare_digest(headers.get("x-api-key", "").encode(), self.world.config.api_key.encode()):
            self._reject(method, path, 401, "missing or wrong x-api-key")
            await responses.send_next_json(send, 401, {"message": "Unauthorized"})
            return
        await self._adapter(method, path, query, content_type, body, send)

    async def _adapter(
        self,
        method: str,
        path: str,
        query: bytes,
        content_type: str | None,
        body: Any,
        send: Send,
    ) -> None:
        name = path[len("/api/") :]
        if method == "HEAD":
            await responses.send_head_no_content(send)
            return
        if name.startswith("trpc/"):
            self.world.unimplemented.append(f"{method} {path} (native tRPC surface)")
            await _send_error(
                send,
                TRPCError(
                    "NOT_IMPLEMENTED",
                    "The Dokploy stand-in serves only the /api/<router>.<procedure> surface, not /api/trpc",
                ),
                None,
            )
            return
        try:
            op: Operation | None = self.world.table.get(name)
        except UnknownOperationError:
            op = None
        if op is None or op.method != method:
            reason = "unknown procedure" if op is None else f"{op.name} is {op.method}, not {method}"
            self._reject(method, path, 404, reason)
            await _send_error(send, TRPCError("NOT_FOUND", "Not found"), None)
            return
        if op.method == "POST":
            if not content_type:
                self._reject(method, path, 415, "missing content-type header")
                await _send_error(
                    send, TRPCError("UNSUPPORTED_MEDIA_TYPE", "Missing content-type header"), op.name
                )
                return
            if not content_type.lower().startswith("application/json"):
                self._reject(method, path, 415, f"content-type {content_type}")
                message = (
                    f'Unsupported content-type "{content_type}'  # sic: Dokploy's adapter has no closing quote
                )
                await _send_error(send, TRPCError("UNSUPPORTED_MEDIA_TYPE", message), op.name)
                return
            data = {} if body is _NO_BODY else body
        else:
            data = query_input(op, query)
        failure = validate_input(self.world.table, op, data)
        if failure is not None:
            self._reject(method, path, 400, "input validation failed", failure.issues)
            await responses.send_adapter_json(
                send,
                400,
                responses.js_json(
                    error_body(
                        "BAD_REQUEST", "Input validation failed", op.name, failure.zod_error, failure.issues
                    )
                ),
            )
            return
        handler = PROCEDURES.get(op.name)
        if handler is None:
            self.world.unimplemented.append(op.name)
            await _send_error(
                send,
                TRPCError("NOT_IMPLEMENTED", f"The Dokploy stand-in does not implement {op.name}"),
                op.name,
            )
            return
        await self._call(op, handler, data, send)

    async def _call(self, op: Operation, handler: Any, data: dict[str, Any], send: Send) -> None:
        try:
            result = await handler(self.world, with_defaults(op, data))
        except TRPCError as err:
            await _send_error(send, err, op.name)
            return
        except Exception as exc:  # like tRPC: any other exception becomes a 500 with its message
            self.world.procedure_errors.append(f"{op.name}: {exc!r}")
            log.error("procedure %s failed:\n%s", op.name, traceback.format_exc())
            await _send_error(send, TRPCError("INTERNAL_SERVER_ERROR", str(exc)), op.name)
            return
        payload = b"" if result is VOID else responses.js_json(result)
        await responses.send_adapter_json(send, 200, payload)

    async def _webhook(self, method: str, path: str, send: Send) -> None:
        """`/api/deploy/compose/<refreshToken>` and `/api/deploy/<refreshToken>` (any method, no auth)."""
        parts = path.split("/")
        db = self.world.db
        if len(parts) == 5 and parts[3] == "compose":
            kind, rows, token, label = "compose", db.compose.values(), parts[4], "Compose"
        elif len(parts) == 4:
            kind, rows, token, label = "application", db.applications.values(), parts[3], "Application"
        else:
            kind = ""
        if kind:
            row = next((r for r in rows if r["refreshToken"] == token), None)
            if row is None:
                await responses.send_next_json(send, 404, {"message": f"{label} Not Found"})
                return
            self.world.queue.add(
                kind,
                row[f"{kind}Id"],
                "deploy",
                "NEW CHANGES",
                "",
                service_path(self.world, kind, row),
                source="webhook",
            )
            await responses.send_next_json(send, 200, {"message": f"{label} deployed successfully"})
            return
        self._reject(method, path, 404, "unknown webhook path")
        await responses.send_not_found_page(send)


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_error(send: Send, err: TRPCError, path: str | None) -> None:
    await responses.send_adapter_json(
        send, err.status, responses.js_json(error_body(err.code, err.message, path))
    )
