"""Small server-side SVG charts for the dashboard: memory and CPU against the limit, incidents per day.

No JavaScript and no chart library: each function returns an inline `<svg>` string (as `Markup`) that a
Jinja2 template embeds as is. Every text that comes from outside (labels, titles) is escaped here, so a
container that names itself `<script>` shows that text and runs nothing. The pictures carry CSS classes
(`.axis`, `.grid`, `.limit`, `.series`, `.mark`, `.bar`) for the dashboard's stylesheet, and inline
stroke/fill defaults so an svg still reads on its own. `data-*` attributes are the hooks tests use.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup, escape

MIB = 1024 * 1024
_FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class ResourcePoint:
    """One sample of a container (or a service's containers together) at a moment.

    `cpu_percent` is 100 when the container uses its whole CPU limit (or all the host's CPUs when it
    has none). A value of None means "not measured at that moment": the line has a gap there.
    """

    at: datetime
    memory_bytes: int | None
    cpu_percent: float | None


@dataclass(frozen=True)
class ChartMark:
    """A moment worth a vertical line on the chart, e.g. "opened", "restart_service", "resolved"."""

    at: datetime
    label: str


def _n(value: float) -> str:
    """A coordinate as short, stable text: at most one decimal, no "-0"."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already (the store writes UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _nice_top(largest: float, ticks: int = 4) -> tuple[float, float]:
    """A round axis top at or above `largest` and the step between its ticks (1, 2, 2.5 or 5 × 10^k)."""
    if largest <= 0:
        return 1.0, 0.25
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return math.ceil(largest / step - 1e-9) * step, step


def _tick_text(value: float, step: float) -> str:
    return f"{value:.0f}" if step >= 1 else f"{value:.1f}"


def _svg_open(width: int, height: int, kind: str, title: str) -> str:
    """The opening tag (viewBox-based, 100% wide) and an accessible <title> when one is given."""
    label = f' aria-label="{escape(title)}"' if title else ""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" data-chart="{kind}"{label}>'
    )
    return head + (f"<title>{escape(title)}</title>" if title else "")


# Candidate distances between time-axis ticks, in seconds: whole minutes and hours, then days.
_TIME_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)


