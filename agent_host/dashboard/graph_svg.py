"""A layered drawing of a directed graph as an inline SVG string (no JavaScript, no layout library).

Used for a compose's service dependencies and for the agent's LangGraph graph. The layout is the
classic layered one, kept small:
1. cycles: a depth-first search marks back-edges (LangGraph loops such as verify → rollback → verify);
   they are drawn, but ignored when choosing layers;
2. layers: a node's layer is the longest path to it from a source, so it always sits after its
   predecessors;
3. edges that skip layers get invisible waypoints, one per skipped layer, so they bend around nodes;
4. order in a layer: a few barycenter sweeps, keeping the order with the fewest crossings;
5. position in a layer: each node is pulled toward its neighbours, keeping a minimum gap (isotonic
   regression), which straightens most edges.
Same input → same svg, byte for byte. Texts are escaped; `data-*` attributes are the hooks tests use.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

Tone = Literal["ok", "warn", "bad", "idle"]
TERMINALS = ("__start__", "__end__")
_FONT = 'font-family="system-ui, sans-serif"'
# Inline colours (fill, stroke) so the svg reads without the stylesheet; the CSS classes override them.
_TONES: dict[str, tuple[str, str]] = {
    "ok": ("#e6f4ea", "#2e7d32"),
    "warn": ("#fff4e0", "#b26a00"),
    "bad": ("#fde7e7", "#c62828"),
    "idle": ("#f1f3f4", "#5f6368"),
}
_MAX_LABEL = 28  # longer labels are cut with "…"; the full text stays in the node's tooltip
_MARGIN = 24
_DUMMY_SIZE = 10.0  # how much room along a layer a waypoint of a layer-skipping edge takes
_LOOP = 26.0  # how far a self-loop sticks out of its node


@dataclass(frozen=True)
class GraphNode:
    """One box of the drawing. `badge` is a small text on its corner (e.g. "2" open incidents)."""

    id: str
    label: str
    badge: str | None = None
    tone: Tone = "idle"
    href: str | None = None


def _n(value: float) -> str:
    """A coordinate as short, stable text: at most one decimal, no "-0"."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _back_edges(count: int, flow: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """Edges that close a cycle, found by an iterative depth-first search from the sources first."""
    successors: list[list[int]] = [[] for _ in range(count)]
    has_incoming = [False] * count
    for a, b in flow:
        successors[a].append(b)
        has_incoming[b] = True
    state = [0] * count  # 0 not seen, 1 on the current path, 2 finished
    back: set[tuple[int, int]] = set()
    roots = [v for v in range(count) if not has_incoming[v]] + list(range(count))
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(successors[root]))]
        while stack:
            vertex, pending = stack[-1]
            target = next(pending, None)
            if target is None:
                state[vertex] = 2
                stack.pop()
            elif state[target] == 1:
                back.add((vertex, target))
            elif state[target] == 0:
                state[target] = 1
                stack.append((target, iter(successors[target])))
    return back


def _longest_path_ranks(count: int, dag: Sequence[tuple[int, int]]) -> list[int]:
    """Each vertex's layer: the number of edges on the longest path reaching it (sources are 0)."""
    successors: list[list[int]] = [[] for _ in range(count)]
    incoming = [0] * count
    for a, b in dag:
        successors[a].append(b)
        incoming[b] += 1
    rank = [0] * count
    ready = [v for v in range(count) if incoming[v] == 0]
    for vertex in ready:  # `ready` grows while we walk it: a topological order
        for target in successors[vertex]:
            rank[target] = max(rank[target], rank[vertex] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    return rank


def _crossings(layers: list[list[int]], below: list[list[int]]) -> int:
    """How many pairs of edges cross between each two neighbouring layers."""
    total = 0
    for upper, lower in itertools.pairwise(layers):
        where = {v: i for i, v in enumerate(lower)}
        ends = [(i, where[w]) for i, v in enumerate(upper) for w in below[v]]
        total += sum(1 for k, (a, b) in enumerate(ends) for c, d in ends[k + 1 :] if (a - c) * (b - d) < 0)
    return total


def _order_layers(layers: list[list[int]], above: list[list[int]], below: list[list[int]]) -> list[list[int]]:
    """Reorder each layer by the mean position of its neighbours, sweeping down then up, keeping the best."""
    current = [list(layer) for layer in layers]
    best, best_count = [list(layer) for layer in current], _crossings(current, below)
    for sweep in range(12):
        downward = sweep % 2 == 0
        indices = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for r in indices:
            neighbour_layer = current[r - 1] if downward else current[r + 1]
            where = {v: i for i, v in enumerate(neighbour_layer)}

            def barycenter(
                item: tuple[int, int], where: dict[int, int] = where, downward: bool = downward
            ) -> tuple[float, int]:
                position, vertex = item
                linked = above[vertex] if downward else below[vertex]
                if not linked:
                    return float(position), position
                return sum(where[u] for u in linked) / len(linked), position

            current[r] = [v for _, v in sorted(enumerate(current[r]), key=barycenter)]
        count = _crossings(current, below)
        if count < best_count:
            best, best_count = [list(layer) for layer in current], count
    return best


def _place(targets: Sequence[float], gaps: Sequence[float]) -> list[float]:
    """Positions closest to `targets` (least squares) keeping position[i] - position[i-1] >= gaps[i]."""
    offsets, total = [], 0.0
    for i, gap in enumerate(gaps):
        total += gap if i else 0.0
        offsets.append(total)
    blocks: list[list[float]] = []  # [sum, count] of pooled shifted targets (pool adjacent violators)
    for target, offset in zip(targets, offsets, strict=True):
        blocks.append([target - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            merged = blocks.pop()
            blocks[-1][0] += merged[0]
            blocks[-1][1] += merged[1]
    shifted = [s / c for s, c in blocks for _ in range(int(c))]
    return [value + offset for value, offset in zip(shifted, offsets, strict=True)]


def _node_size(node: GraphNode) -> tuple[float, float]:
    label = _short(node.label)
    if node.id in TERMINALS:
        return max(48.0, 7.0 * len(label) + 20), 26.0
    pill = 7.0 * len(_short(node.badge)) + 10 if node.badge is not None else 0.0
    # the badge sits inside the box's top-right corner: the box is at least as wide as it
    return min(260.0, max(72.0, 7.2 * len(label) + 28, pill + 16)), 36.0


def _short(label: str) -> str:
    return label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"


def _empty(direction: str) -> Markup:
    return Markup(  # noqa: S704 - built here; every outside text in it went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 60" width="100%" height="60" '
        f'role="img" data-graph="{direction}"><text x="160" y="34" text-anchor="middle" font-size="13" '
        f'fill="#5f6368" {_FONT} class="empty">nothing to draw</text></svg>'
    )


def graph_svg(
    nodes: Sequence[GraphNode],
    edges: Sequence[tuple[str, str]],
    *,
    direction: Literal["down", "right"] = "down",
) -> Markup:
    """Draw the graph in layers, top to bottom ("down") or left to right ("right").

    Edges whose ends are not among `nodes` are skipped; a repeated node id keeps its first entry.
    Back-edges of cycles are dashed. The svg is as wide as its container and never taller than the
    drawing's own size.
    """
    if direction not in ("down", "right"):
        raise ValueError(f"direction must be 'down' or 'right', got {direction!r}")
    unique: dict[str, GraphNode] = {}
    for node in nodes:
        unique.setdefault(node.id, node)
    real = list(unique.values())
    if not real:
        return _empty(direction)
    index = {node.id: i for i, node in enumerate(real)}
    links: list[tuple[int, int]] = []
    for source, target in edges:
        if source in index and target in index and (index[source], index[target]) not in links:
            links.append((index[source], index[target]))
    looped = sorted({a for a, b in links if a == b})
    flow = [(a, b) for a, b in links if a != b]
    back = _back_edges(len(real), flow)
    rank = _longest_path_ranks(len(real), [e for e in flow if e not in back])

    # Every edge runs from a lower to a higher layer once back-edges are turned around; edges that
    # skip layers get one waypoint ("dummy" vertex) per skipped layer.
    vertex_rank = list(rank)
    chains: list[list[int]] = []
    for a, b in flow:
        low, high = (b, a) if (a, b) in back else (a, b)
        chain = [low]
        for r in range(rank[low] + 1, rank[high]):
            chain.append(len(vertex_rank))
            vertex_rank.append(r)
        chains.append([*chain, high])
    above: list[list[int]] = [[] for _ in vertex_rank]
    below: list[list[int]] = [[] for _ in vertex_rank]
    for chain in chains:
        for u, v in itertools.pairwise(chain):
            below[u].append(v)
            above[v].append(u)
    layers: list[list[int]] = [[] for _ in range(max(vertex_rank) + 1)]
    for vertex, r in enumerate(vertex_rank):
        layers[r].append(vertex)
    layers = _order_layers(layers, above, below)

    down = direction == "down"
    sizes = [_node_size(node) for node in real]
    # Along a layer ("order" axis) and across layers ("rank" axis), for either direction.
    order_size = [(w if down else h) for w, h in sizes] + [_DUMMY_SIZE] * (len(vertex_rank) - len(real))
    rank_size = [(h if down else w) for w, h in sizes] + [0.0] * (len(vertex_rank) - len(real))
    loop_room = [(_LOOP if v in looped else 0.0) for v in range(len(vertex_rank))]
    gap, rank_gap = (26.0, 54.0) if down else (18.0, 64.0)

    position = [0.0] * len(vertex_rank)
    for layer in layers:
        gaps = [0.0] + [
            (order_size[u] + order_size[v]) / 2 + gap + loop_room[u] for u, v in itertools.pairwise(layer)
        ]
        placed = _place([0.0] * len(layer), gaps)
        for vertex, value in zip(layer, placed, strict=True):
            position[vertex] = value
    for sweep in range(8):  # pull each vertex toward its neighbours; the last sweep looks both ways
        for r in range(len(layers)) if sweep % 2 == 0 else range(len(layers) - 1, -1, -1):
            layer = layers[r]
            targets = []
            for vertex in layer:
                linked = (
                    above[vertex] + below[vertex]
                    if sweep == 7
                    else (above if sweep % 2 == 0 else below)[vertex]
                )
                targets.append(sum(position[u] for u in linked) / len(linked) if linked else position[vertex])
            gaps = [0.0] + [
                (order_size[u] + order_size[v]) / 2 + gap + loop_room[u] for u, v in itertools.pairwise(layer)
            ]
            for vertex, value in zip(layer, _place(targets, gaps), strict=True):
                position[vertex] = value
    shift = _MARGIN - min(position[v] - order_size[v] / 2 for v in range(len(vertex_rank)))
    position = [p + shift for p in position]
    order_extent = (
        max(position[v] + order_size[v] / 2 + loop_room[v] for v in range(len(vertex_rank))) + _MARGIN
    )

    thickness = [max([rank_size[v] for v in layer] + [_DUMMY_SIZE]) for layer in layers]
    centre: list[float] = []
    for r, size in enumerate(thickness):
        centre.append(
            _MARGIN + size / 2 if r == 0 else centre[-1] + thickness[r - 1] / 2 + rank_gap + size / 2
        )
    rank_extent = centre[-1] + thickness[-1] / 2 + _MARGIN

    def xy(order: float, across: float) -> tuple[float, float]:
        return (order, across) if down else (across, order)

    def port(vertex: int, neighbour: int, chain_index: int, outgoing: bool) -> float:
        """Where on its side an edge leaves or enters a box, spread so parallel edges stay apart."""
        if vertex >= len(real):
            return position[vertex]
        linked = [
            (position[w], i)
            for i, chain in enumerate(chains)
            for u, w in ([(chain[0], chain[1])] if outgoing else [(chain[-1], chain[-2])])
            if u == vertex
        ]
        linked.sort()
        spot = linked.index((position[neighbour], chain_index))
        spacing = min(12.0, (order_size[vertex] - 16) / max(len(linked) - 1, 1))
        return position[vertex] + (spot - (len(linked) - 1) / 2) * spacing

    digest = hashlib.sha256(repr((real, links, direction)).encode()).hexdigest()[:10]
    arrow = f"ig-arrow-{digest}"
    width, height = xy(order_extent, rank_extent)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
        f'height="{_n(height)}" preserveAspectRatio="xMidYMin meet" role="img" data-graph="{direction}">'
        f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#80868b"/></marker></defs>'
    ]
    for chain_index, ((a, b), chain) in enumerate(zip(flow, chains, strict=True)):
        low, high = chain[0], chain[-1]
        points = [(port(low, chain[1], chain_index, True), centre[rank[low]] + rank_size[low] / 2)]
        points += [(position[v], centre[vertex_rank[v]]) for v in chain[1:-1]]
        points.append((port(high, chain[-2], chain_index, False), centre[rank[high]] - rank_size[high] / 2))
        reverse = (a, b) in back
        if reverse:
            points.reverse()
        x0, y0 = xy(*points[0])
        path = [f"M {_n(x0)} {_n(y0)}"]
        for (o1, r1), (o2, r2) in itertools.pairwise(points):
            bend = (r2 - r1) / 2  # tangents along the rank axis: smooth curves through the waypoints
            coords = (*xy(o1, r1 + bend), *xy(o2, r2 - bend), *xy(o2, r2))
            path.append("C " + " ".join(_n(c) for c in coords))
        name = escape(f"{real[a].id}->{real[b].id}")
        dash = ' stroke-dasharray="5 4"' if reverse else ""
        out.append(
            f'<path class="edge{" back" if reverse else ""}" data-edge="{name}" d="{" ".join(path)}" fill="none" '
            f'stroke="#80868b" stroke-width="1.4"{dash} marker-end="url(#{arrow})">'
            f"<title>{escape(real[a].label)} → {escape(real[b].label)}</title></path>"
        )
    for vertex in looped:
        side, across = position[vertex] + order_size[vertex] / 2, centre[rank[vertex]]
        loop = (
            *xy(side, across - 6),
            *xy(side + _LOOP, across - 16),
            *xy(side + _LOOP, across + 16),
            *xy(side, across + 6),
        )
        name = escape(f"{real[vertex].id}->{real[vertex].id}")
        out.append(
            f'<path class="edge loop" data-edge="{name}" d="M {_n(loop[0])} {_n(loop[1])} C '
            f'{" ".join(_n(c) for c in loop[2:])}" fill="none" stroke="#80868b" stroke-width="1.4" '
            f'marker-end="url(#{arrow})"><title>{escape(real[vertex].label)} → itself</title></path>'
        )
    for vertex, node in enumerate(real):
        out.append(_node_markup(node, *xy(position[vertex], centre[rank[vertex]]), *sizes[vertex]))
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - built here; every outside text in it went through escape()


def _node_markup(node: GraphNode, cx: float, cy: float, width: float, height: float) -> str:
    """A node's group: box, label, tooltip, optional badge, optionally wrapped in a link."""
    tone = node.tone if node.tone in _TONES else "idle"
    fill, stroke = _TONES[tone]
    terminal = node.id in TERMINALS
    classes = f"node{' terminal' if terminal else ''} tone-{tone}"
    radius = height / 2 if terminal else 6
    parts = [
        f'<g data-node="{escape(node.id)}" class="{classes}"><title>{escape(node.label)}</title>'
        f'<rect x="{_n(cx - width / 2)}" y="{_n(cy - height / 2)}" width="{_n(width)}" height="{_n(height)}" '
        f'rx="{_n(radius)}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        f'<text class="label" x="{_n(cx)}" y="{_n(cy)}" dy="0.35em" text-anchor="middle" '
        f'font-size="{11 if terminal else 12}" fill="#202124" {_FONT}>{escape(_short(node.label))}</text>'
    ]
    if node.badge is not None:
        badge = _short(node.badge)
        pill = 7.0 * len(badge) + 10
        bx, by = cx + width / 2 - pill / 2 - 2, cy - height / 2
        parts.append(
            f'<rect class="count-bg" x="{_n(bx - pill / 2)}" y="{_n(by - 8)}" width="{_n(pill)}" height="16" '
            f'rx="8" fill="#ffffff" stroke="{stroke}" stroke-width="1"/>'
            f'<text class="count" x="{_n(bx)}" y="{_n(by)}" dy="0.35em" text-anchor="middle" font-size="10" '
            f'font-weight="600" fill="{stroke}" {_FONT}>{escape(badge)}</text>'
        )
    parts.append("</g>")
    markup = "".join(parts)
    return f'<a href="{escape(node.href)}">{markup}</a>' if node.href else markup
