"""The recorded webhook requests in `shared/monitors/` (Alertmanager 0.25, Uptime Kuma 2.5.3), loaded
exactly as they arrived: method, path with query, headers in wire order and case, body bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import SHARED

MONITORS = SHARED / "monitors"
ALERTMANAGER = MONITORS / "alertmanager"
UPTIME_KUMA = MONITORS / "uptime-kuma"


@dataclass(frozen=True)
class Recorded:
    """One request as the listener received it; `record` is the whole file (the listener's own parse in
    `body` / `query_parsed` serves as an independent oracle)."""

    name: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    record: dict[str, Any]

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    @property
    def content_type(self) -> str:
        return next((value for name, value in self.headers if name.lower() == "content-type"), "")

    def header(self, wanted: str) -> str | None:
        return next((value for name, value in self.headers if name.lower() == wanted.lower()), None)


@cache
def load(path: Path) -> Recorded:
    record = json.loads(path.read_text(encoding="utf-8"))
    request = record.get("first_request", record)  # retry__* case files nest their first request
    body = request["body_raw"].encode("utf-8")
    assert len(body) == request["body_length_bytes"], f"{path.name}: body_raw is not the exact body"
    return Recorded(
        name=str(path.relative_to(MONITORS)),
        method=request["method"],
        path=request["path"],
        headers=tuple((name, value) for name, value in request["headers"]),
        body=body,
        record=request,
    )


def request_files(tool_dir: Path) -> list[Path]:
    """Every request file of a tool: its case files and `all_requests/` (not index.json or config/)."""
    files = sorted(tool_dir.glob("*.json")) + sorted((tool_dir / "all_requests").glob("*.json"))
    return [f for f in files if f.name != "index.json"]


def case(tool_dir: Path, name: str) -> Recorded:
    return load(tool_dir / f"{name}.json")
