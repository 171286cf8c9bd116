"""Read log input (bytes, text, files, streams, lists of lines) into clean, bounded lines.

Every reader returns a `LogLines`: the message of each line (without the prefix that
`docker logs --timestamps` adds), the Docker timestamp when there was one, and counters for
anything dropped, so a digest can say what was not analysed.

Bounds, so no input can make the analysis slow or large:
- at most `ReadLimits.max_bytes` bytes are analysed: the first quarter (head) and the last
  three quarters (tail, where the process died) are kept, the middle is dropped and counted;
- every line is cut at `ReadLimits.max_line_chars` characters;
- bytes are decoded as UTF-8 with replacement, terminal colour codes, NULs and other control
  characters are removed.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_LINE_CHARS = 4000
_CHUNK = 1 << 20

# `docker logs --timestamps` writes RFC 3339 with nanoseconds, then one space, then the line.
_DOCKER_TS_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")
# CSI sequences (colours, cursor moves), OSC titles and two-byte escapes.
_ANSI_RE = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()#][0-9A-Za-z]|\x1b[=>78]"
)
# Keep tab and newline; drop every other C0 control, DEL and the C1 block.
_CONTROL_TABLE: dict[int, None] = dict.fromkeys(
    [*range(0, 9), 11, 12, *range(14, 32), 127, *range(0x80, 0xA0)]
)
_REPLACEMENT_RUN_RE = re.compile("\ufffd{2,}")
# The same cleaning done on bytes before decoding, where it is one C-level pass (`bytes.translate`
# deletes); UTF-8 never uses bytes below 0x80 inside a multi-byte character. C1 controls are two
# bytes in UTF-8, so they are removed after decoding, and only when there are any.
_ANSI_BYTES_RE = re.compile(_ANSI_RE.pattern.encode())
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_C1_RE = re.compile("[\x80-\x9f]")


@dataclass(frozen=True)
class ReadLimits:
    """How much of a log is analysed. The middle of a larger log is dropped (and counted)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    head_fraction: float = 0.25
    max_line_chars: int = DEFAULT_MAX_LINE_CHARS

    @property
    def head_bytes(self) -> int:
        return max(1, int(self.max_bytes * self.head_fraction))

    @property
    def tail_bytes(self) -> int:
        return max(1, self.max_bytes - self.head_bytes)


@dataclass
class LogLines:
    """Clean lines of one log plus what was dropped on the way.

    `messages[i]` is the text of line i without its Docker timestamp; `stamps[i]` is that
    timestamp (RFC 3339 text) or None. `stamps` is None when the log had no Docker timestamps.
    When the middle of the log was dropped, `gap_index` is the index of the first kept line
    after the gap and `dropped_lines` how many lines the gap held.
    """

    messages: list[str]
    stamps: list[str | None] | None = None
    total_bytes: int = 0
    dropped_bytes: int = 0
    dropped_lines: int = 0
    gap_index: int | None = None
    truncated_lines: int = 0
    looks_binary: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def total_lines(self) -> int:
        """Lines in the whole input, analysed or not."""
        return len(self.messages) + self.dropped_lines

    def line_number(self, index: int) -> int:
        """1-based line number in the original input of `messages[index]`."""
        if self.gap_index is not None and index >= self.gap_index:
            return index + 1 + self.dropped_lines
        return index + 1

    def stamp(self, index: int) -> str | None:
        return self.stamps[index] if self.stamps is not None else None

    def describe_drops(self) -> list[str]:
        """One-line notes about everything that was not analysed as-is."""
        notes = list(self.notes)
        if self.dropped_lines or self.dropped_bytes:
            notes.append(
                f"input too large: dropped {self.dropped_lines:,} lines ({self.dropped_bytes:,} bytes) "
                f"from the middle; analysed the first {self.gap_index or 0:,} and the last "
                f"{len(self.messages) - (self.gap_index or 0):,} lines"
            )
        if self.truncated_lines:
            notes.append(f"{self.truncated_lines:,} over-long lines were cut to their first characters")
        if self.looks_binary:
            notes.append("input contains binary data (undecodable bytes were replaced)")
        return notes


def clean_text(text: str) -> str:
    """Remove colour codes and control characters; turn CR and CRLF into LF."""
    return _collapse_replacements(_strip_controls(text))


def _strip_controls(text: str) -> str:
    if "\x1b" in text:
        text = _ANSI_RE.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_CONTROL_TABLE)


def _collapse_replacements(text: str) -> str:
    if "\ufffd\ufffd" in text:
        text = _REPLACEMENT_RUN_RE.sub("\ufffd", text)
    return text


