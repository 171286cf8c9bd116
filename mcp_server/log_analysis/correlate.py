"""Put the errors of all services of one compose project on one timeline.

`correlate_services({"db": db_lines, "api": api_lines})` analyses each service's log, merges
their timestamped error events in time order, and answers:
- which service failed first (`first_failing_service`);
- which failures started together (`clusters`): a service's failure *onset* is an error after at
  least `window_seconds` without errors from that service; onsets of different services within
  `window_seconds` of each other form a cluster, ordered by time, so "db FATAL at t, then api
  connection refused at t+1s" reads as one cluster whose first service is db.
A service that logs errors non-stop has one onset, so it cannot chain unrelated failures together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .analysis import ErrorEvent, analyse
from .digest import LogSource, read_source
from .lines import ReadLimits
from .models import Correlation, ErrorCluster, ErrorEventOut
from .render import shorten
from .timestamps import format_time

DEFAULT_WINDOW_SECONDS = 5.0
DEFAULT_MAX_TIMELINE = 200
MAX_CLUSTERS = 20


@dataclass
class _Timed:
    time: datetime
    order: int
    service: str
    line: int
    event: ErrorEvent
    template: str


def _out(item: _Timed) -> ErrorEventOut:
    return ErrorEventOut(
        service=item.service,
        time=item.time,
        line=item.line,
        kind=item.event.kind,
        template=shorten(item.template, 200),
        text=shorten(item.event.text, 240),
    )


def _timeline(items: list[_Timed], max_entries: int) -> tuple[list[ErrorEventOut], int]:
    """Merge runs of the same (service, template) and keep the start and the end of a long timeline."""
    merged: list[ErrorEventOut] = []
    last_key: tuple[str, str] | None = None
    for item in items:
        key = (item.service, item.event.template_key)
        if key == last_key:
            merged[-1].count += 1
            merged[-1].last_time = item.time
            continue
        merged.append(_out(item))
        last_key = key
    if len(merged) <= max_entries:
        return merged, 0
    head = max_entries * 2 // 3
    tail = max_entries - head
    return merged[:head] + merged[-tail:] if tail else merged[:head], len(merged) - max_entries


def _clusters(items: list[_Timed], window: timedelta) -> list[ErrorCluster]:
    last_error: dict[str, datetime] = {}
    onsets: list[_Timed] = []
    for item in items:
        previous = last_error.get(item.service)
        if previous is None or item.time - previous > window:
            onsets.append(item)
        last_error[item.service] = item.time
    groups: list[list[_Timed]] = []
    for onset in onsets:
        if groups and onset.time - groups[-1][-1].time <= window:
            groups[-1].append(onset)
        else:
            groups.append([onset])
    clusters: list[ErrorCluster] = []
    for group in groups:
        services = list(dict.fromkeys(onset.service for onset in group))
        if len(services) < 2:
            continue
        start, end = group[0].time, group[-1].time
        firsts: dict[str, _Timed] = {}
        for onset in group:
            firsts.setdefault(onset.service, onset)
        count = sum(1 for item in items if item.service in services and start <= item.time <= end + window)
        clusters.append(
            ErrorCluster(
                start=start,
                end=end,
                services=services,
                first_service=services[0],
                first_events=[_out(firsts[service]) for service in services],
                event_count=count,
            )
        )
    return clusters[:MAX_CLUSTERS]


def correlate_services(
    services: Mapping[str, LogSource],
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    max_timeline: int = DEFAULT_MAX_TIMELINE,
    limits: ReadLimits | None = None,
) -> Correlation:
    """Merged error timeline, first failing service and error clusters of several services."""
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    items: list[_Timed] = []
    per_service: dict[str, int] = {}
    untimed: dict[str, int] = {}
    for order, (service, source) in enumerate(services.items()):
        analysis = analyse(read_source(source, limits))
        errors = analysis.errors
        per_service[service] = len(errors)
        for event in errors:
            when = analysis.times.near(event.index)
            if when is None:
                untimed[service] = untimed.get(service, 0) + 1
                continue
            group = analysis.templates.get(event.template_key)
            template = group.template if group is not None else event.text
            items.append(_Timed(when, order, service, analysis.log.line_number(event.index), event, template))
    items.sort(key=lambda item: (item.time, item.order, item.line))
    timeline, omitted = _timeline(items, max_timeline)
    notes = []
    if untimed:
        notes.append(
            "some errors have no timestamp and are not on the timeline; "
            "read logs with timestamps (docker logs --timestamps) to place them"
        )
    return Correlation(
        window_seconds=window_seconds,
        first_failing_service=items[0].service if items else None,
        first_error=_out(items[0]) if items else None,
        timeline=timeline,
        omitted_timeline_entries=omitted,
        clusters=_clusters(items, timedelta(seconds=window_seconds)),
        errors_per_service=per_service,
        untimed_errors=untimed,
        notes=notes,
    )


def render_correlation(correlation: Correlation, max_entries: int = 60) -> str:
    """Plain-text form of a correlation for a model (times in UTC)."""
    out = [f"ERROR TIMELINE ACROSS SERVICES (window {correlation.window_seconds:g}s)"]
    counts = ", ".join(f"{name}={count}" for name, count in correlation.errors_per_service.items())
    out.append(f"errors per service: {counts or 'none'}")
    if correlation.first_error is not None:
        first = correlation.first_error
        out.append(f"first failing service: {first.service} at {format_time(first.time)}: {first.text}")
    for number, cluster in enumerate(correlation.clusters, start=1):
        out.append(
            f"cluster {number}: {format_time(cluster.start)} .. {format_time(cluster.end)}, "
            f"{cluster.event_count} errors, order: {' -> '.join(cluster.services)}"
        )
        out.extend(f"  {format_time(e.time)} {e.service}: {e.text}" for e in cluster.first_events)
    out.append("timeline:")
    for entry in correlation.timeline[:max_entries]:
        repeat = f" (x{entry.count} until {format_time(entry.last_time)})" if entry.count > 1 else ""
        out.append(f"  {format_time(entry.time)} {entry.service} [{entry.kind}] {entry.template}{repeat}")
    hidden = len(correlation.timeline) - min(len(correlation.timeline), max_entries)
    hidden += correlation.omitted_timeline_entries
    if hidden:
        out.append(f"  (+{hidden} more timeline entries)")
    out.extend(f"note: {note}" for note in correlation.notes)
    return "\n".join(out) + "\n"
