"""The dashboard's resource and daily charts: well-formed SVG, the data-* hooks, escaping, geometry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest
from markupsafe import Markup

from agent_host.dashboard.charts import (
    MIB,
    ChartMark,
    ResourcePoint,
    daily_counts_chart,
    fill_days,
    resource_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "100%" and root.get("viewBox")
    return root


def by_attr(root: ET.Element, attr: str, value: str | None = None) -> list[ET.Element]:
    return [e for e in root.iter() if attr in e.attrib and (value is None or e.get(attr) == value)]


def ys_of_path(d: str) -> list[float]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return numbers[1::2]


def samples(memory_mib: list[int | None], cpu: list[float | None] | None = None) -> list[ResourcePoint]:
    cpu = cpu if cpu is not None else [10.0] * len(memory_mib)
    return [
        ResourcePoint(T0 + timedelta(minutes=i), None if m is None else m * MIB, c)
        for i, (m, c) in enumerate(zip(memory_mib, cpu, strict=True))
    ]


def test_resource_chart_has_its_series_limit_and_time_labels() -> None:
    root = parse(resource_chart(samples([100, 110, 120, 130]), memory_limit_bytes=256 * MIB, title="web"))
    assert root.get("data-chart") == "resources"
    assert [p.get("data-series") for p in root.iter(f"{SVG}path")] == ["memory", "cpu"]
    assert len(by_attr(root, "data-series", "memory-limit")) == 1
    times = [t.text for t in root.iter(f"{SVG}text") if "time" in (t.get("class") or "")]
    assert times and all(re.fullmatch(r"\d\d:\d\d", t or "") for t in times)
    assert "12:00" in times


@pytest.mark.parametrize(("limit_mib", "limit_above"), [(256, True), (64, False)])
def test_limit_line_sits_where_the_numbers_say(limit_mib: int, limit_above: bool) -> None:
    root = parse(resource_chart(samples([100, 120, 110]), memory_limit_bytes=limit_mib * MIB))
    limit = by_attr(root, "data-series", "memory-limit")[0]
    memory_ys = ys_of_path(by_attr(root, "data-series", "memory")[0].get("d") or "")
    limit_y = float(limit.get("y1") or "nan")
    # SVG y grows downward: a limit above the usage has a smaller y than every point of the line.
    if limit_above:
        assert all(limit_y < y for y in memory_ys)
    else:
        assert all(limit_y > y for y in memory_ys)


def test_higher_memory_is_drawn_higher_and_unknown_limit_draws_no_line() -> None:
    root = parse(resource_chart(samples([100, 200]), memory_limit_bytes=None))
    assert not by_attr(root, "data-series", "memory-limit")
    first, second = ys_of_path(by_attr(root, "data-series", "memory")[0].get("d") or "")
    assert second < first


def test_none_values_break_the_lines() -> None:
    points = samples([100, 110, None, 130, 140], cpu=[5.0, None, 7.0, 8.0, 9.0])
    root = parse(resource_chart(points, memory_limit_bytes=None))
    memory_d = by_attr(root, "data-series", "memory")[0].get("d") or ""
    cpu_d = by_attr(root, "data-series", "cpu")[0].get("d") or ""
    assert memory_d.count("M") == 2 and memory_d.count("L") == 2
    # cpu: a lone first point (drawn as a short dash), then a line through the last three
    assert cpu_d.count("M") == 2 and cpu_d.count("L") == 2


def test_points_are_drawn_in_time_order() -> None:
    points = samples([100, 200, 300])
    root = parse(resource_chart(list(reversed(points)), memory_limit_bytes=None))
    xs = [
        float(n)
        for n in re.findall(r"-?\d+(?:\.\d+)?", by_attr(root, "data-series", "memory")[0].get("d") or "")
    ][0::2]
    assert xs == sorted(xs)


def test_marks_are_vertical_lines_with_tooltips_and_labels_stay_text() -> None:
    marks = [ChartMark(T0 + timedelta(minutes=1), "opened"), ChartMark(T0 + timedelta(minutes=2), EVIL)]
    markup = resource_chart(samples([100, 110, 120]), memory_limit_bytes=None, marks=marks, title=EVIL)
    root = parse(markup)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script>" not in str(markup) and "&lt;script&gt;" in str(markup)
    opened = by_attr(root, "data-mark", "opened")[0]
    assert opened.tag == f"{SVG}line" and opened.get("x1") == opened.get("x2")
    assert "opened" in (opened.find(f"{SVG}title").text or "")  # type: ignore[union-attr]
    assert by_attr(root, "data-mark", EVIL)  # the parser gives back the original text: it was escaped
    xs = [float(m.get("x1") or "nan") for m in by_attr(root, "data-mark")]
    assert xs[0] < xs[1]


def test_no_points_says_so() -> None:
    root = parse(resource_chart([], memory_limit_bytes=256 * MIB))
    assert root.get("data-chart") == "resources"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["no samples in this window"]


def test_single_sample_still_draws() -> None:
    root = parse(resource_chart(samples([50]), memory_limit_bytes=100 * MIB))
    assert by_attr(root, "data-series", "memory") and by_attr(root, "data-series", "memory-limit")


def test_fill_days_zero_fills_the_window_oldest_first() -> None:
    last = date(2026, 3, 10)
    seen = [
        date(2026, 3, 9),
        date(2026, 3, 9),
        date(2026, 3, 1),
        date(2026, 2, 1),
        datetime(2026, 3, 10, 23, 0),
    ]
    days = fill_days(seen, last=last, days=10)
    assert [d for d, _ in days] == [date(2026, 3, 1) + timedelta(days=i) for i in range(10)]
    assert dict(days) == {d: 0 for d, _ in days} | {date(2026, 3, 1): 1, date(2026, 3, 9): 2, last: 1}
    with pytest.raises(ValueError, match="days must be at least 1"):
        fill_days([], last=last, days=0)


def test_daily_chart_has_one_bar_per_day_proportional_to_the_count() -> None:
    days = fill_days([date(2026, 3, 3)] * 4 + [date(2026, 3, 5)] * 2, last=date(2026, 3, 7), days=7)
    root = parse(daily_counts_chart(days))
    assert root.get("data-chart") == "daily"
    bars = {b.get("data-day"): b for b in root.iter(f"{SVG}rect")}
    assert list(bars) == [d.isoformat() for d, _ in days]
    assert bars["2026-03-03"].get("data-count") == "4"
    heights = {day: float(b.get("height") or "nan") for day, b in bars.items()}
    assert heights["2026-03-03"] == pytest.approx(2 * heights["2026-03-05"])
    assert heights["2026-03-04"] == 0
    assert bars["2026-03-05"].find(f"{SVG}title").text == "2026-03-05: 2 incidents"  # type: ignore[union-attr]


@pytest.mark.parametrize("days", [[], [(date(2026, 3, 1), 0), (date(2026, 3, 2), 0)]])
def test_daily_chart_draws_its_axis_without_incidents(days: list[tuple[date, int]]) -> None:
    root = parse(daily_counts_chart(days, title=EVIL))
    assert [e for e in root.iter(f"{SVG}line") if e.get("class") == "axis"]
    assert all(float(b.get("height") or "nan") == 0 for b in root.iter(f"{SVG}rect"))
    assert not [e for e in root.iter() if e.tag.endswith("script")]