def _time_ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Round UTC moments between start and end (at most ~6), labelled HH:MM (or MM-DD for day steps)."""
    span = (end - start).total_seconds()
    step = next((s for s in _TIME_STEPS if span / s <= 6), _TIME_STEPS[-1])
    first = math.ceil(start.timestamp() / step) * step
    ticks = []
    moment = first
    while moment <= end.timestamp() + 1e-6:
        at = datetime.fromtimestamp(moment, tz=UTC)
        ticks.append((at, at.strftime("%m-%d") if step >= 86400 else at.strftime("%H:%M")))
        moment += step
    return ticks


def _line_path(coords: Sequence[tuple[float, float] | None]) -> str:
    """An SVG path through the points; None starts a new piece (a gap). A lone point is a short dash."""
    parts: list[str] = []
    pen_down = False
    pending_single = False
    for coord in coords:
        if coord is None:
            if pending_single:
                parts.append("h 0.5")
            pen_down = pending_single = False
            continue
        x, y = coord
        if pen_down:
            parts.append(f"L {_n(x)} {_n(y)}")
            pending_single = False
        else:
            parts.append(f"M {_n(x)} {_n(y)}")
            pen_down = pending_single = True
    if pending_single:
        parts.append("h 0.5")
    return " ".join(parts)


def _no_data(kind: str, title: str, message: str) -> Markup:
    return Markup(  # noqa: S704 - built here; every outside text in it went through escape()
        _svg_open(720, 60, kind, title)
        + f'<text x="360" y="34" text-anchor="middle" font-size="13" fill="#5f6368" {_FONT} '
        f'class="empty">{escape(message)}</text></svg>'
    )


def resource_chart(
    points: Sequence[ResourcePoint],
    *,
    memory_limit_bytes: int | None,
    marks: Sequence[ChartMark] = (),
    title: str = "",
) -> Markup:
    """Memory (MiB, with the limit as a dashed line) and CPU (%) over time, in two stacked panels.

    The time window spans the points and the marks, so every mark passed is drawn. Marks are vertical
    lines with a tooltip. With no points at all the svg only says "no samples in this window".
    """
    if not points:
        return _no_data("resources", title, "no samples in this window")
    samples = sorted(points, key=lambda p: _utc(p.at))
    moments = [_utc(p.at) for p in samples] + [_utc(m.at) for m in marks]
    start, end = min(moments), max(moments)
    if (end - start).total_seconds() < 120:  # one sample, or a burst: show a readable two minutes
        middle = start + (end - start) / 2
        start, end = middle - timedelta(minutes=1), middle + timedelta(minutes=1)

    width, left, right = 720, 64, 16
    top = 30 if title else 14
    mem_top, mem_height = top + 16, 120
    cpu_top, cpu_height = mem_top + mem_height + 30, 80
    axis_y = cpu_top + cpu_height
    height = axis_y + 34
    plot_width = width - left - right
    span = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return left + plot_width * (_utc(moment) - start).total_seconds() / span

    memories = [p.memory_bytes / MIB for p in samples if p.memory_bytes is not None]
    limit_mib = memory_limit_bytes / MIB if memory_limit_bytes else None
    mem_max, mem_step = _nice_top(max([*memories, limit_mib or 0.0]) * 1.05)
    cpus = [p.cpu_percent for p in samples if p.cpu_percent is not None]
    cpu_max, cpu_step = _nice_top(max([*cpus, 100.0]))

    def mem_y(mib: float) -> float:
        return mem_top + mem_height * (1 - mib / mem_max)

    def cpu_y(percent: float) -> float:
        return cpu_top + cpu_height * (1 - max(percent, 0.0) / cpu_max)

    out = [_svg_open(width, height, "resources", title)]
    if title:
        out.append(
            f'<text x="{left}" y="18" font-size="13" font-weight="600" fill="#202124" {_FONT} '
            f'class="chart-title">{escape(title)}</text>'
        )
    panels = (
        ("memory", "memory (MiB)", mem_top, mem_height, mem_max, mem_step, mem_y),
        ("cpu", "CPU (%)", cpu_top, cpu_height, cpu_max, cpu_step, cpu_y),
    )
    for name, caption, panel_top, panel_height, axis_max, step, y_of in panels:
        out.append(f'<g data-panel="{name}">')
        out.append(
            f'<text x="{left}" y="{panel_top - 5}" font-size="11" fill="#5f6368" {_FONT} '
            f'class="panel-title">{caption}</text>'
        )
        value = 0.0
        while value <= axis_max + 1e-9:
            y = _n(y_of(value))
            out.append(
                f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" '
                f'stroke="#e8eaed" stroke-width="1"/>'
                f'<text class="axis" x="{left - 6}" y="{y}" dy="0.35em" text-anchor="end" '
                f'font-size="10" fill="#5f6368" {_FONT}>{_tick_text(value, step)}</text>'
            )
            value += step
        out.append(
            f'<line class="axis" x1="{left}" x2="{left}" y1="{panel_top}" y2="{panel_top + panel_height}" '
            f'stroke="#9aa0a6" stroke-width="1"/></g>'
        )

    for moment, label in _time_ticks(start, end):
        x = _n(x_of(moment))
        out.append(
            f'<line class="grid" x1="{x}" x2="{x}" y1="{mem_top}" y2="{axis_y}" stroke="#f1f3f4" '
            f'stroke-width="1"/><text class="axis time" x="{x}" y="{axis_y + 14}" text-anchor="middle" '
            f'font-size="10" fill="#5f6368" {_FONT}>{label}</text>'
        )
    out.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" '
        f'stroke="#9aa0a6" stroke-width="1"/><text class="axis" x="{width - right}" y="{axis_y + 28}" '
        f'text-anchor="end" font-size="10" fill="#5f6368" {_FONT}>time (UTC)</text>'
    )

    if limit_mib is not None:
        y = _n(mem_y(limit_mib))
        out.append(
            f'<line class="limit" data-series="memory-limit" x1="{left}" x2="{width - right}" y1="{y}" '
            f'y2="{y}" stroke="#c62828" stroke-width="1.5" stroke-dasharray="6 4">'
            f"<title>memory limit {limit_mib:.0f} MiB</title></line>"
        )
    series = (
        (
            "memory",
            "#1a73e8",
            [(p.at, None if p.memory_bytes is None else mem_y(p.memory_bytes / MIB)) for p in samples],
        ),
        (
            "cpu",
            "#e37400",
            [(p.at, None if p.cpu_percent is None else cpu_y(p.cpu_percent)) for p in samples],
        ),
    )
    for name, colour, values in series:
        path = _line_path([None if y is None else (x_of(at), y) for at, y in values])
        if path:
            out.append(
                f'<path class="series {name}" data-series="{name}" d="{path}" fill="none" '
                f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>'
            )

    for index, mark in enumerate(sorted(marks, key=lambda m: _utc(m.at))):
        x = _n(x_of(mark.at))
        label = escape(mark.label)
        when = _utc(mark.at).strftime("%Y-%m-%d %H:%M:%S")
        # Neighbouring marks alternate their caption height so two close moments stay legible.
        caption_y = mem_top + 10 + 11 * (index % 2)
        out.append(
            f'<line class="mark" data-mark="{label}" x1="{x}" x2="{x}" y1="{mem_top}" y2="{axis_y}" '
            f'stroke="#5f6368" stroke-width="1" stroke-dasharray="2 3"><title>{label} at {when} UTC</title>'
            f'</line><text class="mark-label" x="{x}" dx="3" y="{caption_y}" font-size="10" '
            f'fill="#3c4043" {_FONT}>{label}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built here; every outside text in it went through escape()


def fill_days(dates: Iterable[date], *, last: date, days: int = 14) -> list[tuple[date, int]]:
    """How many of `dates` fall on each of the `days` days ending at `last`, oldest first, zeros kept.

    A datetime counts on its own calendar day; dates outside the window are left out.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}; pass how many days the chart shows")
    first = last - timedelta(days=days - 1)
    counts = Counter(d.date() if isinstance(d, datetime) else d for d in dates)
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]


