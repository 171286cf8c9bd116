"""Building blocks of a digest: size levels, template and trace summaries, the log tail.

`digest.py` chooses what goes in within the token budget; this module turns analysis results
into the digest's pydantic items at a given size level.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import SHOWN_TAIL, Analysis, ErrorEvent, TemplateGroup
from .models import ErrorLine, ExitInfo, LogDigest, TailLine, TemplateStat, TraceSummary
from .render import count_tokens, render_digest, shorten
from .traces import trim_block


@dataclass(frozen=True)
class Level:
    """One size step: tail entries, lines per trace, example lines shown, characters per line."""

    tail: int
    trace_lines: int
    examples: bool
    line_chars: int


# From generous to tight; the digest takes the first level whose must-have items fit.
LEVELS = (
    Level(40, 40, True, 240),
    Level(30, 30, True, 200),
    Level(24, 24, True, 180),
    Level(20, 16, True, 160),
    Level(14, 12, False, 140),
    Level(10, 8, False, 120),
    Level(6, 6, False, 100),
    Level(3, 4, False, 80),
    Level(0, 3, False, 60),
)
# The CLI redacts only what a digest can show, which includes the last SHOWN_TAIL entries.
assert max(level.tail for level in LEVELS) <= SHOWN_TAIL


@dataclass(eq=False)
class TraceGroup:
    """Occurrences of one distinct trace (same kind, message template and innermost frame)."""

    events: list[ErrorEvent]


def error_line(analysis: Analysis, event: ErrorEvent, chars: int) -> ErrorLine:
    """An event as one line of text with its line number, time and template."""
    group = analysis.templates.get(event.template_key)
    return ErrorLine(
        line=analysis.log.line_number(event.index),
        time=analysis.times.near(event.index),
        kind=event.kind,
        text=shorten(event.text, chars),
        template=shorten(group.template, chars) if group else "",
    )


def template_stat(
    analysis: Analysis, group: TemplateGroup, level: Level, example: bool = True
) -> TemplateStat:
    """Count, first/last line and time, and (with `example` at a level that shows them) an
    example line of one template; without an example it renders as one compact line."""
    first, last = group.events[0], group.events[-1]
    log = analysis.log
    return TemplateStat(
        key=group.key,
        template=shorten(group.template, level.line_chars),
        count=len(group.events),
        severity=group.severity,
        is_error=group.severity == "error",
        first_line=log.line_number(first.index),
        last_line=log.line_number(last.index),
        first_time=analysis.times.near(first.index),
        last_time=analysis.times.near(last.index),
        example=shorten(first.text, level.line_chars) if example and level.examples else "",
        kinds=list(group.kinds),
    )


def trace_groups(analysis: Analysis) -> list[TraceGroup]:
    """Error blocks of two or more lines, deduplicated by kind, message template and innermost frame."""
    groups: dict[tuple[str, str, str], TraceGroup] = {}
    for event in analysis.events:
        block = event.block
        if block is None or event.severity != "error":
            continue
        if len(analysis.block_lines(block)) < 2:
            continue
        key = (block.kind, event.template_key, block.top_frame)
        groups.setdefault(key, TraceGroup([])).events.append(event)
    return list(groups.values())


def trace_summary(analysis: Analysis, group: TraceGroup, level: Level, max_lines: int) -> TraceSummary:
    """The first occurrence of a distinct trace, trimmed to `max_lines`, with its count and times."""
    first, last = group.events[0], group.events[-1]
    assert first.block is not None  # trace_groups only takes events with blocks
    lines = analysis.block_lines(first.block)
    log = analysis.log
    return TraceSummary(
        kind=first.block.kind,
        headline=shorten(first.block.headline, level.line_chars),
        root_cause=shorten(first.block.root_cause, level.line_chars) if first.block.root_cause else None,
        count=len(group.events),
        first_line=log.line_number(first.index),
        last_line=log.line_number(last.index),
        first_time=analysis.times.near(first.index),
        last_time=analysis.times.near(last.index),
        total_lines=len(lines),
        lines=[shorten(line, level.line_chars) for line in trim_block(lines, first.block.kind, max_lines)],
    )


def tail_entries(
    analysis: Analysis, count: int, shown: dict[int, tuple[str, ErrorEvent]], chars: int
) -> list[TailLine]:
    """The last `count` entries of the log, where a trace shown above counts as one reference line.

    So a long final stack trace does not push the lines before the crash out of the tail.
    """
    log = analysis.log
    covering: dict[int, tuple[str, ErrorEvent]] = {}
    for label, event in shown.values():
        if event.end - event.index > 1:
            for line in range(event.index, event.end):
                covering[line] = (label, event)
    out: list[TailLine] = []
    i = len(log.messages) - 1
    while i >= 0 and len(out) < count:
        hit = covering.get(i)
        if hit is not None:
            label, event = hit
            text = f"<{i + 1 - event.index} lines of trace [{label}] shown above: {event.text}>"
            start = event.index
            out.append(
                TailLine(
                    line=log.line_number(start), time=analysis.times.at(start), text=shorten(text, chars)
                )
            )
            i = start - 1
            continue
        out.append(
            TailLine(line=log.line_number(i), time=analysis.times.at(i), text=shorten(log.messages[i], chars))
        )
        i -= 1
    out.reverse()
    return out


def base_digest(analysis: Analysis, exit_info: ExitInfo | None, max_tokens: int, chars: int) -> LogDigest:
    """The must-have part of a digest: sizes, time range, counts, notes, first and last error."""
    log = analysis.log
    errors = analysis.errors
    error_groups = [g for g in analysis.templates.values() if g.severity == "error"]
    blocks = [e for e in errors if e.block is not None and len(analysis.block_lines(e.block)) >= 2]
    first_time = next(
        (t for t in (analysis.times.at(i) for i in range(min(50, len(log.messages)))) if t), None
    )
    last_time = next(
        (
            t
            for t in (
                analysis.times.at(i)
                for i in range(len(log.messages) - 1, max(-1, len(log.messages) - 51), -1)
            )
            if t
        ),
        None,
    )
    return LogDigest(
        total_lines=log.total_lines,
        analysed_lines=len(log.messages),
        total_bytes=log.total_bytes,
        first_time=first_time,
        last_time=last_time,
        error_events=len(errors),
        warning_events=len(analysis.warnings),
        error_template_count=len(error_groups),
        warning_template_count=len(analysis.templates) - len(error_groups),
        trace_occurrences=len(blocks),
        distinct_traces=len(trace_groups(analysis)),
        exit=exit_info,
        first_error=error_line(analysis, errors[0], chars) if errors else None,
        last_error=error_line(analysis, errors[-1], chars) if errors else None,
        notes=log.describe_drops() + analysis.notes,
        max_tokens=max_tokens,
    )


def _drop_error_template(digest: LogDigest) -> None:
    """Remove the least frequent error template, keeping the first and the last one when possible."""
    templates = digest.error_templates
    middle = range(1, len(templates) - 1) if len(templates) > 2 else range(len(templates))
    victim = min(middle, key=lambda i: templates[i].count)
    templates.pop(victim)
    digest.omitted_error_templates += 1


def shrink_to_budget(digest: LogDigest, max_tokens: int) -> LogDigest:
    """Drop lowest-priority items until the rendering fits (guards against pricing drift)."""
    while count_tokens(render_digest(digest)) > max_tokens:
        if digest.warning_templates:
            digest.warning_templates.pop()
            digest.omitted_warning_templates += 1
        elif any(t.example for t in digest.error_templates):
            # detail about the most frequent template goes before any distinct template
            loudest = max((t for t in digest.error_templates if t.example), key=lambda t: t.count)
            loudest.example = ""
        elif len(digest.tail) > 10:
            digest.tail.pop(0)
        elif len(digest.traces) > 1:
            digest.traces.pop(0)  # the latest trace (the death) stays
            digest.omitted_traces += 1
        elif len(digest.error_templates) > 3:
            _drop_error_template(digest)
        elif len(digest.tail) > 3:
            digest.tail.pop(0)
        elif digest.traces:
            digest.traces.pop()
            digest.omitted_traces += 1
        elif digest.error_templates:
            _drop_error_template(digest)
        elif digest.tail:
            digest.tail.pop(0)
        elif digest.notes or digest.last_error is not None:
            digest.notes = [note[:80] for note in digest.notes[:1]] if len(digest.notes) > 1 else []
            digest.last_error = None
        elif digest.first_error is not None:
            digest.first_error.text = digest.first_error.text[:60]
            digest.first_error.template = ""
            if count_tokens(render_digest(digest)) > max_tokens:
                digest.first_error = None
        else:
            break
    return digest
