"""The webhook endpoints `POST /hooks/alertmanager` and `GET|POST /hooks/uptime-kuma` (an ASGI app).

`transports.GuardedApp` hands every `/hooks/...` request here after its Host/Origin checks and before its
MCP bearer check: webhook senders authenticate with the hook credentials (`HookSettings`), which default
to the MCP bearer token. Per request, in this order:

1. path → 404, method → 405 with `Allow` (Uptime Kuma's GET variant is allowed on its route only);
2. credentials (`check_webhook_auth`) → 401 with `WWW-Authenticate`; nothing is read before this;
3. Content-Type the parser understands → 415;
4. body read from `receive` chunk by chunk (Uptime Kuma's form-data comes chunked, with no
   Content-Length) up to `MAX_BODY_BYTES` → 413 as soon as it is exceeded, the rest is never read;
5. parse (`parse_alertmanager` / `parse_uptime_kuma`) → 400 `bad_payload` with the parser's one line;
6. store the batch with `AlertInbox.accept` in a worker thread → 503 when the store fails;
7. 200 with the receipt's counts. No detector work happens here: the `external_alert` detector reads the
   inbox on its own schedule, so the sender gets its answer in milliseconds (Uptime Kuma sends its
   notifications one after another, each waiting for the previous answer).

Audit log (the server's, `<state_dir>/safety.sqlite3`): one row per refused request (401, 400, 413,
415; at most 20 a minute per sender address, `refusal_budget.py`, the next row counts those left out)
and per request that changed the inbox (or hit a stale, out-of-order resolve). A request whose
alerts were all duplicates gets no row: Alertmanager repeats every group at each `repeat_interval` and
retries failures in bursts, byte-identical, which would flood the log. Test notifications get no row
either (they change nothing); the INFO log line says they arrived. Logs: one line per request (INFO
for changes and tests, DEBUG for duplicates, WARNING for refusals); bodies and credentials are never
logged or audited.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import anyio
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from mcp_server.asgi_json import send_json
from mcp_server.hooks.alertmanager import parse_alertmanager
from mcp_server.hooks.auth import check_webhook_auth
from mcp_server.hooks.inbox import AlertInbox, InboxReceipt
from mcp_server.hooks.models import (
    MAX_BODY_BYTES,
    AlertSource,
    WebhookBatch,
    WebhookPayloadError,
    bounded,
    content_type_base,
)
from mcp_server.hooks.refusal_budget import RefusalBudget
from mcp_server.hooks.uptime_kuma import parse_uptime_kuma
from mcp_server.safety.audit import AuditLog, AuditRecord, ResultStatus
from mcp_server.safety.db import Database
from mcp_server.settings import Settings
from mcp_server.targets import Target

log = logging.getLogger("infraguardian.hooks")

HOOKS_PREFIX = "/hooks/"
ALERTMANAGER_PATH = "/hooks/alertmanager"
UPTIME_KUMA_PATH = "/hooks/uptime-kuma"
AUDIT_ACTION = "receive_alerts"


class Inbox(Protocol):
    """The part of `inbox.AlertInbox` the routes use (tests hand in a failing one)."""

    def accept(self, host: str, batch: WebhookBatch) -> InboxReceipt: ...
    def close(self) -> None: ...


def open_alert_inbox(state_dir: Path) -> Inbox:
    return AlertInbox.in_state_dir(state_dir)


@dataclass(frozen=True)
class _Route:
    source: AlertSource
    methods: tuple[str, ...]
    media_types: tuple[str, ...]  # accepted Content-Type bases; "" = header absent

    @property
    def tool(self) -> str:
        return f"hooks/{self.source}"

    def accepts_media(self, base: str) -> bool:
        return (
            base in self.media_types
            or base.endswith("+json")
            or (self.source == "uptime-kuma" and base.startswith("text/"))
        )


ROUTES = {
    ALERTMANAGER_PATH: _Route("alertmanager", ("POST",), ("", "application/json")),
    # Uptime Kuma: JSON preset, form-data preset, custom body (sent as urlencoded), and its GET variant.
    UPTIME_KUMA_PATH: _Route(
        "uptime-kuma",
        ("GET", "POST"),
        ("", "application/json", "multipart/form-data", "application/x-www-form-urlencoded"),
    ),
}


class _Refused(Exception):
    """A request answered with an error; `code` goes in the JSON body and the audit row."""

    def __init__(self, status: int, code: str, description: str, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(description)
        self.status, self.code, self.description, self.headers = status, code, description, headers


class _ClientGone(Exception):
    """The sender disconnected before its body was read: there is no one to answer."""


@dataclass(frozen=True)
class _Call:
    """One webhook request, as far as logs and audit rows need it."""

    route: _Route
    method: str
    client: str  # the peer address (the TLS proxy's, behind one)
    started: float  # time.monotonic()


@dataclass(frozen=True)
class _Row:
    """The varying part of an audit row."""

    code: str
    reason: str
    result: ResultStatus
    arguments: dict[str, Any]
    allowed: bool = True
    summary: str = ""
    target: Target | None = None


class HooksApp:
    """ASGI app for the `/hooks/` paths. Opens the alert inbox and the audit log on first use (once per
    app, from a worker thread) and closes them in `close()`, which `transports.HttpServer` calls when
    serving stops. `open_inbox` / `open_audit` replace the real stores (tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        mcp_token: str | None,
        open_inbox: Callable[[Path], Inbox] = open_alert_inbox,
        open_audit: Callable[[Settings], AuditLog] | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = settings.hooks
        self.host = settings.docker_host_name
        self._bearer = self.hooks.bearer_token(mcp_token)
        self._password = self.hooks.password()
        self._open_inbox = open_inbox
        self._open_audit = open_audit or open_audit_log
        self._lock = threading.Lock()
        self._inbox: Inbox | None = None
        self._audit: AuditLog | None = None
        self._refusals = RefusalBudget()

    @property
    def has_credentials(self) -> bool:
        return bool(self._bearer) or (self.hooks.basic_user is not None and bool(self._password))

    # -- ASGI --------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"])
        route = ROUTES.get(path.rstrip("/"))
        if route is None:
            where = f"no webhook here; use {ALERTMANAGER_PATH} or {UPTIME_KUMA_PATH}"
            await send_json(send, 404, {"error": "not_found", "error_description": where})
            return
        call = _Call(route, str(scope["method"]).upper(), _peer(scope), time.monotonic())
        if call.method not in route.methods:
            allow = ", ".join(route.methods)
            why = f"{path} takes {allow}, not {call.method}"
            await send_json(
                send,
                405,
                {"error": "method_not_allowed", "error_description": why},
                [(b"allow", allow.encode())],
            )
            return
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        query = scope.get("query_string", b"").decode("latin-1")
        body = b""
        try:
            self._authenticate(headers, query)
            if call.method == "POST":
                if not route.accepts_media(content_type_base(content_type)):
                    raise _Refused(415, "unsupported_media_type", _media_refusal(route, content_type), [])
                body = await _read_body(headers, receive)
            batch = await anyio.to_thread.run_sync(self._parse, call, query, body, content_type)
        except _Refused as refused:
            log.warning("refused %s %s from %s: %s", call.method, path, call.client, refused.description)
            arguments = {
                "method": call.method,
                "content_type": bounded(content_type_base(content_type), 100),
                "body_bytes": len(body),
            }
            left_out = self._refusals.take(call.client)
            if left_out is not None:  # None: this sender is over its audited refusals per minute
                reason = refused.description + (
                    f" ({left_out} more refused requests from this sender were not audited)"
                    if left_out
                    else ""
                )
                await self._record(call, _Row(refused.code, reason, "refused", arguments, allowed=False))
            payload = {"error": refused.code, "error_description": refused.description}
            await send_json(send, refused.status, payload, refused.headers)
            return
        except _ClientGone:
            log.debug(
                "%s %s from %s: the sender left before its body arrived", call.method, path, call.client
            )
            return
        await self._store_and_answer(call, batch, send)

    def _authenticate(self, headers: Headers, query: str) -> None:
        hooks = self.hooks
        if check_webhook_auth(
            headers,
            bearer_token=self._bearer,
            basic_user=hooks.basic_user,
            basic_password=self._password,
            query=query,
            allow_query_token=hooks.allow_query_token,
        ):
            return
        challenge = b'Bearer realm="infraguardian-hooks"'
        why = "missing or wrong credentials: send Authorization: Bearer <token>"
        if hooks.basic_user is not None:
            challenge += b', Basic realm="infraguardian-hooks"'
            why += " or the configured basic auth"
        if not self.has_credentials:
            why = "no webhook credential is configured; set INFRAGUARDIAN_HOOKS__TOKEN or INFRAGUARDIAN_MCP_TOKEN"
        raise _Refused(401, "unauthorized", why, [(b"www-authenticate", challenge)])

    def _parse(self, call: _Call, query: str, body: bytes, content_type: str) -> WebhookBatch:
        """Runs in a worker thread: a flood of alerts is up to 1 MiB of JSON."""
        try:
            if call.route.source == "alertmanager":
                return parse_alertmanager(body, content_type, target_labels=self.hooks.target_labels)
            return parse_uptime_kuma(call.method, query, body, content_type)
        except WebhookPayloadError as exc:
            raise _Refused(400, "bad_payload", _one_line(exc) or "unreadable payload", []) from None

    async def _store_and_answer(self, call: _Call, batch: WebhookBatch, send: Send) -> None:
        source = call.route.source
        if batch.is_test:
            log.info("%s test notification from %s received", source, call.client)
            await send_json(send, 200, {"status": "ok", "note": "test notification received"})
            return
        try:
            receipt = await anyio.to_thread.run_sync(self._accept, batch)
        except Exception as exc:  # any store failure: the sender must not believe the alert is kept
            reason = f"cannot store the alerts ({type(exc).__name__}: {_one_line(exc)}); try again later"
            log.error("%s webhook from %s: %s", source, call.client, reason)
            await self._record(call, _Row("store_failed", reason, "error", _batch_arguments(batch)))
            # 503: Alertmanager retries 5xx (backoff within a 10 s flush, then at each group_interval),
            # so its alerts arrive again once the store works. Uptime Kuma never retries.
            await send_json(send, 503, {"error": "store_unavailable", "error_description": reason})
            return
        summary = receipt.summary()
        if receipt.accepted or receipt.stale or receipt.implicitly_resolved:
            log.info("%s webhook from %s: %s", source, call.client, summary)
            row = _Row("accepted", "", "ok", _batch_arguments(batch), summary=summary)
            await self._record(call, replace(row, target=Target.for_host(self.host)))
        else:  # duplicates only (repeats, retries): no audit row, they would flood the log
            log.debug("%s webhook from %s: %s", source, call.client, summary)
        counts = {
            "accepted": receipt.accepted,
            "duplicates": receipt.duplicates,
            "stale": receipt.stale,
            "resolved_by_absence": receipt.implicitly_resolved,
        }
        await send_json(send, 200, {"status": "ok", **counts})

    # -- stores (used from worker threads) ---------------------------------------------------------

    def _accept(self, batch: WebhookBatch) -> InboxReceipt:
        with self._lock:
            if self._inbox is None:
                self._inbox = self._open_inbox(Path(self.settings.state_dir))
            inbox = self._inbox
        return inbox.accept(self.host, batch)

    def _append_audit(self, record: AuditRecord) -> None:
        with self._lock:
            if self._audit is None:
                self._audit = self._open_audit(self.settings)
            audit = self._audit
        audit.append(record)

    async def _record(self, call: _Call, row: _Row) -> None:
        """Append one audit row. A failing audit log is logged and does not change the answer: the
        alert is already stored, or the refusal already decided."""
        target = row.target
        record = AuditRecord(
            ts=time.time(),
            client=call.client,
            tool=call.route.tool,
            action=AUDIT_ACTION,
            target_key=target.key() if target else "",
            target=target.model_dump(exclude_defaults=True, exclude={"app_name"}) if target else None,
            arguments=row.arguments,
            allowed=row.allowed,
            code=row.code,
            reason=row.reason,
            result=row.result,
            summary=row.summary,
            duration_s=round(time.monotonic() - call.started, 4),
            dry_run=False,
            mode=self.settings.safety.mode.value,
            decision_id=uuid.uuid4().hex,
        )
        try:
            await anyio.to_thread.run_sync(self._append_audit, record)
        except Exception as exc:
            log.error(
                "cannot write the audit row of a %s webhook (%s): %s",
                call.route.source,
                row.code,
                _one_line(exc),
            )

    def close(self) -> None:
        """Close the inbox and the audit database if they were opened (idempotent)."""
        with self._lock:
            inbox, audit = self._inbox, self._audit
            self._inbox = self._audit = None
        if inbox is not None:
            inbox.close()
        if audit is not None:
            audit.db.close()


def open_audit_log(settings: Settings) -> AuditLog:
    """The server's audit log, opened read-write the way `safety.gate.Safety` opens it."""
    safety = settings.safety
    return AuditLog(
        Database(Path(settings.state_dir) / safety.db_filename),
        summary_max_chars=safety.audit_summary_max_chars,
        arguments_max_chars=safety.audit_arguments_max_chars,
    )


def build_hooks_app(settings: Settings, *, mcp_token: str | None) -> HooksApp:
    """The webhook app for `settings` (see the module docstring); `mcp_token` is the server's MCP bearer
    token, the default webhook credential."""
    return HooksApp(settings, mcp_token=mcp_token)


# -- helpers ---------------------------------------------------------------------------------------


async def _read_body(headers: Headers, receive: Receive) -> bytes:
    """The request body, at most MAX_BODY_BYTES. A declared Content-Length over the cap is refused at
    once; a chunked body (no Content-Length) is refused as soon as its chunks pass the cap."""
    too_large = _Refused(
        413,
        "too_large",
        f"body over the {MAX_BODY_BYTES}-byte limit; send fewer alerts per request (Alertmanager: max_alerts)",
        [(b"connection", b"close")],  # the unread rest of the body makes the connection unusable
    )
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _batch_arguments(batch: WebhookBatch) -> dict[str, Any]:
    """What the audit row says about a stored batch: counts and alert identities, never the body."""
    return {
        "receiver": batch.receiver,
        "group_key": bounded(batch.group_key, 300) if batch.group_key else None,
        "alerts": [f"{a.status} {bounded(a.name, 100)} ({bounded(a.key, 120)})" for a in batch.alerts[:20]],
        "alert_count": len(batch.alerts),
        "truncated_alerts": batch.truncated_alerts,
    }


def _media_refusal(route: _Route, content_type: str) -> str:
    sent = bounded(content_type_base(content_type), 60) or "absent"
    return f"Content-Type {sent!r} is not one {route.source} sends; configure the sender as the README shows"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return bounded(text.splitlines()[0], 300) if text else ""


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"
