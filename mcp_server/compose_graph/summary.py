"""A bounded answer about a compose graph, for callers whose result must stay small (MCP tools).

`build_report` (report.py) answers everything for every service: on a 2,000-service file whose
services form a chain, every blast radius holds up to 1,999 names, so that answer grows with the
square of the file. `summarize` answers the same questions for at most `max_services` services,
cuts every list at `max_names`, keeps the whole answer under about `budget_bytes`, and says in
`omitted` what it left out and how to ask for it (one service with `focus=`). Its cost is
linear in the file: the graph is built once, and only the services shown are walked.

    summary = summarize(graph)                 # the first services in start order
    summary = summarize(graph, focus="db")     # db, then what it needs, then what needs it
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from mcp_server.compose_graph.graph import ComposeGraph

MAX_SERVICES = 40
MAX_NAMES = 25
MAX_START_ORDER = 200
MAX_FINDINGS = 40
BUDGET_BYTES = 96 * 1024


@dataclass
class ServiceDetail:
    """One service: lists are cut at `max_names`; the totals say how long they really are."""

    name: str
    kind: str
    depends_on: list[str]
    implicit: list[str]
    blast_radius: list[str]
    upstream: list[str]
    blast_radius_total: int
    upstream_total: int

    def size(self) -> int:
        """Bytes this entry takes in a JSON answer (close enough to budget with)."""
        return len(json.dumps(self.__dict__))


@dataclass
class GraphSummary:
    services_total: int
    start_order: list[str]
    services: list[ServiceDetail]
    findings: list[str]
    omitted: list[str] = field(default_factory=list)


def _detail(graph: ComposeGraph, name: str, max_names: int) -> tuple[ServiceDetail, list[str]]:
    """The entry for one service, and a note for each list cut other than blast radius/upstream."""
    depends_on = [d.service for d in graph.explicit_dependencies(name)]
    implicit = [f"{d.service} ({d.evidence})" for d in graph.implicit_dependencies(name)]
    blast = graph.blast_radius(name)
    upstream = graph.upstream(name)
    notes = [
        f"{name}: {what} shows {max_names} of {len(items):,}"
        for what, items in (("depends_on", depends_on), ("implicit", implicit))
        if len(items) > max_names
    ]
    detail = ServiceDetail(
        name=name,
        kind=graph.kind(name).kind,
        depends_on=depends_on[:max_names],
        implicit=implicit[:max_names],
        blast_radius=blast[:max_names],
        upstream=upstream[:max_names],
        blast_radius_total=len(blast),
        upstream_total=len(upstream),
    )
    return detail, notes


def _candidates(graph: ComposeGraph, start_order: list[str], focus: str | None) -> list[str]:
    """Services in the order they are worth describing: the focus and its neighbourhood, or the
    start order (roots first: the databases and caches everything else needs)."""
    if focus is None:
        return start_order
    seen: dict[str, None] = {focus: None}
    for name in [*graph.upstream(focus), *graph.dependants(focus), *graph.blast_radius(focus)]:
        seen.setdefault(name, None)
    return list(seen)


def _findings(graph: ComposeGraph, max_findings: int, budget: int) -> tuple[list[str], list[str]]:
    every = graph.findings()
    shown: list[str] = []
    used = 0
    for finding in every:
        line = f"{finding.service or 'file'}: {finding.message}"
        if len(shown) >= max_findings or used + len(line) > budget:
            break
        shown.append(line)
        used += len(line) + 4
    notes = []
    if len(shown) < len(every):
        left = Counter(f.code for f in every[len(shown) :])
        counts = ", ".join(f"{code} {count:,}" for code, count in left.most_common())
        notes.append(f"findings: {len(every) - len(shown):,} more not shown ({counts})")
    return shown, notes


def summarize(
    graph: ComposeGraph,
    focus: str | None = None,
    *,
    max_services: int = MAX_SERVICES,
    max_names: int = MAX_NAMES,
    budget_bytes: int = BUDGET_BYTES,
) -> GraphSummary:
    """Start order, per-service details and findings, bounded (see the module docstring).

    Raises DependencyCycleError when there is no start order, ServiceNotFoundError for an
    unknown `focus`.
    """
    if focus is not None:
        graph.dependencies(focus)  # ServiceNotFoundError naming the services, before any work
    order = graph.start_order()
    omitted: list[str] = []
    start_order: list[str] = []
    used = 0
    for name in order[:MAX_START_ORDER]:
        if used + len(name) > budget_bytes // 4:
            break
        start_order.append(name)
        used += len(name) + 4
    if len(start_order) < len(order):
        omitted.append(f"start_order: shows the first {len(start_order):,} of {len(order):,} services")

    findings, notes = _findings(graph, MAX_FINDINGS, budget_bytes // 4)
    used += sum(len(line) + 4 for line in findings)
    omitted += notes

    candidates = _candidates(graph, order, focus)
    details: list[ServiceDetail] = []
    for name in candidates[:max_services]:
        detail, notes = _detail(graph, name, max_names)
        if details and used + detail.size() > budget_bytes:
            break
        details.append(detail)
        omitted += notes
        used += detail.size()
    if any(d.blast_radius_total > len(d.blast_radius) or d.upstream_total > len(d.upstream) for d in details):
        omitted.append(
            f"blast_radius and upstream show at most {max_names} names each; "
            "blast_radius_total and upstream_total count them all"
        )
    left_out = len(graph.services) - len(details)
    if left_out:
        shown = (
            f"{focus}, then what it needs, then what needs it" if focus else "the first ones in start order"
        )
        omitted.append(
            f"services: {left_out:,} of {len(graph.services):,} not described (shown: {shown}); "
            "ask with service=<name> for one service, what it needs and what needs it"
        )
    return GraphSummary(
        services_total=len(graph.services),
        start_order=start_order,
        services=details,
        findings=findings,
        omitted=omitted,
    )
