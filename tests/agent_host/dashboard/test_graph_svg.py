"""The layered graph drawing: well-formed SVG, hooks, escaping, layering, cycles, determinism."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from agent_host.dashboard.graph_svg import GraphNode, graph_svg

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"
LOOP_NODES = [
    "__start__",
    "detect_incident",
    "diagnose",
    "plan_solution",
    "escalate",
    "execute_action",
    "verify_fix",
    "rollback",
    "learn",
    "__end__",
]
LOOP_EDGES = [
    ("__start__", "detect_incident"),
    ("detect_incident", "diagnose"),
    ("detect_incident", "__end__"),
    ("diagnose", "plan_solution"),
    ("diagnose", "escalate"),
    ("plan_solution", "execute_action"),
    ("execute_action", "verify_fix"),
    ("verify_fix", "rollback"),
    ("rollback", "verify_fix"),  # the loop LangGraph has: verify → rollback → verify
    ("verify_fix", "learn"),
    ("learn", "__end__"),
    ("escalate", "__end__"),
]


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg" and root.get("data-graph") is not None
    # the natural width (the page's CSS only shrinks it): a small graph is not blown up to the page
    view_width = (root.get("viewBox") or "0 0 0 0").split()[2]
    assert root.get("width") in (view_width, "100%")  # "100%" for the empty picture
    return root


def node_boxes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    """Each node's rect as (x, y, width, height)."""
    boxes = {}
    for group in root.iter(f"{SVG}g"):
        if "data-node" in group.attrib:
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            boxes[group.get("data-node") or ""] = tuple(
                float(rect.get(k) or "nan") for k in ("x", "y", "width", "height")
            )
    return boxes  # type: ignore[return-value]


def loop_graph(direction: str = "down") -> Markup:
    nodes = [GraphNode(n, n, badge="2" if n == "diagnose" else None) for n in LOOP_NODES]
    return graph_svg(nodes, LOOP_EDGES, direction=direction)  # type: ignore[arg-type]


def test_nodes_and_edges_carry_their_hooks() -> None:
    nodes = [
        GraphNode("web", "web", badge="256 MiB", tone="warn", href="/compose/shop?tab=1&x=2"),
        GraphNode("db", "db", tone="ok"),
    ]
    root = parse(graph_svg(nodes, [("web", "db"), ("web", "ghost")]))
    groups = {g.get("data-node"): g for g in root.iter(f"{SVG}g") if "data-node" in g.attrib}
    assert set(groups) == {"web", "db"}
    assert groups["web"].get("class") == "node tone-warn"
    assert [t.text for t in groups["web"].iter(f"{SVG}text") if t.get("class") == "count"] == ["256 MiB"]
    assert not [t for t in groups["db"].iter(f"{SVG}text") if t.get("class") == "count"]
    links = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in links] == ["/compose/shop?tab=1&x=2"]
    assert links[0].find(f"{SVG}g").get("data-node") == "web"  # type: ignore[union-attr]
    edges = [p for p in root.iter(f"{SVG}path") if "data-edge" in p.attrib]
    assert [e.get("data-edge") for e in edges] == ["web->db"]  # the edge to an unknown id is skipped
    assert (edges[0].get("marker-end") or "").startswith("url(#ig-arrow-")


def test_layering_puts_each_node_after_its_predecessors_in_both_directions() -> None:
    forward = [(a, b) for a, b in LOOP_EDGES if (a, b) != ("rollback", "verify_fix")]
    for direction, axis in (("down", 1), ("right", 0)):
        boxes = node_boxes(parse(loop_graph(direction)))
        for a, b in forward:
            end_of_a = boxes[a][axis] + boxes[a][axis + 2]
            assert end_of_a < boxes[b][axis], f"{a} should come before {b} ({direction})"
        # the end is on the longest path: last layer, below everything
        assert boxes["__end__"][axis] == max(box[axis] for box in boxes.values())


def test_cycles_are_drawn_but_do_not_loop_forever() -> None:
    root = parse(loop_graph())
    back = [p for p in root.iter(f"{SVG}path") if p.get("data-edge") == "rollback->verify_fix"]
    assert len(back) == 1 and "back" in (back[0].get("class") or "")
    ring = [GraphNode(c, c) for c in "abc"]
    ring_root = parse(graph_svg(ring, [("a", "b"), ("b", "c"), ("c", "a"), ("b", "b")]))
    assert len(node_boxes(ring_root)) == 3
    assert {p.get("data-edge") for p in ring_root.iter(f"{SVG}path") if "data-edge" in p.attrib} == {
        "a->b",
        "b->c",
        "c->a",
        "b->b",
    }


def test_terminals_are_small_and_round() -> None:
    root = parse(loop_graph())
    groups = {g.get("data-node"): g for g in root.iter(f"{SVG}g") if "data-node" in g.attrib}
    assert "terminal" in (groups["__start__"].get("class") or "")
    boxes = node_boxes(root)
    start_rect = groups["__start__"].find(f"{SVG}rect")
    assert start_rect is not None and float(start_rect.get("rx") or 0) == boxes["__start__"][3] / 2
    assert boxes["__start__"][3] < boxes["diagnose"][3]


def test_labels_ids_and_hrefs_are_escaped() -> None:
    nodes = [
        GraphNode(EVIL, EVIL, badge=EVIL, href='/x" onmouseover="alert(1)'),
        GraphNode("b", "b & c"),
    ]
    markup = graph_svg(nodes, [(EVIL, "b")])
    root = parse(markup)
    assert "<script>" not in str(markup)
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    link = next(root.iter(f"{SVG}a"))
    assert link.get("href") == '/x" onmouseover="alert(1)' and "onmouseover" not in link.attrib
    assert {g.get("data-node") for g in root.iter(f"{SVG}g") if "data-node" in g.attrib} == {EVIL, "b"}


def test_same_input_same_svg_and_empty_input() -> None:
    assert str(loop_graph()) == str(loop_graph())
    assert str(loop_graph("right")) != str(loop_graph())
    empty = parse(graph_svg([], [("a", "b")]))
    assert [t.text for t in empty.iter(f"{SVG}text")] == ["nothing to draw"]
    with pytest.raises(ValueError, match="direction must be"):
        graph_svg([GraphNode("a", "a")], [], direction="up")  # type: ignore[arg-type]


def test_forty_nodes_do_not_overlap() -> None:
    rng = random.Random(19)  # a fixed, messy graph: cycles, long edges, isolated nodes
    nodes = [
        GraphNode(f"svc-{i}", f"service-number-{i}", badge=str(i % 3) if i % 4 == 0 else None)
        for i in range(40)
    ]
    edges = [(f"svc-{rng.randrange(40)}", f"svc-{rng.randrange(40)}") for _ in range(70)]
    root = parse(graph_svg(nodes, edges))
    boxes = list(node_boxes(root).values())
    assert len(boxes) == 40
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
            assert apart, "two node boxes overlap"
    _, _, width, height = (float(v) for v in (root.get("viewBox") or "").split())
    assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in boxes)


def test_a_long_badge_stays_inside_its_box() -> None:
    root = parse(graph_svg([GraphNode("db", "db", badge="26 MiB / 64 MiB")], []))
    group = next(g for g in root.iter(f"{SVG}g") if g.get("data-node") == "db")
    box, pill = (r for r in group.iter(f"{SVG}rect"))
    assert float(pill.get("x") or 0) >= float(box.get("x") or 0)
    pill_right = float(pill.get("x") or 0) + float(pill.get("width") or 0)
    assert pill_right <= float(box.get("x") or 0) + float(box.get("width") or 0)