def _decode(data: bytes | bytearray) -> str:
    """Bytes as text without colour codes and control characters (`_strip_controls`), cleaned
    before decoding where that is faster."""
    if b"\x1b" in data:
        data = _ANSI_BYTES_RE.sub(b"", data)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = data.translate(None, _CONTROL_BYTES).decode("utf-8", errors="replace")
    if not text.isascii() and _C1_RE.search(text):
        text = text.translate(_CONTROL_TABLE)
    return text


def _split(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _cut_long(lines: list[str], max_chars: int) -> int:
    """Cut lines longer than `max_chars` in place; return how many were cut."""
    if not lines or max(map(len, lines)) <= max_chars:
        return 0  # the common case, checked at C speed
    cut = 0
    for i, line in enumerate(lines):
        if len(line) > max_chars:
            lines[i] = f"{line[:max_chars]} …[{len(line) - max_chars:,} more characters cut]"
            cut += 1
    return cut


def _split_docker_stamps(lines: list[str]) -> tuple[list[str], list[str | None] | None]:
    """Separate `docker logs --timestamps` prefixes, if the log has them (judged on its first line)."""
    first = next((line for line in lines if line), "")
    if not _DOCKER_TS_RE.match(first):
        return lines, None
    # Docker writes fixed-width stamps (RFC3339NanoFixed, 30 characters in UTC): slice, no search.
    # The checks and slices run in C (map with itemgetter); a shorter line raises IndexError.
    width = first.index(" ")
    try:
        fixed = set(map(itemgetter(width), lines)) == {" "} and set(map(itemgetter(10), lines)) == {"T"}
    except IndexError:
        fixed = False
    if fixed:
        return list(map(itemgetter(slice(width + 1, None)), lines)), list(
            map(itemgetter(slice(width)), lines)
        )
    messages: list[str] = []
    stamps: list[str | None] = []
    for line in lines:
        # A fixed-shape check is much cheaper than a regex per line; the first line proved the shape.
        space = line.find(" ", 19, 40)
        if space > 0 and line[4:5] == "-" and line[10:11] == "T":
            stamps.append(line[:space])
            messages.append(line[space + 1 :])
        else:
            stamps.append(None)
            messages.append(line)
    return messages, stamps


def _build(
    texts: list[str],
    limits: ReadLimits,
    total_bytes: int,
    dropped_bytes: int = 0,
    dropped_lines: int = 0,
) -> LogLines:
    """LogLines of `texts`: [whole] or [head, tail] around a dropped middle, as text without
    control characters (`_decode` or `_strip_controls`). The texts are taken out of the list, so
    each is freed once split (a 16 MB log is not held twice). Runs of replacement characters are
    collapsed here, after counting them for `looks_binary`."""
    gap = len(texts) == 2
    replaced = chars = 0
    lines: list[str] = []
    gap_index: int | None = None
    while texts:
        text = texts.pop(0)
        replaced += text.count("\ufffd")
        chars += len(text)
        if gap and not texts:
            gap_index = len(lines)
        lines.extend(_split(_collapse_replacements(text)))
        del text
    truncated = _cut_long(lines, limits.max_line_chars)
    messages, stamps = _split_docker_stamps(lines)
    del lines
    return LogLines(
        messages=messages,
        stamps=stamps,
        total_bytes=total_bytes,
        dropped_bytes=dropped_bytes,
        dropped_lines=dropped_lines,
        gap_index=gap_index,
        truncated_lines=truncated,
        looks_binary=replaced > 16 and replaced * 100 > chars,
    )


def _head_cut(data: bytes | bytearray, size: int) -> bytes | bytearray:
    """The first `size` bytes, ending at a line boundary when there is one."""
    head = data[:size]
    newline = head.rfind(b"\n")
    return head[: newline + 1] if newline >= 0 else head


def _tail_cut(data: bytes | bytearray, size: int) -> bytes | bytearray:
    """The last `size` bytes, starting at a line boundary when there is one."""
    tail = data[-size:] if size < len(data) else data
    newline = tail.find(b"\n")
    return tail[newline + 1 :] if 0 <= newline < len(tail) - 1 else tail


def lines_from_bytes(data: bytes | bytearray, limits: ReadLimits | None = None) -> LogLines:
    """Lines of a log given as raw bytes (any encoding; invalid UTF-8 is replaced)."""
    limits = limits or ReadLimits()
    if len(data) <= limits.max_bytes:
        return _build([_decode(data)], limits, len(data))
    head = _head_cut(data, limits.head_bytes)
    tail = _tail_cut(data[len(head) :], limits.tail_bytes)
    middle_end = len(data) - len(tail)
    dropped_lines = data.count(b"\n", len(head), middle_end)
    texts = [_decode(head), _decode(tail)]
    del tail
    return _build(texts, limits, len(data), middle_end - len(head), dropped_lines)


def lines_from_text(text: str, limits: ReadLimits | None = None) -> LogLines:
    """Lines of a log given as one string."""
    limits = limits or ReadLimits()
    if len(text) <= limits.max_bytes:
        return _build([_strip_controls(text)], limits, len(text))
    return lines_from_bytes(text.encode("utf-8", errors="replace"), limits)


def _drop_front(tail: bytearray, keep: int) -> tuple[int, int]:
    """Drop all but the last `keep` bytes of `tail` in place; (bytes, newlines) dropped."""
    excess = len(tail) - keep
    if excess <= 0:
        return 0, 0
    newlines = tail.count(b"\n", 0, excess)
    del tail[:excess]
    return excess, newlines


def lines_from_stream(stream: BinaryIO, limits: ReadLimits | None = None) -> LogLines:
    """Lines of a log read from a binary stream (stdin, a socket) in 1 MiB chunks; at most the
    head, the tail and a few chunks are held, whatever the stream's length."""
    limits = limits or ReadLimits()
    head = bytearray()
    tail = bytearray()
    total = dropped_bytes = dropped_lines = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if len(head) < limits.head_bytes:
            room = limits.head_bytes - len(head)
            head += chunk[:room]
            chunk = chunk[room:]
        tail += chunk
        if len(tail) > limits.tail_bytes + 4 * _CHUNK:
            dropped = _drop_front(tail, limits.tail_bytes)
            dropped_bytes, dropped_lines = dropped_bytes + dropped[0], dropped_lines + dropped[1]
    if len(head) + len(tail) > limits.max_bytes:
        dropped = _drop_front(tail, limits.tail_bytes)
        dropped_bytes, dropped_lines = dropped_bytes + dropped[0], dropped_lines + dropped[1]
    if not dropped_bytes:
        head += tail
        del tail
        return lines_from_bytes(head, limits)
    # The head ends on a line boundary; its unfinished last line counts as dropped.
    head_bytes = _head_cut(bytes(head), len(head))
    dropped_bytes += len(head) - len(head_bytes)
    del head
    tail_bytes = _tail_cut(bytes(tail), len(tail))
    dropped_bytes += len(tail) - len(tail_bytes)
    dropped_lines += tail.count(b"\n", 0, len(tail) - len(tail_bytes))
    del tail
    texts = [_decode(head_bytes), _decode(tail_bytes)]
    del head_bytes, tail_bytes
    return _build(texts, limits, total, dropped_bytes, dropped_lines)


def lines_from_file(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> LogLines:
    """Lines of a log file; a file larger than the limit is read as head + tail, never whole."""
    limits = limits or ReadLimits()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= limits.max_bytes:
            data = handle.read()
            total = len(data)
            texts = [_decode(data)]
            del data
            return _build(texts, limits, total)
        head = _head_cut(handle.read(limits.head_bytes), limits.head_bytes)
        handle.seek(max(len(head), size - limits.tail_bytes))
        tail = _tail_cut(handle.read(), limits.tail_bytes)
        middle_end = size - len(tail)
        # Count the dropped lines so line numbers after the gap stay true.
        handle.seek(len(head))
        dropped_lines = 0
        remaining = middle_end - len(head)
        while remaining > 0:
            block = handle.read(min(_CHUNK * 4, remaining))
            if not block:
                break
            dropped_lines += block.count(b"\n")
            remaining -= len(block)
    dropped_bytes = middle_end - len(head)
    texts = [_decode(head), _decode(tail)]
    del head, tail
    return _build(texts, limits, size, dropped_bytes, dropped_lines)


def lines_from_strings(lines: Iterable[str], limits: ReadLimits | None = None) -> LogLines:
    """Lines given one per item (e.g. from the Docker SDK); sizes are counted in characters."""
    limits = limits or ReadLimits()
    head: list[str] = []
    head_size = 0
    tail: deque[str] = deque()
    tail_size = total = dropped_size = dropped_lines = 0
    for raw in lines:
        line = raw.rstrip("\n")
        size = len(line) + 1
        total += size
        if head_size + size <= limits.head_bytes and not tail:
            head.append(line)
            head_size += size
            continue
        tail.append(line)
        tail_size += size
        while tail_size > limits.tail_bytes and len(tail) > 1:
            dropped = tail.popleft()
            tail_size -= len(dropped) + 1
            dropped_size += len(dropped) + 1
            dropped_lines += 1
    head_text = "\n".join(head) + "\n" if head else ""
    tail_text = "\n".join(tail) + "\n" if tail else ""
    if not dropped_lines:
        return _build([_strip_controls(head_text + tail_text)], limits, total)
    return _build(
        [_strip_controls(head_text), _strip_controls(tail_text)], limits, total, dropped_size, dropped_lines
    )
