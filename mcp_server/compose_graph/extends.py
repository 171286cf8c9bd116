"""`extends` within the same file: a service inherits another service's settings.

Compose merges the base service into the extending one; here only the fields the graph uses
are merged, with Compose's outcome: dependencies are combined (the extending service's own
declaration wins for the same service), environment mappings are merged (own keys win),
single values (image, command, memory limit…) are taken from the extending service when it
sets them, health checks are merged key by key. Chains (a extends b extends c) work; a loop
or an unknown base is an error. `extends: {file: other.yml}` is left alone (graph.findings
reports it as not analysed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mcp_server.compose_graph.errors import ComposeStructureError
from mcp_server.compose_graph.loader import Document

if TYPE_CHECKING:
    from mcp_server.compose_graph.model import ExplicitDependency, Service


def _merge_dependencies(base: Service, own: Service) -> list[ExplicitDependency]:
    """depends_on entries first (own, then base's others), then links/volumes_from/… likewise."""
    merged: list[ExplicitDependency] = []
    for declared_by_depends_on in (True, False):
        mine = [d for d in own.dependencies if (d.via == "depends_on") == declared_by_depends_on]
        taken = {d.service for d in mine}
        inherited = [
            d
            for d in base.dependencies
            if (d.via == "depends_on") == declared_by_depends_on and d.service not in taken
        ]
        merged.extend(mine + inherited)
    return merged


def _merge(base: Service, own: Service) -> Service:
    environment = {**base.environment, **own.environment}
    from_files = (base.env_file_keys - set(own.environment)) | own.env_file_keys
    healthcheck = own.healthcheck
    if base.healthcheck is not None:
        healthcheck = {**base.healthcheck, **(own.healthcheck or {})}
    return replace(
        own,
        image=own.image if own.image is not None else base.image,
        has_build=own.has_build or base.has_build,
        dependencies=_merge_dependencies(base, own),
        environment=environment,
        env_file_keys=frozenset(from_files),
        command=own.command or base.command,
        entrypoint=own.entrypoint or base.entrypoint,
        healthcheck=healthcheck,
        memory_limit=own.memory_limit if own.memory_limit is not None else base.memory_limit,
        profiles=own.profiles or base.profiles,
        network_aliases=list(dict.fromkeys([*own.network_aliases, *base.network_aliases])),
        missing_env_files=[*own.missing_env_files, *base.missing_env_files],
        extends=None,
    )


def resolve_extends(services: dict[str, Service], doc: Document) -> dict[str, Service]:
    """Services with same-file `extends` replaced by their merged form (file order kept).

    Iterative (a chain of a thousand `extends` must not hit Python's recursion limit): walk from
    each service down its chain to a resolved or base service, then merge back up.
    """
    resolved: dict[str, Service] = {}
    for start in services:
        chain = [start]  # the services being resolved, outermost first
        position = {start: 0}
        name = start
        while name not in resolved:
            svc = services[name]
            if svc.extends is None or svc.extends_file is not None:
                resolved[name] = svc
                break
            line = doc.line(("services", name, "extends"))
            base = svc.extends
            if base in position:
                loop = " -> ".join([*chain[position[base] :], base])
                raise ComposeStructureError(f"extends loop: {loop}", line)
            if base not in services:
                raise ComposeStructureError(f'service "{name}" extends undefined service "{base}"', line)
            position[base] = len(chain)
            chain.append(base)
            name = base
        for i in range(len(chain) - 2, -1, -1):
            resolved[chain[i]] = _merge(resolved[chain[i + 1]], services[chain[i]])
    return {name: resolved[name] for name in services}
