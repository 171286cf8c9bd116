"""A bounded digest of one log for a language model (default at most 2,000 o200k tokens).

What it keeps, in order of priority when the budget is tight:
1. the header (sizes, time range, counts, exit code, what was dropped), the first and last error;
2. the trace the process died with, and the last 10 entries of the log (what happened before exit);
3. one compact line (count, line numbers, template) per error template: the first and last
   error's first, then by count (up to ~60% of the budget while other traces wait) — so many
   distinct rare errors are seen before more samples of a loud one;
4. the other distinct stack traces (deduplicated, trimmed to head + causes + innermost frames);
5. whatever still fits: times and an example line for the templates (most frequent first), the
   remaining traces, more tail lines, warning templates.
If the must-haves do not fit, sizes shrink step by step (fewer tail lines, shorter traces and
lines, no examples; see digest_parts.LEVELS) and what is left out is counted ("+12 more ...").

Items are first priced by their UTF-8 size, an upper bound on their tokens; only when that bound
reaches the budget is the digest priced again with the real tokenizer, so a small log never loads
it (see `build_digest(measure=...)`) and the budget always holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import BinaryIO

from .analysis import Analysis, Redactor, TemplateGroup, analyse
from .digest_parts import (
    LEVELS,
    Level,
    TraceGroup,
    base_digest,
    shrink_to_budget,
    tail_entries,
    template_stat,
    trace_groups,
    trace_summary,
)
from .exit_codes import explain_exit
from .lines import (
    LogLines,
    ReadLimits,
    lines_from_bytes,
    lines_from_file,
    lines_from_stream,
    lines_from_strings,
    lines_from_text,
)
from .models import ExitInfo, LogDigest
from .render import (
    TimeStyle,
    count_tokens,
    render_digest,
    render_tail_line,
    render_template,
    render_trace,
    tokens_at_most,
)

DEFAULT_MAX_TOKENS = 2000
MIN_MAX_TOKENS = 200
_MAX_MISSES = 8
# Error templates always given their line, whatever the share left for traces.
_MUST_ERRORS = 3
# Lines of the death trace and the first trace before the distinct error templates are listed.
_FIRST_TRACE_LINES = 12
_SHORT_TRACE_LINES = 8


class _OverBound(Exception):
    """Pricing by upper bounds reached the budget: the digest has to be priced with the tokenizer."""


def _fit(
    analysis: Analysis,
    exit_info: ExitInfo | None,
    max_tokens: int,
    level: Level,
    price: Callable[[str], int],
    exact: bool,
) -> tuple[LogDigest, bool]:
    """The digest at one size level, filled in priority order; True if all must-have items fit.

    `price` gives the tokens of a text: exact (`count_tokens`) or an upper bound (`exact` False);
    with a bound, whatever would not fit raises `_OverBound` instead of being left out."""
    digest = base_digest(analysis, exit_info, max_tokens, level.line_chars)
    style = TimeStyle.for_range(digest.first_time, digest.last_time)
    used = price(render_digest(digest))
    budget = max_tokens - 8  # slack for joins that tokenise differently from the parts
    complete = used <= budget
    if not complete and not exact:
        raise _OverBound

    error_groups = [g for g in analysis.templates.values() if g.severity == "error"]
    warning_groups = [g for g in analysis.templates.values() if g.severity == "warning"]
    traces = trace_groups(analysis)
    errors = analysis.errors
    death_key = errors[-1].template_key if errors else None
    death_trace = (
        next((t for t in traces if any(e is errors[-1] for e in t.events)), None) if errors else None
    )
    first_trace = traces[0] if traces else None

    chosen_traces: list[TraceGroup] = []
    trace_lines: dict[int, int] = {}  # id(group) -> lines shown; the death and first trace get more
    chosen_errors: list[TemplateGroup] = []
    with_example: set[int] = set()  # id(group) of error templates shown with times and an example
    chosen_warnings: list[TemplateGroup] = []

    def room_below(margin: float) -> bool:
        """True when less than `margin` tokens are left (then looping over more items is waste)."""
        if budget - used >= margin:
            return False
        if not exact:
            raise _OverBound
        return True

    def try_add(cost: int, limit: float = budget) -> bool:
        nonlocal used
        if used + cost > limit:
            if not exact:
                raise _OverBound
            return False
        used += cost
        return True

    def trace_cost(group: TraceGroup, max_lines: int) -> int:
        return price(render_trace("T9", trace_summary(analysis, group, level, max_lines), style) + "\n")

    def add_trace(group: TraceGroup, max_lines: int, limit: float = budget) -> bool:
        """Add a trace trimmed to `max_lines`, or let a chosen one grow to that many lines."""
        if group in chosen_traces:
            shown_lines = trace_lines[id(group)]
            if shown_lines >= max_lines:
                return True
            cost = trace_cost(group, max_lines) - trace_cost(group, shown_lines)
        else:
            cost = trace_cost(group, max_lines) + (12 if not chosen_traces else 0)
        if not try_add(max(0, cost), limit):
            return False
        if group not in chosen_traces:
            chosen_traces.append(group)
        trace_lines[id(group)] = max_lines
        return True

    def add_template(
        group: TemplateGroup, chosen: list[TemplateGroup], limit: float = budget, example: bool = True
    ) -> bool:
        if group in chosen:
            return True
        stat = template_stat(analysis, group, level, example=example)
        cost = price(render_template("E99", stat, style) + "\n") + (12 if not chosen else 0)
        if not try_add(cost, limit):
            return False
        chosen.append(group)
        return True

    def add_example(group: TemplateGroup) -> bool:
        """Give a chosen error template its times and example line (the full form)."""
        compact = render_template("E99", template_stat(analysis, group, level, example=False), style)
        full = render_template("E99", template_stat(analysis, group, level, example=True), style)
        if full == compact or try_add(max(0, price(full) - price(compact))):
            with_example.add(id(group))
            return True
        return False

    # 1. The trace the process died with (its head and innermost frames; it may grow in step 4),
    # and the last 10 entries of the log.
    if death_trace is not None and not add_trace(death_trace, min(_FIRST_TRACE_LINES, level.trace_lines)):
        complete = False
    shown = {e.index: ("T", e) for e in (death_trace.events if chosen_traces and death_trace else [])}
    tail_all = tail_entries(analysis, level.tail, shown, level.line_chars)
    tail_costs = [price(render_tail_line(t, style) + "\n") for t in tail_all]
    tail_count = min(10, len(tail_all))
    if tail_all and not try_add(sum(tail_costs[len(tail_all) - tail_count :]) + 20):
        complete = False
        tail_count = 0

    # 2. One compact line per error template (first and last error pinned, then by count),
    # leaving room for traces: distinct errors come before more detail about any one of them.
    by_count = sorted(error_groups, key=lambda g: -len(g.events))
    pinned = [g for g in error_groups if g.key in {errors[0].template_key, death_key}] if errors else []
    ordered_errors = list(dict.fromkeys(pinned + by_count))
    must_errors = min(_MUST_ERRORS, len(ordered_errors))
    by_trace_count = sorted(traces, key=lambda g: -len(g.events))
    other_traces = [t for t in dict.fromkeys([first_trace, *by_trace_count]) if t is not None]
    share = budget * 0.75 if len(other_traces) > len(chosen_traces) else budget
    misses = 0
    for index, group in enumerate(ordered_errors):
        if index >= must_errors and (misses >= _MAX_MISSES or room_below(20)):
            break  # nothing more fits; pricing thousands of templates would waste time
        limit = budget if index < must_errors else share
        if add_template(group, chosen_errors, limit, example=False):
            misses = 0
        else:
            misses += 1
            if index < must_errors:
                complete = False
    # 3. Other traces: the first one (its head and innermost frames), then the rest, shorter.
    if first_trace is not None and not room_below(30):
        add_trace(first_trace, min(_SHORT_TRACE_LINES, level.trace_lines))
    misses = 0
    for trace in other_traces:
        if misses >= _MAX_MISSES or room_below(30):
            break
        misses = 0 if add_trace(trace, min(12, level.trace_lines), budget * 0.85) else misses + 1
    # 4. Whatever still fits: remaining templates, the death and first trace at full length,
    # examples (most frequent first), traces, more tail, warnings. Each pass gives up after a run
    # of items that do not fit (there may be thousands).
    misses = 0
    for group in ordered_errors:
        if misses >= _MAX_MISSES or room_below(20):
            break
        misses = 0 if add_template(group, chosen_errors, example=False) else misses + 1
    for grown in (death_trace, first_trace):
        if grown is not None and grown in chosen_traces and not room_below(30):
            add_trace(grown, level.trace_lines)
    if level.examples:
        misses = 0
        for group in (g for g in ordered_errors if g in chosen_errors):
            if misses >= _MAX_MISSES or room_below(20):
                break
            misses = 0 if add_example(group) else misses + 1
    misses = 0
    for trace in other_traces:
        if misses >= _MAX_MISSES or room_below(30):
            break
        misses = 0 if add_trace(trace, min(8, level.trace_lines)) else misses + 1
    if tail_count:
        while tail_count < len(tail_all) and try_add(tail_costs[len(tail_all) - tail_count - 1]):
            tail_count += 1
    misses = 0
    for group in sorted(warning_groups, key=lambda g: -len(g.events)):
        if misses >= _MAX_MISSES or room_below(20):
            break
        misses = 0 if add_template(group, chosen_warnings, example=level.examples) else misses + 1

    chosen_traces.sort(key=lambda g: g.events[0].index)
    digest.traces = [trace_summary(analysis, g, level, trace_lines[id(g)]) for g in chosen_traces]
    digest.omitted_traces = len(traces) - len(chosen_traces)
    labels = {e.index: (f"T{n}", e) for n, g in enumerate(chosen_traces, start=1) for e in g.events}
    digest.tail = tail_entries(analysis, tail_count, labels, level.line_chars)
    chosen_errors.sort(key=lambda g: g.events[0].index)
    digest.error_templates = [
        template_stat(analysis, g, level, example=id(g) in with_example) for g in chosen_errors
    ]
    digest.omitted_error_templates = len(error_groups) - len(chosen_errors)
    chosen_warnings.sort(key=lambda g: g.events[0].index)
    digest.warning_templates = [
        template_stat(analysis, g, level, example=level.examples) for g in chosen_warnings
    ]
    digest.omitted_warning_templates = len(warning_groups) - len(chosen_warnings)
    return digest, complete


def _fit_levels(analysis: Analysis, exit_info: ExitInfo | None, max_tokens: int, exact: bool) -> LogDigest:
    """The digest at the first size level whose must-have items fit (or the tightest level)."""
    price = count_tokens if exact else tokens_at_most
    digest: LogDigest | None = None
    for level in LEVELS:
        digest, complete = _fit(analysis, exit_info, max_tokens, level, price, exact)
        if complete:
            break
    assert digest is not None  # LEVELS is not empty
    return digest


def build_digest(
    analysis: Analysis,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    exit_code: int | None = None,
    oom_killed: bool | None = None,
    *,
    measure: bool = True,
) -> LogDigest:
    """The digest of an analysed log, within `max_tokens` o200k tokens when rendered.

    `digest.tokens` is the exact token count of the rendering. With `measure=False` (for callers
    that only print the text) it is 0 when the digest fitted by its byte size alone, which spares
    loading the tokenizer for small logs."""
    if max_tokens < MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    exit_info = None
    if exit_code is not None:
        explained = explain_exit(exit_code, oom_killed)
        exit_info = ExitInfo(
            code=exit_code,
            signal=explained.signal,
            oom_killed=oom_killed,
            meaning=explained.meaning,
            next_step=explained.next_step,
        )
    try:
        digest = _fit_levels(analysis, exit_info, max_tokens, exact=False)
        if tokens_at_most(render_digest(digest)) > max_tokens:
            raise _OverBound
    except _OverBound:
        digest = shrink_to_budget(_fit_levels(analysis, exit_info, max_tokens, exact=True), max_tokens)
        measure = True  # the tokenizer is loaded now: the count is cheap
    digest.tokens = count_tokens(render_digest(digest)) if measure else 0
    return digest


LogSource = bytes | str | Iterable[str] | LogLines


def read_source(source: LogSource, limits: ReadLimits | None = None) -> LogLines:
    """Lines of a log given as bytes, one string, an iterable of lines, or already read."""
    if isinstance(source, LogLines):
        return source
    if isinstance(source, bytes):
        return lines_from_bytes(source, limits)
    if isinstance(source, str):
        return lines_from_text(source, limits)
    return lines_from_strings(source, limits)


def digest_log(
    source: LogSource,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    limits: ReadLimits | None = None,
    exit_code: int | None = None,
    oom_killed: bool | None = None,
    redact: Redactor | None = None,
) -> LogDigest:
    """Digest of a log given as bytes, text or lines (see `build_digest`).
    With `redact` (e.g. `redaction.redact_lines`), the lines it can show are redacted first."""
    return build_digest(
        analyse(read_source(source, limits), redact=redact), max_tokens, exit_code, oom_killed
    )


def digest_file(
    path: str | os.PathLike[str],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    limits: ReadLimits | None = None,
    exit_code: int | None = None,
    oom_killed: bool | None = None,
    redact: Redactor | None = None,
) -> LogDigest:
    """Digest of a log file; large files are read as head + tail only.
    With `redact` (e.g. `redaction.redact_lines`), the lines it can show are redacted first."""
    return build_digest(
        analyse(lines_from_file(path, limits), redact=redact), max_tokens, exit_code, oom_killed
    )


def digest_stream(
    stream: BinaryIO,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    limits: ReadLimits | None = None,
    exit_code: int | None = None,
    oom_killed: bool | None = None,
    redact: Redactor | None = None,
) -> LogDigest:
    """Digest of a binary stream such as stdin, read in chunks with bounded memory.
    With `redact` (e.g. `redaction.redact_lines`), the lines it can show are redacted first."""
    return build_digest(
        analyse(lines_from_stream(stream, limits), redact=redact), max_tokens, exit_code, oom_killed
    )
