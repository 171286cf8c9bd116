"""What the graph says about a compose file, as a pydantic model (JSON) and as readable text.

`build_report(graph)` answers everything at once. JSON shape (stable keys first):

    {"services": {"<name>": {"depends_on": [...], "implicit": [{"service", "evidence", "source"}],
                             "dependants": [...], "blast_radius": [...], "upstream": [...],
                             "explicit": [{"service", "via", "condition", "required", "restart", "line"}],
                             "kind", "product", "image", "profiles", "line"}},
     "start_order": [...], "findings": [{"code", "severity", "service", "message", "line"}]}

`dependants` are the services that depend on this one *directly*, explicitly or implicitly;
`blast_radius` is the transitive closure of that; `upstream` is everything this one needs,
transitively, in start order.
"""

from __future__ import annotations

from pydantic import BaseModel

from mcp_server.compose_graph.graph import ComposeGraph


class ImplicitEntry(BaseModel):
    service: str
    evidence: str
    source: str


class ExplicitEntry(BaseModel):
    service: str
    via: str
    condition: str
    required: bool
    restart: bool
    line: int | None


class ServiceReport(BaseModel):
    depends_on: list[str]
    implicit: list[ImplicitEntry]
    dependants: list[str]
    blast_radius: list[str]
    upstream: list[str]
    explicit: list[ExplicitEntry]
    kind: str
    product: str | None
    image: str | None
    profiles: list[str]
    line: int | None


class FindingEntry(BaseModel):
    code: str
    severity: str
    service: str | None
    message: str
    line: int | None


class GraphReport(BaseModel):
    services: dict[str, ServiceReport]
    start_order: list[str]
    findings: list[FindingEntry]


def build_report(graph: ComposeGraph) -> GraphReport:
    """Every answer for every service. Raises DependencyCycleError when there is no start order."""
    start_order = graph.start_order()
    kinds = graph.kinds()
    services = {}
    for name in graph.services:
        svc = graph.project.services[name]
        services[name] = ServiceReport(
            depends_on=graph.depends_on(name),
            implicit=[
                ImplicitEntry(service=d.service, evidence=d.evidence, source=d.source)
                for d in graph.implicit_dependencies(name)
            ],
            dependants=graph.dependants(name),
            blast_radius=graph.blast_radius(name),
            upstream=graph.upstream(name),
            explicit=[
                ExplicitEntry(
                    service=d.service,
                    via=d.via,
                    condition=d.condition,
                    required=d.required,
                    restart=d.restart,
                    line=d.line,
                )
                for d in graph.explicit_dependencies(name)
            ],
            kind=kinds[name].kind,
            product=kinds[name].product,
            image=svc.image,
            profiles=svc.profiles,
            line=svc.line,
        )
    findings = [
        FindingEntry(code=f.code, severity=f.severity, service=f.service, message=f.message, line=f.line)
        for f in graph.findings()
    ]
    return GraphReport(services=services, start_order=start_order, findings=findings)


def _names(items: list[str]) -> str:
    return ", ".join(items) if items else "-"


def render_text(report: GraphReport, title: str) -> str:
    """A summary for people: start order, then per service its deps, users and blast radius."""
    out = [f"{title}: {len(report.services)} service(s)", f"Start order: {_names(report.start_order)}", ""]
    for name, svc in report.services.items():
        what = svc.kind if svc.product is None else f"{svc.kind}: {svc.product}"
        image = f", image {svc.image}" if svc.image else ", built locally"
        out.append(f"{name} ({what}{image})")
        explicit = [
            e.service if e.condition == "service_started" else f"{e.service} ({e.condition})"
            for e in svc.explicit
        ]
        out.append(f"  depends on:   {_names(explicit)}")
        evidence: dict[str, list[str]] = {}
        for imp in svc.implicit:
            evidence.setdefault(imp.service, []).append(f"{imp.source} {imp.evidence}")
        for used, places in evidence.items():
            out.append(f"  implicit:     {used} (named in {'; '.join(places)})")
        out.append(f"  used by:      {_names(svc.dependants)}")
        out.append(f"  blast radius: {_names(svc.blast_radius)}")
        out.append(f"  upstream:     {_names(svc.upstream)}")
    out.append("")
    out.append(f"Findings: {len(report.findings)}")
    for finding in report.findings:
        where = f" (line {finding.line})" if finding.line is not None else ""
        out.append(f"  {finding.severity:<7} {finding.code}: {finding.message}{where}")
    return "\n".join(out)
