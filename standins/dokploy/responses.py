"""ASGI response writers that reproduce the bytes and headers real Dokploy (Next.js) sends.

Three families, as recorded in the captures:
- adapter responses (`/api/<router>.<proc>`): `Content-Type: application/json`, no Content-Length, so
  the server falls back to chunked transfer encoding; void procedures send a zero-length body;
- plain Next.js routes (`/api/health`, the 401, webhooks): `application/json; charset=utf-8`,
  Content-Length and a Next.js ETag;
- Next.js body-parser errors (`Invalid JSON`, 413): plain text without any Content-Type.
Every response except the 308 redirect carries the security headers from Dokploy's next.config.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"X-Frame-Options", b"DENY"),
    (b"Content-Security-Policy", b"frame-ancestors 'none'"),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Referrer-Policy", b"strict-origin-when-cross-origin"),
]
_VARY = (b"Vary", b"Accept-Encoding")


def js_json(value: Any) -> bytes:
    """`JSON.stringify(value)` as UTF-8: compact, keys in insertion order, non-ASCII kept raw."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _utf16_units(text: str) -> list[int]:
    raw = text.encode("utf-16-le")
    return [raw[i] | (raw[i + 1] << 8) for i in range(0, len(raw), 2)]


def _fnv1a52(text: str) -> int:
    """Next.js `fnv1a52` (server/lib/etag.ts), over UTF-16 code units like JavaScript strings."""
    v0, v1, v2, v3 = 0x2325, 0x8422, 0x9CE4, 0xCBF2
    for unit in _utf16_units(text):
        v0 ^= unit
        t0, t1, t2, t3 = v0 * 435, v1 * 435, v2 * 435, v3 * 435
        t2 += v0 << 8
        t3 += v1 << 8
        t1 += t0 >> 16
        v0 = t0 & 65535
        t2 += t1 >> 16
        v1 = t1 & 65535
        v3 = (t3 + (t2 >> 16)) & 65535
        v2 = t2 & 65535
    return (v3 & 15) * 281474976710656 + v2 * 4294967296 + v1 * 65536 + (v0 ^ (v3 >> 4))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number == 0:
        return "0"
    out = []
    while number:
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def next_etag(payload: str) -> str:
    """The strong ETag Next.js puts on API route responses (`generateETag`)."""
    return f'"{_base36(_fnv1a52(payload))}{_base36(len(_utf16_units(payload)))}"'


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_adapter_json(send: Send, status: int, body: bytes) -> None:
    """An OpenAPI-adapter response: JSON (or empty) body, chunked, no Content-Length."""
    headers = [*SECURITY_HEADERS, (b"Content-Type", b"application/json"), _VARY]
    await _send(send, status, headers, body)


async def send_head_no_content(send: Send) -> None:
    """What the adapter answers to HEAD: 204 with the JSON content type and no body."""
    headers = [*SECURITY_HEADERS, (b"Content-Type", b"application/json"), _VARY]
    await _send(send, 204, headers, b"")


async def send_next_json(send: Send, status: int, value: Any) -> None:
    """A plain Next.js API route response (`res.status(s).json(v)`): Content-Length and ETag."""
    body = js_json(value)
    headers = [
        *SECURITY_HEADERS,
        (b"Content-Type", b"application/json; charset=utf-8"),
        (b"ETag", next_etag(body.decode("utf-8")).encode()),
        (b"Content-Length", str(len(body)).encode()),
        _VARY,
    ]
    await _send(send, status, headers, body)


async def send_plain(send: Send, status: int, text: str) -> None:
    """A Next.js body-parser error: raw text, no Content-Type, chunked."""
    await _send(send, status, [*SECURITY_HEADERS], text.encode("utf-8"))


async def send_not_found_page(send: Send) -> None:
    """Next.js 404 for a path outside the API routes (trimmed: the real one is an HTML page)."""
    headers = [*SECURITY_HEADERS, (b"Content-Type", b"text/html; charset=utf-8"), _VARY]
    await _send(send, 404, headers, b"<!DOCTYPE html><title>404: This page could not be found.</title>")


async def send_redirect(send: Send, location: str) -> None:
    """Next.js trailing-slash redirect: 308, `location` + `Refresh`, body = the target path."""
    headers = [(b"location", location.encode()), (b"Refresh", f"0;url={location}".encode())]
    await _send(send, 308, headers, location.encode())
