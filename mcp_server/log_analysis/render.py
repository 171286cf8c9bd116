"""Text rendering of a `LogDigest`, one small function per item so the digest can price each item.

Times are UTC. When the whole log is within one day, times are written as HH:MM:SS.mmm and
the date is given once in the header, which saves many tokens.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .models import ErrorLine, LogDigest, TailLine, TemplateStat, TraceSummary

ENCODING = "o200k_base"
_BINDINGS = "bpe_openai._bindings"


class Tokenizer(Protocol):
    """What the digest needs of a tokenizer (bpe_openai's Rust `PyTokenizer` has exactly this)."""

    def count(self, text: str) -> int: ...
    def encode(self, text: str) -> list[int]: ...
    def decode(self, tokens: list[int]) -> str: ...


class _PackageTokenizer:
    """The same three calls through bpe_openai's public API (the fallback, see `tokenizer`)."""

    def __init__(self, encoding: Any) -> None:
        self._encoding = encoding

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def encode(self, text: str) -> list[int]:
        return list(self._encoding.encode(text, disallowed_special=()))

    def decode(self, tokens: list[int]) -> str:
        return str(self._encoding.decode(tokens))


def _load_bindings() -> Any | None:
    """bpe_openai's Rust extension module, loaded without running the package's `__init__`.

    Importing the package `bpe_openai` reads all three of its vocabularies in Python (cl100k,
    o200k, voyage3: 0.6-0.9 s, ~100 MB) only to list their special tokens. The extension module
    builds one tokenizer when asked for it (o200k: ~60 ms). None if the package is laid out
    differently than in bpe-openai 0.1.x."""
    if _BINDINGS in sys.modules:
        return sys.modules[_BINDINGS]
    package = importlib.util.find_spec("bpe_openai")
    if package is None or not package.submodule_search_locations:
        return None
    for folder in package.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_bindings" + suffix)
            if not os.path.isfile(path):
                continue
            loader = importlib.machinery.ExtensionFileLoader(_BINDINGS, path)
            spec = importlib.util.spec_from_file_location(_BINDINGS, path, loader=loader)
            if spec is None:
                return None
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            # Registered, so a later `import bpe_openai` reuses it (an extension loads once).
            sys.modules[_BINDINGS] = module
            return module
    return None


@functools.cache
def tokenizer() -> Tokenizer:
    """The o200k tokenizer, loaded on first use and only that encoding."""
    bindings = _load_bindings()
    if bindings is not None and hasattr(bindings, "tokenizer_for_encoding"):
        return bindings.tokenizer_for_encoding(ENCODING)
    with warnings.catch_warnings():
        # bpe_openai loads its vocabularies (at import) with a deprecated importlib.resources call.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return _PackageTokenizer(bpe_openai.get_encoding(ENCODING))


def _valid_utf8(text: str) -> str:
    """`text` with lone surrogates replaced (the Rust tokenizer takes valid UTF-8 only)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def count_tokens(text: str) -> int:
    """o200k tokens in `text` (the tokenizer of current OpenAI models; a fair proxy for others).
    Special-token text such as `<|endoftext|>` in a log counts as ordinary text."""
    try:
        return int(tokenizer().count(text))
    except UnicodeEncodeError:
        return int(tokenizer().count(_valid_utf8(text)))


def tokens_at_most(text: str) -> int:
    """An upper bound on `count_tokens(text)` without loading the tokenizer: its UTF-8 size
    (every o200k token stands for at least one byte)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def cut_to_tokens(text: str, max_tokens: int) -> str:
    """`text` cut to at most `max_tokens` tokens (last resort when even the header is too long)."""
    if tokens_at_most(text) <= max_tokens:
        return text
    text = _valid_utf8(text)
    tokens = tokenizer().encode(text)
    if len(tokens) <= max_tokens:
        return text
    marker = "\n…[cut to fit the token budget]"
    keep = max(0, max_tokens - count_tokens(marker) - 1)
    while keep > 0:
        shortened = str(tokenizer().decode(list(tokens[:keep]))) + marker
        if count_tokens(shortened) <= max_tokens:
            return shortened
        keep -= 4
    return ""


def shorten(text: str, max_chars: int) -> str:
    """One line of at most about `max_chars` characters."""
    text = text.replace("\n", " ")
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…(+{len(text) - max_chars})"


@dataclass(frozen=True)
class TimeStyle:
    """How to write times: short within one day, with month-day otherwise."""

    same_day: bool

    @classmethod
    def for_range(cls, first: datetime | None, last: datetime | None) -> TimeStyle:
        if first is None or last is None:
            return cls(same_day=True)
        return cls(same_day=first.astimezone(UTC).date() == last.astimezone(UTC).date())

    def format(self, value: datetime | None) -> str:
        if value is None:
            return "?"
        value = value.astimezone(UTC)
        text = value.strftime("%H:%M:%S" if self.same_day else "%m-%d %H:%M:%S")
        return f"{text}.{value.microsecond // 1000:03d}"


def _full_time(value: datetime | None) -> str:
    if value is None:
        return "?"
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_header(digest: LogDigest) -> list[str]:
    analysed = (
        "all analysed"
        if digest.analysed_lines == digest.total_lines
        else f"{digest.analysed_lines:,} analysed"
    )
    lines = [f"LOG DIGEST: {digest.total_lines:,} lines ({analysed}), {digest.total_bytes:,} bytes"]
    if digest.first_time is not None:
        lines.append(f"time range (UTC): {_full_time(digest.first_time)} .. {_full_time(digest.last_time)}")
    lines.append(
        f"errors: {digest.error_events:,} events in {digest.error_template_count:,} templates; "
        f"stack traces: {digest.trace_occurrences:,} ({digest.distinct_traces:,} distinct); "
        f"warnings: {digest.warning_events:,} in {digest.warning_template_count:,} templates"
    )
    if digest.exit is not None:
        signal = f" ({digest.exit.signal})" if digest.exit.signal else ""
        oom = "" if digest.exit.oom_killed is None else f", OOMKilled={str(digest.exit.oom_killed).lower()}"
        lines.append(
            f"exit code {digest.exit.code}{signal}{oom}: {digest.exit.meaning} Next: {digest.exit.next_step}"
        )
    lines.extend(f"note: {note}" for note in digest.notes)
    return lines


def render_error_line(label: str, event: ErrorLine, style: TimeStyle, max_chars: int = 600) -> str:
    where = f"line {event.line:,}, {style.format(event.time)}, {event.kind}"
    return f"{label} ({where}): {shorten(event.text, max_chars)}"


def render_template(label: str, stat: TemplateStat, style: TimeStyle, max_chars: int = 600) -> str:
    """A template with its count and line numbers; with an example line, also its times and the
    example (the full form), else one compact line (the digest shows many distinct templates
    compactly before it spends tokens on detail)."""
    lines = f"lines {stat.first_line:,}"
    if stat.count > 1:
        lines += f"..{stat.last_line:,}"
    if not stat.example:
        return f"[{label}] x{stat.count:,} {lines}: {shorten(stat.template, max_chars)}"
    span = style.format(stat.first_time)
    if stat.count > 1:
        span += f" .. {style.format(stat.last_time)}"
    text = f"[{label}] x{stat.count:,} {span} {lines}: {shorten(stat.template, max_chars)}"
    if stat.example.strip() != stat.template.strip():
        text += f"\n    e.g. {shorten(stat.example, max_chars)}"
    return text


def render_trace(label: str, trace: TraceSummary, style: TimeStyle, max_chars: int = 600) -> str:
    span = style.format(trace.first_time)
    if trace.count > 1:
        span += f" .. {style.format(trace.last_time)}"
    head = f"[{label}] {trace.kind} x{trace.count:,} {span} line {trace.first_line:,}: "
    head += shorten(trace.headline, max_chars)
    if trace.root_cause:
        head += f"\n  root cause: {shorten(trace.root_cause, max_chars)}"
    body = "\n".join(f"  | {shorten(line, max_chars)}" for line in trace.lines)
    return f"{head}\n{body}" if body else head


def render_tail_line(tail: TailLine, style: TimeStyle, max_chars: int = 600) -> str:
    when = f" {style.format(tail.time)}" if tail.time is not None else ""
    return f"{tail.line}{when} {shorten(tail.text, max_chars)}"


def tail_title(digest: LogDigest) -> str:
    if not digest.tail:
        return "== Last lines: none =="
    first, last = digest.tail[0].line, digest.tail[-1].line
    return f"== Last {len(digest.tail)} lines before exit (lines {first:,}..{last:,}) =="


def render_digest(digest: LogDigest) -> str:
    """The digest as plain text for a model or a human (texts in the model are already shortened)."""
    style = TimeStyle.for_range(digest.first_time, digest.last_time)
    out = render_header(digest)
    if digest.first_error is not None:
        out.append("")
        out.append(render_error_line("FIRST ERROR", digest.first_error, style))
        if digest.last_error is not None and digest.last_error.line != digest.first_error.line:
            out.append(render_error_line("LAST ERROR", digest.last_error, style))
    elif digest.error_events == 0:
        out.append("no errors found")
    if digest.error_templates:
        out.append("")
        out.append(f"== Error templates ({digest.error_template_count}), in order of first appearance ==")
        out.extend(
            render_template(f"E{i}", stat, style) for i, stat in enumerate(digest.error_templates, start=1)
        )
        if digest.omitted_error_templates:
            out.append(f"(+{digest.omitted_error_templates} more error templates not shown)")
    if digest.traces:
        out.append("")
        out.append(f"== Stack traces and multi-line errors ({digest.distinct_traces} distinct) ==")
        out.extend(render_trace(f"T{i}", trace, style) for i, trace in enumerate(digest.traces, start=1))
        if digest.omitted_traces:
            out.append(f"(+{digest.omitted_traces} more distinct traces not shown)")
    if digest.warning_templates:
        out.append("")
        out.append(f"== Warning templates ({digest.warning_template_count}) ==")
        out.extend(
            render_template(f"W{i}", stat, style) for i, stat in enumerate(digest.warning_templates, start=1)
        )
        if digest.omitted_warning_templates:
            out.append(f"(+{digest.omitted_warning_templates} more warning templates not shown)")
    if digest.tail:
        out.append("")
        out.append(tail_title(digest))
        out.extend(render_tail_line(tail, style) for tail in digest.tail)
    return "\n".join(out) + "\n"
