"""Helpers to replay recorded Dokploy exchanges against the stand-in and compare the answers.

A capture file (`shared/dokploy/captures/<router>.<proc>--<case>.json`) holds the request and
the real response. `Replayer.replay` re-sends the request with the capture's ids swapped for the
stand-in's ids, and `shape_diff` compares the bodies recursively: same JSON type everywhere, same
key set for objects, element shape for arrays. Dev-mode `data.stack` is dropped (production shape).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import SHARED

CAPTURES = Path(os.environ.get("DOKPLOY_CAPTURES") or SHARED / "dokploy" / "captures")


def load_capture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def all_capture_names() -> list[str]:
    return sorted(p.stem for p in CAPTURES.glob("*.json"))


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def production_body(body: Any) -> Any:
    """The capture body as production Dokploy sends it (no `data.stack`)."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "stack" in body["data"]:
        body = {**body, "data": {k: v for k, v in body["data"].items() if k != "stack"}}
    return body


def shape_diff(expected: Any, actual: Any, path: str = "$", omit: frozenset[str] = frozenset()) -> list[str]:
    """Differences in JSON shape; `omit` lists paths (`$.a.b`, arrays as `[]`) that are not compared."""
    if _type(expected) != _type(actual):
        return [f"{path}: expected {_type(expected)}, got {_type(actual)}"]
    if isinstance(expected, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}"
            if sub in omit:
                continue
            if key not in actual:
                out.append(f"{sub}: missing")
            elif key not in expected:
                out.append(f"{sub}: unexpected key")
            else:
                out += shape_diff(expected[key], actual[key], sub, omit)
        return out
    if isinstance(expected, list):
        if bool(expected) != bool(actual):
            return [
                f"{path}: expected {'a non-empty' if expected else 'an empty'} array, got {len(actual)} items"
            ]
        out = []
        for i, item in enumerate(actual):
            out += shape_diff(expected[min(i, len(expected) - 1)], item, f"{path}[]", omit)
        return list(dict.fromkeys(out))
    return []


@dataclass
class Replayed:
    capture: dict[str, Any]
    response: httpx.Response

    @property
    def body(self) -> Any:
        if not self.response.content:
            return ""
        if self.response.headers.get("content-type", "").startswith("application/json"):
            return self.response.json()
        return self.response.text


@dataclass
class Replayer:
    """Sends capture requests to a stand-in, translating the real server's ids into the stand-in's."""

    base_url: str
    api_key: str
    ids: dict[str, str] = field(default_factory=dict)

    def translate(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.ids.get(value, value)
        if isinstance(value, list):
            return [self.translate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.translate(v) for k, v in value.items()}
        return value

    def replay(self, name: str, body_override: Any = None) -> Replayed:
        capture = load_capture(name)
        req = capture["request"]
        headers: dict[str, str] = {}
        key_note = req["headers"].get("x-api-key")
        if key_note and "invalid" in key_note:
            headers["x-api-key"] = "wrongkey-0000"
        elif key_note:
            headers["x-api-key"] = self.api_key
        content_type = req["headers"].get("content-type")
        if content_type:
            headers["content-type"] = content_type
        path = self._path(req["path"])
        query: dict[str, Any] = self.translate(req.get("query") or {})
        params: list[tuple[str, str | int | float | bool | None]] = [
            (str(k), str(v))
            for k, vals in query.items()
            for v in (vals if isinstance(vals, list) else [vals])
        ]
        body = req.get("body") if body_override is None else body_override
        content: bytes | None = None
        if isinstance(body, dict) and body.get("_omitted"):
            content = b'{"name":"big","description":"' + b"x" * 1_126_400 + b'"}'
        elif isinstance(body, str):
            content = body.encode()
        elif body is not None:
            content = json.dumps(self.translate(body)).encode()
        with httpx.Client(base_url=self.base_url, timeout=180, follow_redirects=False) as client:
            response = client.request(
                req["method"], path, params=tuple(params), content=content, headers=headers
            )
        return Replayed(capture, response)

    def _path(self, path: str) -> str:
        if "<SECRET>" in path:
            return path.replace("<SECRET>", self.ids.get("<SECRET>", "<SECRET>"))
        return path


def compare(replayed: Replayed, omit: frozenset[str] = frozenset()) -> list[str]:
    """Status, content type, framing and body shape of a replayed exchange vs. its capture."""
    expected = replayed.capture["response"]
    actual = replayed.response
    problems = []
    if expected["status"] != actual.status_code:
        problems.append(
            f"status: expected {expected['status']}, got {actual.status_code} ({actual.text[:300]})"
        )
    want_type = expected["headers"].get("content-type")
    got_type = actual.headers.get("content-type")
    if want_type != got_type:
        problems.append(f"content-type: expected {want_type!r}, got {got_type!r}")
    names = {n.lower() for n, _ in expected.get("all_headers", [])}
    for header in (
        "content-length",
        "transfer-encoding",
        "etag",
        "x-frame-options",
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "vary",
        "location",
        "refresh",
    ):
        if (header in names) != (header in actual.headers):
            problems.append(f"header {header}: expected {'present' if header in names else 'absent'}")
    if "body" in expected:
        want_body = production_body(expected["body"])
        got_body = replayed.body
        if expected.get("body_bytes") == 0 and actual.content:
            problems.append(f"body: expected empty, got {actual.text[:200]!r}")
        problems += shape_diff(want_body, got_body, "$", omit)
    return problems
