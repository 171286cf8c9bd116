"""Dependency graph of a Docker Compose file: start order, blast radius, upstream, kinds, findings.

    from mcp_server.compose_graph import ComposeGraph
    graph = ComposeGraph.from_file("docker-compose.yml")        # reads ./.env like Compose
    graph.start_order()            # ["db", "redis", "api", "web"]
    graph.blast_radius("db")       # ["api", "web"]: who breaks when db breaks
    graph.upstream("web")          # ["db", "redis", "api"]: check these first
    graph.implicit_dependencies("api")   # DATABASE_URL=postgres://…@db… without depends_on
    graph.kinds()["db"].kind       # "database"
    graph.findings()               # missing memory limits / health checks …

Variables: `from_file` reads `.env` next to the file like Compose; `from_text(text,
env_file_text=..., env=...)` takes them directly; `read_template(toml).env_file_text()` rebuilds
the `.env` Dokploy writes for one of its templates.

Every error is a ComposeError with `.line` (1-based) and a one-line message.
"""

from mcp_server.compose_graph.classify import KINDS, Classification, classify_image
from mcp_server.compose_graph.dokploy_template import DokployTemplate, TemplateError, read_template
from mcp_server.compose_graph.errors import (
    ComposeError,
    ComposeStructureError,
    ComposeYAMLError,
    DependencyCycleError,
    EnvFileError,
    InterpolationError,
    UnknownServiceError,
)
from mcp_server.compose_graph.graph import ComposeGraph, Finding, ServiceNotFoundError
from mcp_server.compose_graph.implicit import ImplicitDependency
from mcp_server.compose_graph.model import ComposeProject, ExplicitDependency, Service, parse_compose

__all__ = [
    "KINDS",
    "Classification",
    "ComposeError",
    "ComposeGraph",
    "ComposeProject",
    "ComposeStructureError",
    "ComposeYAMLError",
    "DependencyCycleError",
    "DokployTemplate",
    "EnvFileError",
    "ExplicitDependency",
    "Finding",
    "ImplicitDependency",
    "InterpolationError",
    "Service",
    "ServiceNotFoundError",
    "TemplateError",
    "UnknownServiceError",
    "classify_image",
    "parse_compose",
    "read_template",
]
