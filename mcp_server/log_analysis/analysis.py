"""Find the error events of one log: stack traces and multi-line records, single error and
warning lines, HTTP 5xx responses; then group them into templates.

Cost: one keyword scan over the whole text picks candidate lines; only those are classified,
grouped into blocks and mined. Ordinary info lines are never looked at again.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .lines import LogLines
from .patterns import (
    Severity,
    find_candidates,
    http_template,
    line_kind,
    line_severity,
    parse_access,
)
from .structured import parse_structured
from .templates import DEFAULT_SIMILARITY, LogTemplateMiner
from .timestamps import LineTimes
from .traces import Block, block_from_stack, detect_block

# More distinct error/warning templates than this in one log is noise, and Drain gets slow.
MAX_ERROR_TEMPLATES = 500

# What a digest can show of a log: error and warning events (one line or a block) and the last
# SHOWN_TAIL entries. Only these, with some lines around them, need redacting before analysis;
# the context lets a redactor see secrets that span lines (a JSON key on one line and its value on
# the next, a private key or a YAML environment block that starts above the tail).
SHOWN_TAIL = 40
_LINE_CONTEXT = 1
_BLOCK_CONTEXT = 4
_TAIL_CONTEXT = 64
_REDACT_ROUNDS = 3
# Put between separate spans redacted in one call: not empty (it ends a YAML section and a run
# of key lines) and never in a cleaned log line (`lines.clean_text` removes NULs).
_SPAN_SEPARATOR = "\x00"

Redactor = Callable[[list[str]], list[str]]


@dataclass(eq=False)
class ErrorEvent:
    """One error or warning: a single line or a whole block (lines `index` to `end`, exclusive)."""

    index: int
    end: int
    severity: Severity
    kind: str
    text: str
    mined: str
    block: Block | None = None
    template_key: str = ""


@dataclass(eq=False)
class TemplateGroup:
    """Events that share a template."""

    key: str
    template: str
    severity: Severity
    events: list[ErrorEvent] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Analysis:
    """Everything found in one log; `events` are in log order."""

    log: LogLines
    events: list[ErrorEvent]
    templates: dict[str, TemplateGroup]
    notes: list[str] = field(default_factory=list)
    times: LineTimes = field(init=False)

    def __post_init__(self) -> None:
        self.times = LineTimes(self.log)

    def block_lines(self, block: Block) -> list[str]:
        """The text of a block (a slice of the log, or the stack carried by a JSON line)."""
        return block.lines if block.lines is not None else self.log.messages[block.start : block.end]

    @property
    def errors(self) -> list[ErrorEvent]:
        return [event for event in self.events if event.severity == "error"]

    @property
    def warnings(self) -> list[ErrorEvent]:
        return [event for event in self.events if event.severity == "warning"]


def _find_blocks(messages: Sequence[str], candidates: Sequence[int]) -> list[Block]:
    """Multi-line error reports, in order, not overlapping."""
    blocks: list[Block] = []
    floor = 0
    for i in candidates:
        if i < floor or messages[i][:1] == "{":
            continue
        block = detect_block(messages, i, floor)
        if block is None:
            continue
        # "ERROR Unhandled exception" right before a trace belongs to it (logger.exception()).
        lead = block.start - 1
        if lead >= floor and messages[lead].strip() and line_severity(messages[lead]) == "error":
            block.start = lead
        blocks.append(block)
        floor = block.end
    return blocks


def _single_line_event(line: str, index: int) -> ErrorEvent | None:
    """The event of one line that is not part of a block, or None if it is not an error/warning."""
    record = parse_structured(line) if ("{" in line[:2] or "level=" in line or "lvl=" in line) else None
    if record is not None:
        if record.http is not None:
            method, path, status = record.http
            if status >= 500:
                template = http_template(method, path, status)
                return ErrorEvent(index, index + 1, "error", "http", line, template)
            return None
        severity = record.severity if record.has_level else line_severity(record.message)
        if severity is None:
            return None
        if record.stack:
            block = block_from_stack(index, record.message, record.stack)
            block.severity = severity
            return ErrorEvent(index, index + 1, severity, block.kind, record.message, record.message, block)
        kind = "json" if line.lstrip().startswith("{") else "logfmt"
        return ErrorEvent(index, index + 1, severity, kind, line, record.message)
    if '"' in line:
        access = parse_access(line)
        if access is not None:
            method, path, status = access
            if status >= 500:
                return ErrorEvent(
                    index, index + 1, "error", "http", line, http_template(method, path, status)
                )
            return None  # 2xx-4xx access lines are traffic, whatever words their URL holds
    severity = line_severity(line)
    if severity is None:
        return None
    # "log" is refined per template later (postgres, mysql, redis, nginx): one check per template.
    return ErrorEvent(index, index + 1, severity, "log", line, line)


def find_events(log: LogLines) -> list[ErrorEvent]:
    """All error and warning events of a log, in order (no templates yet)."""
    return _events_of(log.messages)


def _events_in_spans(messages: Sequence[str], spans: Sequence[tuple[int, int]]) -> list[ErrorEvent]:
    """The events of each line range [begin, end), taken as a log of its own (so no block reaches
    out of its range), numbered as in `messages`. One keyword scan covers all the ranges."""
    flat = [index for begin, end in spans for index in range(begin, end)]
    candidates = [flat[i] for i in find_candidates([messages[index] for index in flat])]
    events: list[ErrorEvent] = []
    for begin, end in spans:
        inside = candidates[bisect.bisect_left(candidates, begin) : bisect.bisect_left(candidates, end)]
        for event in _events_of(messages[begin:end], [index - begin for index in inside]):
            event.index += begin
            event.end += begin
            if event.block is not None:
                event.block.start += begin
                event.block.end += begin
            events.append(event)
    return events


def _events_of(messages: Sequence[str], candidates: Sequence[int] | None = None) -> list[ErrorEvent]:
    """The events of `messages`, looking only at `candidates` (default: the keyword scan's)."""
    if candidates is None:
        candidates = find_candidates(messages)
    blocks = _find_blocks(messages, candidates)
    events = [
        ErrorEvent(block.start, block.end, block.severity, block.kind, block.headline, block.headline, block)
        for block in blocks
    ]
    block_index = 0
    for i in candidates:
        while block_index < len(blocks) and blocks[block_index].end <= i:
            block_index += 1
        if block_index < len(blocks) and blocks[block_index].start <= i:
            continue
        event = _single_line_event(messages[i], i)
        if event is not None:
            events.append(event)
    events.sort(key=lambda event: event.index)
    return events


def shown_spans(events: Sequence[ErrorEvent], count: int) -> list[tuple[int, int]]:
    """Merged line ranges [start, end) a digest of these events can show, with their context."""
    spans: list[tuple[int, int]] = []
    block_start: dict[int, int] = {}  # last line of a multi-line event -> its first line
    for event in events:
        context = _LINE_CONTEXT if event.end - event.index <= 1 else _BLOCK_CONTEXT
        spans.append((max(0, event.index - context), min(count, event.end + context)))
        if event.end - event.index > 1:
            block_start[event.end - 1] = event.index
    # The tail shows SHOWN_TAIL entries, a trace shown above counting as one: go back that far,
    # counting every block as one entry (which reaches at least as far back).
    start, entries = count, 0
    while start > 0 and entries < SHOWN_TAIL:
        start = block_start.get(start - 1, start - 1)
        entries += 1
    if count:
        spans.append((max(0, start - _TAIL_CONTEXT), count))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _redact_spans(messages: list[str], spans: Sequence[tuple[int, int]], redact: Redactor) -> list[int]:
    """Redact these line ranges in place, all in one call; the (sorted) lines that changed."""
    joined: list[str] = []
    for begin, end in spans:
        if joined:
            joined.append(_SPAN_SEPARATOR)
        joined.extend(messages[begin:end])
    redacted = redact(joined)
    if len(redacted) != len(joined):
        raise ValueError("the redactor must return one line per line")
    changed: list[int] = []
    at = 0
    for begin, end in spans:
        part = redacted[at : at + end - begin]
        if part != messages[begin:end]:
            changed.extend(begin + i for i, line in enumerate(part) if line != messages[begin + i])
            messages[begin:end] = part
        at += end - begin + 1
    return changed


def _dirty_spans(
    events: Sequence[ErrorEvent], spans: list[tuple[int, int]], changed: list[int]
) -> list[tuple[int, int]]:
    """The spans holding an event that a changed line can alter: a line of the event itself, or
    for a block also the line before (it may take a leading error line) and after (it may go on).
    Masking a value in a plain neighbour of a one-line event does not change that event."""
    starts = [begin for begin, _ in spans]
    dirty: set[tuple[int, int]] = set()
    for event in events:
        margin = 1 if event.end - event.index > 1 else 0
        at = bisect.bisect_left(changed, event.index - margin)
        if at < len(changed) and changed[at] < event.end + margin:
            dirty.add(spans[bisect.bisect_right(starts, event.index) - 1])
    return sorted(dirty)


def redact_shown(log: LogLines, redact: Redactor) -> tuple[LogLines, list[ErrorEvent]]:
    """`log` with every line a digest can show (see `shown_spans`) passed through `redact`, and
    the events of the redacted log. The other lines are left as they are: no digest shows them,
    and redacting a whole 100k-line log costs seconds.

    Masking can change events, so the events of each range where a line of an event (or next to
    a block) changed are found again, on that range alone, so they stay inside redacted lines. If
    the new events reach lines not yet redacted (the tail counted back over a new block), those are
    redacted too, until nothing changes (or, after a few rounds, the whole log is)."""
    messages = list(log.messages)
    current = dataclasses.replace(log, messages=messages)
    redacted = bytearray(len(messages))  # 1 for each line that went through `redact`
    events = find_events(current)
    for _ in range(_REDACT_ROUNDS):
        todo = [(a, b) for a, b in shown_spans(events, len(messages)) if redacted.find(0, a, b) >= 0]
        if not todo:
            return current, events
        changed = _redact_spans(messages, todo, redact)
        for begin, end in todo:
            redacted[begin:end] = b"\x01" * (end - begin)
        dirty = _dirty_spans(events, todo, changed)
        if not dirty:
            continue  # no event's lines changed, so the same events
        starts = [begin for begin, _ in dirty]
        kept = [e for e in events if not _inside(e.index, starts, dirty)]
        events = sorted(kept + _events_in_spans(messages, dirty), key=lambda event: event.index)
    messages[:] = redact(messages)
    return current, find_events(current)


def _inside(index: int, starts: list[int], spans: list[tuple[int, int]]) -> bool:
    """True if line `index` is in one of the sorted, disjoint `spans` (`starts` their starts)."""
    at = bisect.bisect_right(starts, index) - 1
    return at >= 0 and index < spans[at][1]


def analyse(
    log: LogLines, similarity: float = DEFAULT_SIMILARITY, redact: Redactor | None = None
) -> Analysis:
    """Events of `log` with a template key each, and the template groups.

    With `redact`, every line the digest can show is redacted first (see `redact_shown`); the
    analysis then holds the redacted lines."""
    if redact is not None:
        log, events = redact_shown(log, redact)
    else:
        events = find_events(log)
    mined = [event for event in events if event.kind != "http"]
    miner = LogTemplateMiner(similarity, max_clusters=MAX_ERROR_TEMPLATES)
    cluster_ids = miner.add_many(
        [event.mined[:2000] for event in mined],
        as_is=[event.block is not None or event.kind in ("json", "logfmt") for event in mined],
    )
    for event, cluster_id in zip(mined, cluster_ids, strict=True):
        event.template_key = f"t{cluster_id}" if cluster_id >= 0 else f"x{-cluster_id}"
    refined: dict[str, str] = {}
    for event in events:
        if event.kind == "log":
            kind = refined.get(event.template_key)
            if kind is None:
                kind = refined[event.template_key] = line_kind(event.text)
            event.kind = kind
    groups: dict[str, TemplateGroup] = {}
    for event in events:
        if event.kind == "http":
            event.template_key = f"h:{event.mined}"
        group = groups.get(event.template_key)
        if group is None:
            template = event.mined if event.kind == "http" else ""
            group = groups[event.template_key] = TemplateGroup(event.template_key, template, event.severity)
        group.events.append(event)
        if event.severity == "error":
            group.severity = "error"
        if event.kind not in group.kinds:
            group.kinds.append(event.kind)
    for key, group in groups.items():
        if key.startswith("t"):
            group.template = miner.template(int(key[1:]))
        elif key.startswith("x"):
            group.template = miner.template(-int(key[1:]))
    notes = []
    if miner.overflow_keys:
        notes.append(
            f"{miner.overflow_keys:,} rare error messages were grouped by exact text "
            "(too many different messages for template mining)"
        )
    return Analysis(log, events, groups, notes)
