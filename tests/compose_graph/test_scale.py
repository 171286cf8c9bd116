"""Big or deep compose files stay cheap: no recursion limit, no work growing with the square of
the file, and a bounded summary for tools (the 2,000-service file once took 207 s and 67 MB)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import pytest

from mcp_server.compose_graph import ComposeGraph, InterpolationError, ServiceNotFoundError
from mcp_server.compose_graph.interpolation import substitute
from mcp_server.compose_graph.summary import summarize


def chain(services: int, *, extends: bool = False) -> str:
    lines = ["services:"]
    for i in range(services):
        lines += [f"  s{i}:", f"    image: app{i}", "    environment:", f"      PEER_URL: http://s{i - 1}:80"]
        if i:
            lines.append(f"    extends: s{i - 1}" if extends else f"    depends_on: [s{i - 1}]")
    return "\n".join(lines) + "\n"


def test_a_long_extends_chain_does_not_hit_the_recursion_limit() -> None:
    graph = ComposeGraph.from_text(chain(1500, extends=True))
    assert graph.project.services["s1499"].image == "app1499"


def test_many_defaults_in_one_value_are_linear_and_not_recursive() -> None:
    text = "${UNSET:-x}" * 20_000
    start = time.perf_counter()
    assert substitute(text, {}) == "x" * 20_000
    assert time.perf_counter() - start < 2.0
    with pytest.raises(InterpolationError, match=r"nests \$\{\.\.\.\} more than 50 levels deep"):
        substitute("${A:-" * 60 + "x" + "}" * 60, {})
    assert substitute("${A:-" * 40 + "x" + "}" * 40, {}) == "x"


def test_summary_is_bounded_and_says_what_it_left_out() -> None:
    graph = ComposeGraph.from_text(chain(1000))
    start = time.perf_counter()
    summary = summarize(graph)
    assert time.perf_counter() - start < 5.0
    assert len(json.dumps(asdict(summary))) < 100_000
    assert summary.services_total == 1000 and [s.name for s in summary.services[:2]] == ["s0", "s1"]
    root = summary.services[0]
    assert (root.blast_radius_total, len(root.blast_radius), root.blast_radius[:2]) == (999, 25, ["s1", "s2"])
    assert summary.start_order[:3] == ["s0", "s1", "s2"] and len(summary.start_order) == 200
    assert summary.omitted[0] == "start_order: shows the first 200 of 1,000 services"
    assert "findings: 1,960 more not shown (no-memory-limit 980, no-healthcheck 980)" in summary.omitted
    assert summary.omitted[-1].startswith("services: 960 of 1,000 not described (shown: the first ones")


def test_focused_summary_starts_with_the_service_and_its_upstream() -> None:
    summary = summarize(ComposeGraph.from_text(chain(300)), "s150", max_services=3)
    assert [s.name for s in summary.services] == ["s150", "s0", "s1"]
    assert (summary.services[0].upstream_total, summary.services[0].blast_radius_total) == (150, 149)
    assert "shown: s150, then what it needs, then what needs it" in summary.omitted[-1]


def test_small_files_are_summarized_whole() -> None:
    summary = summarize(ComposeGraph.from_text(chain(3)))
    assert [s.name for s in summary.services] == ["s0", "s1", "s2"]
    assert summary.services[0].blast_radius == ["s1", "s2"] and summary.omitted == []


def test_unknown_service_names_a_few_of_the_others() -> None:
    graph = ComposeGraph.from_text(chain(100))
    with pytest.raises(ServiceNotFoundError) as caught:
        graph.blast_radius("nope")
    first = ", ".join(f"s{i}" for i in range(20))
    assert str(caught.value) == f'no service named "nope" (services: {first} and 80 more)'