def daily_counts_chart(days: Sequence[tuple[date, int]], *, title: str = "incidents per day") -> Markup:
    """One bar per day, height proportional to the count, each with a "YYYY-MM-DD: n incidents" tooltip.

    Days are drawn oldest first. All-zero or empty input still draws the axis, so the page keeps its shape.
    """
    ordered = sorted(days, key=lambda item: item[0])
    width, left, right, top = 720, 40, 12, 30 if title else 12
    plot_height = 120
    base_y = top + plot_height
    height = base_y + 30
    plot_width = width - left - right
    top_count, step = _nice_top(max([count for _, count in ordered] + [0]))
    if top_count < 4:  # counts are whole: keep ticks on integers for small numbers
        top_count, step = 4.0, 1.0
    step = max(1.0, round(step))

    out = [_svg_open(width, height, "daily", title)]
    if title:
        out.append(
            f'<text x="{left}" y="18" font-size="13" font-weight="600" fill="#202124" {_FONT} '
            f'class="chart-title">{escape(title)}</text>'
        )
    value = 0.0
    while value <= top_count + 1e-9:
        y = _n(base_y - plot_height * value / top_count)
        out.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#e8eaed" '
            f'stroke-width="1"/><text class="axis" x="{left - 6}" y="{y}" dy="0.35em" text-anchor="end" '
            f'font-size="10" fill="#5f6368" {_FONT}>{value:.0f}</text>'
        )
        value += step
    out.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base_y}" y2="{base_y}" '
        f'stroke="#9aa0a6" stroke-width="1"/>'
    )
    if ordered:
        slot = plot_width / len(ordered)
        bar_width = max(1.0, slot * 0.7)
        label_every = max(1, math.ceil(len(ordered) / 14))  # at most ~14 date captions under the bars
        for index, (day, count) in enumerate(ordered):
            bar_height = plot_height * count / top_count
            x = left + slot * index + (slot - bar_width) / 2
            noun = "incident" if count == 1 else "incidents"
            out.append(
                f'<rect class="bar" data-day="{day.isoformat()}" data-count="{count}" x="{_n(x)}" '
                f'y="{_n(base_y - bar_height)}" width="{_n(bar_width)}" height="{_n(bar_height)}" '
                f'fill="#1a73e8"><title>{day.isoformat()}: {count} {noun}</title></rect>'
            )
            if index % label_every == 0:
                out.append(
                    f'<text class="axis" x="{_n(x + bar_width / 2)}" y="{base_y + 14}" text-anchor="middle" '
                    f'font-size="10" fill="#5f6368" {_FONT}>{day.strftime("%m-%d")}</text>'
                )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built here; every outside text in it went through escape()
