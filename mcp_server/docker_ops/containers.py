"""Container details (`docker inspect`) and logs with a hard size cap.

Logs keep stdout and stderr apart (each line says which), carry the engine's timestamps, and
never return more than `max_bytes` of text: when the cap is hit the NEWEST lines are kept (they
matter most when something just broke) and the result says how much was dropped.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .engine_reader import EngineNotFound, EngineReads
from .host import ContainerNotFound, DockerHost, InvalidArgument
from .models import ContainerDetails, details_from_attrs
from .textsafe import cut_utf8, safe_text
from .timeutil import TimeInput, parse_docker_time, to_api_time

DEFAULT_LOG_TAIL = 200
DEFAULT_LOG_MAX_BYTES = 256 * 1024
LOG_MAX_BYTES_LIMIT = 8 * 1024 * 1024
"""No caller can ask for more than this: the result has to fit a model's context and a message."""

_STREAM_HEADER = struct.Struct(">BxxxL")  # the engine's multiplexing header: stream id, length
_STDERR = 2

StreamName = Literal["stdout", "stderr"]


class LogLine(BaseModel):
    stream: StreamName
    timestamp: datetime | None = Field(description="when the engine received the line (UTC)")
    text: str


class ContainerLogs(BaseModel):
    """Log lines of one container, oldest first, bounded by `max_bytes`."""

    container: str
    lines: list[LogLine]
    returned_bytes: int = Field(description="bytes of text in `lines`")
    max_bytes: int
    truncated: bool = Field(description="True when older lines were dropped to respect max_bytes")
    dropped_lines: int
    dropped_bytes: int
    had_binary: bool = Field(description="True when some bytes were not text and were replaced/escaped")
    note: str | None = None

    def as_text(self) -> str:
        """Plain text, one line per entry: `<timestamp> <stream> <text>`."""
        out = []
        if self.note:
            out.append(f"[{self.note}]")
        for line in self.lines:
            stamp = line.timestamp.isoformat() if line.timestamp else "-"
            out.append(f"{stamp} {line.stream} {line.text}")
        return "\n".join(out)


async def container_details(host: DockerHost, name: str) -> ContainerDetails:
    """State, health (with the last probe outputs), restarts, exit code, OOM flag, limits and
    restart policy of one container. Raises ContainerNotFound when it doesn't exist."""
    return await host.read(
        lambda reads: details_from_attrs(inspect_by_name(reads, name, host.base_url)),
        what=f"inspect container {name}",
    )


def inspect_by_name(reads: EngineReads, name: str, base_url: str) -> dict[str, Any]:
    """`docker inspect` of a container by name or id (blocking, read-only: run it with
    `DockerHost.read`). Raises `ContainerNotFound` naming it, as `get_container` does."""
    if not name or not name.strip():
        raise ContainerNotFound(name, base_url)
    try:
        return reads.inspect_container(name.strip().lstrip("/"))
    except EngineNotFound:
        raise ContainerNotFound(name, base_url) from None


async def container_logs(
    host: DockerHost,
    name: str,
    *,
    tail: int | Literal["all"] = DEFAULT_LOG_TAIL,
    since: TimeInput | None = None,
    until: TimeInput | None = None,
    stdout: bool = True,
    stderr: bool = True,
    max_bytes: int = DEFAULT_LOG_MAX_BYTES,
) -> ContainerLogs:
    """Read the logs of a container (no follow).

    Args:
        tail: only the last N lines (default 200), or "all". The engine counts lines of both
            streams together, before the stdout/stderr choice below is applied.
        since / until: time window: datetime, UNIX seconds, ISO time, or an age like "15m", "2h".
        stdout / stderr: which streams to include (both by default; each line says which).
        max_bytes: cap on returned text (default 256 KiB, at most 8 MiB). The newest lines win.
    """
    if tail != "all" and (not isinstance(tail, int) or tail < 0):
        raise InvalidArgument(f"tail must be a number of lines >= 0 or 'all', not {tail!r}")
    if max_bytes < 1:
        raise InvalidArgument("max_bytes must be at least 1")
    if not (stdout or stderr):
        raise InvalidArgument("choose at least one of stdout and stderr")
    cap = min(max_bytes, LOG_MAX_BYTES_LIMIT)
    params: dict[str, Any] = {
        "stdout": int(stdout),
        "stderr": int(stderr),
        "timestamps": 1,
        "follow": 0,
        "tail": str(tail),
    }
    try:
        if since is not None:
            params["since"] = to_api_time(since, what="since")
        if until is not None:
            params["until"] = to_api_time(until, what="until")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None

    def read(reads: EngineReads) -> ContainerLogs:
        attrs = inspect_by_name(reads, name, host.base_url)
        chunks = reads.container_logs(str(attrs.get("Id", "")), params)
        try:
            tty = bool((attrs.get("Config") or {}).get("Tty"))
            collector = _CappedLines(cap)
            for stream, stamp, data, cut in _log_lines(chunks, tty, cap):
                collector.add(stream, stamp, data, cut)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # an answer left unread (an error while parsing) drops its connection
        return collector.result(str(attrs.get("Name", "")).lstrip("/"))

    result = await host.read(read, what=f"read logs of container {name}")
    if max_bytes > LOG_MAX_BYTES_LIMIT:
        extra = f"max_bytes lowered to the limit {LOG_MAX_BYTES_LIMIT}"
        result.note = f"{result.note}; {extra}" if result.note else extra
    return result


