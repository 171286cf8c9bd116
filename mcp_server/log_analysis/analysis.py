"""Find the error events of one log: stack traces and multi-line records, single error and
warning lines, HTTP 5xx responses; then group them into templates.

Cost: one keyword scan over the whole text picks candidate lines; only those are classified,
grouped into blocks and mined. Ordinary info lines are never looked at again.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    messages = log.messages
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


def analyse(log: LogLines, similarity: float = DEFAULT_SIMILARITY) -> Analysis:
    """Events of `log` with a template key each, and the template groups."""
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
