"""Pydantic models at the edges of log analysis: what tools, the CLI and a model get back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SeverityName = Literal["error", "warning"]


class TemplateStat(BaseModel):
    """One log template: lines that are the same event with different values."""

    key: str = Field(description="Stable id of the template within one analysis")
    template: str = Field(description="The line with variable parts as <NUM>, <IP>, <*> …")
    count: int
    severity: SeverityName | None = None
    is_error: bool = False
    first_line: int = Field(description="1-based line number of the first occurrence")
    last_line: int
    first_time: datetime | None = None
    last_time: datetime | None = None
    example: str = Field(description="One real line of this template")
    kinds: list[str] = Field(default_factory=list, description="Formats seen: python, go, http, log …")


class ErrorLine(BaseModel):
    """One error event as a line of text with its place and time."""

    line: int
    time: datetime | None = None
    kind: str
    text: str
    template: str = ""


class TraceSummary(BaseModel):
    """A stack trace or multi-line error record, deduplicated by error message and innermost frame."""

    kind: str = Field(description="python, node, java, dotnet, go, ruby, postgres, redis, stack")
    headline: str = Field(description="The line naming the error (exception line, panic message)")
    root_cause: str | None = Field(default=None, description="First chained exception / last 'Caused by'")
    count: int = Field(description="How many times this trace occurred")
    first_line: int
    last_line: int
    first_time: datetime | None = None
    last_time: datetime | None = None
    total_lines: int = Field(description="Lines in the shown occurrence before trimming")
    lines: list[str] = Field(description="The shown occurrence, trimmed: head, causes, innermost frames")


class TailLine(BaseModel):
    """One of the last lines of the log (what happened right before the process died)."""

    line: int
    time: datetime | None = None
    text: str


class ExitInfo(BaseModel):
    """Why a container's process ended, from its exit code (see exit_codes.explain_exit)."""

    code: int
    signal: str | None = None
    oom_killed: bool | None = None
    meaning: str
    next_step: str


class LogDigest(BaseModel):
    """A bounded summary of one log for a language model; `render_digest` turns it into text."""

    total_lines: int
    analysed_lines: int
    total_bytes: int
    first_time: datetime | None = None
    last_time: datetime | None = None
    error_events: int = 0
    warning_events: int = 0
    error_template_count: int = 0
    warning_template_count: int = 0
    trace_occurrences: int = 0
    distinct_traces: int = 0
    exit: ExitInfo | None = None
    first_error: ErrorLine | None = None
    last_error: ErrorLine | None = None
    error_templates: list[TemplateStat] = Field(default_factory=list)
    omitted_error_templates: int = 0
    traces: list[TraceSummary] = Field(default_factory=list)
    omitted_traces: int = 0
    warning_templates: list[TemplateStat] = Field(default_factory=list)
    omitted_warning_templates: int = 0
    tail: list[TailLine] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    max_tokens: int
    tokens: int = Field(default=0, description="o200k tokens of the text rendering")


class ErrorEventOut(BaseModel):
    """An error event of one service on the merged timeline."""

    service: str
    time: datetime
    line: int
    kind: str
    template: str
    text: str
    count: int = Field(
        default=1, description="Consecutive events of this template in this service merged here"
    )
    last_time: datetime | None = None


class ErrorCluster(BaseModel):
    """Errors of several services close in time: the earliest one is the likely cause."""

    start: datetime
    end: datetime
    services: list[str] = Field(description="Services in the order their first error appeared")
    first_service: str
    first_events: list[ErrorEventOut] = Field(description="The first error of each service in the cluster")
    event_count: int


class Correlation(BaseModel):
    """Errors of all services of one compose project on one timeline."""

    window_seconds: float
    first_failing_service: str | None = None
    first_error: ErrorEventOut | None = None
    timeline: list[ErrorEventOut] = Field(default_factory=list)
    omitted_timeline_entries: int = 0
    clusters: list[ErrorCluster] = Field(default_factory=list)
    errors_per_service: dict[str, int] = Field(default_factory=dict)
    untimed_errors: dict[str, int] = Field(
        default_factory=dict, description="Errors without a timestamp (not on the timeline)"
    )
    notes: list[str] = Field(default_factory=list)