def _messages(chunks: Iterable[bytes], tty: bool) -> Iterator[tuple[StreamName, bytes]]:
    """(stream, bytes) log messages. Without a TTY the engine sends one framed message per log
    entry (8-byte header: stream id, length); with a TTY it sends raw bytes, cut here at newlines.
    Reads 64 KiB chunks and parses them in memory: per-frame reads cost far more than the data."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if tty:
            cut = buffer.rfind(b"\n") + 1
            if cut:
                for line in bytes(buffer[:cut]).splitlines(keepends=True):
                    yield "stdout", line
                del buffer[:cut]
            continue
        offset = 0
        while len(buffer) - offset >= _STREAM_HEADER.size:
            stream_id, length = _STREAM_HEADER.unpack_from(buffer, offset)
            end = offset + _STREAM_HEADER.size + length
            if end > len(buffer):
                break
            yield ("stderr" if stream_id == _STDERR else "stdout"), bytes(buffer[end - length : end])
            offset = end
        del buffer[:offset]
    if tty and buffer:
        yield "stdout", bytes(buffer)


def _split_timestamp(data: bytes) -> tuple[bytes, bytes]:
    """(timestamp bytes or b"", rest). The engine puts an RFC 3339 time and a space first."""
    space = data.find(b" ", 0, 40)
    if space > 0 and data[:1].isdigit() and data[space - 1 : space] == b"Z":
        return data[:space], data[space + 1 :]
    return b"", data


def _log_lines(
    chunks: Iterable[bytes], tty: bool, cap: int
) -> Iterator[tuple[StreamName, bytes, bytes, int]]:
    """(stream, timestamp bytes, line bytes, bytes cut off the line) per whole line.

    The engine splits lines longer than 16 KiB into several messages, each with its own
    timestamp; they are joined back under the first timestamp, keeping at most `cap` bytes so a
    single endless line can't fill memory."""
    partial: dict[StreamName, tuple[bytes, bytearray, int]] = {}
    for stream, message in _messages(chunks, tty):
        stamp, body = _split_timestamp(message)
        complete = body.endswith(b"\n")
        if complete:
            body = body[:-1]
        if stream in partial:
            stamp, joined, cut = partial.pop(stream)
            room = cap - len(joined)
            joined += body[: max(room, 0)]
            body, cut = bytes(joined), cut + max(len(body) - max(room, 0), 0)
        else:
            cut = max(len(body) - cap, 0)
            body = body[:cap] if cut else body
        if complete:
            yield stream, stamp, body.removesuffix(b"\r"), cut
        else:
            partial[stream] = (stamp, bytearray(body), cut)
    for name, (stamp, rest, cut) in partial.items():
        yield name, stamp, bytes(rest), cut


class _CappedLines:
    """Keeps the newest lines that fit in `cap` bytes. Lines are kept as raw bytes while reading
    (most of a big log is dropped again) and only the survivors are decoded at the end."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.lines: deque[tuple[StreamName, bytes, bytes]] = deque()
        self.size = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0

    def add(self, stream: StreamName, stamp: bytes, data: bytes, cut: int) -> None:
        self.dropped_bytes += cut
        self.lines.append((stream, stamp, data))
        self.size += len(data)
        while self.size > self.cap and len(self.lines) > 1:
            self._drop_oldest()

    def _drop_oldest(self) -> int:
        _, _, old = self.lines.popleft()
        self.size -= len(old)
        self.dropped_lines += 1
        self.dropped_bytes += len(old)
        return len(old)

    def result(self, container: str) -> ContainerLogs:
        decoded: deque[tuple[LogLine, int]] = deque()
        had_binary = False
        total = 0
        for stream, stamp, data in self.lines:
            text, changed = safe_text(cut_utf8(data, self.cap))
            had_binary |= changed
            encoded = text.encode("utf-8")
            if len(encoded) > self.cap:  # escaping can make a line longer than its bytes were
                self.dropped_bytes += len(encoded) - self.cap
                text = cut_utf8(encoded, self.cap).decode("utf-8", errors="ignore")
                encoded = text.encode("utf-8")
            timestamp = parse_docker_time(stamp.decode("ascii", "replace")) if stamp else None
            decoded.append((LogLine(stream=stream, timestamp=timestamp, text=text), len(encoded)))
            total += len(encoded)
        while total > self.cap and len(decoded) > 1:
            _, size = decoded.popleft()
            total -= size
            self.dropped_lines += 1
            self.dropped_bytes += size
        truncated = self.dropped_lines > 0 or self.dropped_bytes > 0
        note = None
        if truncated:
            note = (
                f"truncated: dropped {self.dropped_lines} older lines and {self.dropped_bytes} bytes in "
                f"total to stay under {self.cap} bytes; narrow the window with tail/since/until"
            )
        return ContainerLogs(
            container=container,
            lines=[line for line, _ in decoded],
            returned_bytes=total,
            max_bytes=self.cap,
            truncated=truncated,
            dropped_lines=self.dropped_lines,
            dropped_bytes=self.dropped_bytes,
            had_binary=had_binary,
            note=note,
        )
