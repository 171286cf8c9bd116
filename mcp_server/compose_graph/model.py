"""The parts of a compose file the dependency graph needs, read from loaded YAML data.

`parse_compose(text, env=..., env_file_text=...)` is the entry point: YAML + interpolation
(loader.py), then this module checks the shape and extracts, per service, its explicit
dependencies (with the line of each reference), environment, command, image, health check and
memory limit. A reference to a service that does not exist is an UnknownServiceError naming
the line, as `docker compose config` would refuse it too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcp_server.compose_graph.dotenv import parse_env_file
from mcp_server.compose_graph.errors import ComposeStructureError, EnvFileError, UnknownServiceError
from mcp_server.compose_graph.extends import resolve_extends
from mcp_server.compose_graph.loader import Document, Path, go_format, load_yaml

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
# Fields whose value `service:<name>` shares a namespace with (so starts after) that service.
NAMESPACE_FIELDS = ("network_mode", "ipc", "pid", "uts")

# Reads a service's env_file by the path written in the compose file; None when it does not exist.
EnvFileReader = Callable[[str], str | None]


@dataclass(frozen=True)
class ExplicitDependency:
    """One declared dependency.

    `via` says how: depends_on, links, volumes_from, network_mode, ipc, pid or uts.
    """

    service: str
    via: str
    condition: str = "service_started"
    required: bool = True
    restart: bool = False
    line: int | None = None


@dataclass
class Service:
    """One service of the compose file, reduced to what the graph and findings use."""

    name: str
    line: int | None
    image: str | None
    has_build: bool
    container_name: str | None
    dependencies: list[ExplicitDependency]
    environment: dict[str, str | None]
    command: list[str]
    entrypoint: list[str]
    healthcheck: dict[str, Any] | None
    memory_limit: str | None
    profiles: list[str]
    network_aliases: list[str]
    # `extends`: the base service's name, and its file when it is another file
    extends: str | None
    extends_file: str | None = None
    missing_env_files: list[tuple[str, int | None]] = field(default_factory=list)
    # environment keys whose value comes only from an env_file (often a shared .env)
    env_file_keys: frozenset[str] = frozenset()


@dataclass
class ComposeProject:
    """A parsed compose file. `services` keeps the file order (used to break ties)."""

    services: dict[str, Service]
    unset_variables: list[tuple[str, int]] = field(default_factory=list)

    def effective_dependencies(self, name: str) -> list[ExplicitDependency]:
        """One dependency per service, the first declaration winning: what Compose keeps.

        (`depends_on: [db]` plus `links: [db]` is one dependency on db, with depends_on's settings.)
        """
        kept: dict[str, ExplicitDependency] = {}
        for dep in self.services[name].dependencies:
            kept.setdefault(dep.service, dep)
        return list(kept.values())

    def dependency_names(self, name: str) -> list[str]:
        """Explicit dependencies of a service, by name, first mention first, without repeats."""
        return list(dict.fromkeys(dep.service for dep in self.services[name].dependencies))


def _fail(message: str, doc: Document, path: Path) -> ComposeStructureError:
    return ComposeStructureError(message, doc.line(path))


def _as_str(value: Any) -> str:
    """Scalar to the string Compose would use (true/false lowercase, Go number formatting)."""
    return go_format(value)


def _string_list(value: Any, doc: Document, path: Path, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(v, dict | list) or v is None for v in value):
        raise _fail(f"{what} must be a list of strings", doc, path)
    return [_as_str(v) for v in value]


def _bool(value: Any, doc: Document, path: Path, what: str) -> bool:
    """A YAML boolean; Compose's schema refuses strings here, even "true" from a variable."""
    if isinstance(value, bool):
        return value
    raise _fail(f"{what} must be true or false, not {value!r}", doc, path)


def _depends_on(raw: Any, doc: Document, path: Path) -> list[ExplicitDependency]:
    if raw is None:
        return []
    if isinstance(raw, list):
        names = _string_list(raw, doc, path, "depends_on")
        listed: set[str] = set()
        for i, name in enumerate(names):
            if name in listed:
                raise _fail(f"depends_on lists {name!r} twice", doc, (*path, i))
            listed.add(name)
        return [ExplicitDependency(n, "depends_on", line=doc.line((*path, i))) for i, n in enumerate(names)]
    if not isinstance(raw, dict):
        raise _fail("depends_on must be a list of service names or a mapping", doc, path)
    deps = []
    for name, spec in raw.items():
        where = (*path, name)
        if not isinstance(spec, dict):  # Compose rejects `db:` with no settings too
            raise _fail(f"depends_on.{name} must be a mapping (condition, required, restart)", doc, where)
        unknown = set(spec) - {"condition", "required", "restart"}
        if unknown:
            raise _fail(f"depends_on.{name}: unknown key(s) {', '.join(sorted(unknown))}", doc, where)
        if "condition" not in spec:  # required by the Compose schema in the mapping form
            raise _fail(f"depends_on.{name} needs a condition ({', '.join(CONDITIONS)})", doc, where)
        condition = spec["condition"]
        if condition not in CONDITIONS:
            raise _fail(
                f"depends_on.{name}.condition must be one of {', '.join(CONDITIONS)}, not {condition!r}",
                doc,
                (*where, "condition"),
            )
        required = _bool(spec.get("required", True), doc, (*where, "required"), f"depends_on.{name}.required")
        restart = _bool(spec.get("restart", False), doc, (*where, "restart"), f"depends_on.{name}.restart")
        deps.append(ExplicitDependency(name, "depends_on", condition, required, restart, doc.line(where)))
    return deps


def _implied_dependencies(svc: dict[str, Any], doc: Document, path: Path) -> list[ExplicitDependency]:
    """links, `service:x` namespaces and volumes_from: Compose turns these into depends_on too.

    Same order and defaults as compose-go's normalisation (links and namespaces restart the
    dependant with the dependency, volumes_from does not), so the first entry per service
    is the one Compose keeps.
    """
    deps = []
    for i, link in enumerate(_string_list(svc.get("links"), doc, (*path, "links"), "links")):
        line = doc.line((*path, "links", i))
        deps.append(ExplicitDependency(link.split(":")[0], "links", restart=True, line=line))
    for key in NAMESPACE_FIELDS:
        value = svc.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            target = value[len("service:") :]
            deps.append(ExplicitDependency(target, key, restart=True, line=doc.line((*path, key))))
    volumes_from = _string_list(svc.get("volumes_from"), doc, (*path, "volumes_from"), "volumes_from")
    for i, spec in enumerate(volumes_from):
        source = spec.split(":")[0]
        if source != "container":  # container:<name> is a plain container, not a service
            deps.append(ExplicitDependency(source, "volumes_from", line=doc.line((*path, "volumes_from", i))))
    return deps


def _env_file_vars(
    raw: Any, env: Mapping[str, str], read: EnvFileReader, doc: Document, path: Path
) -> tuple[dict[str, str], list[tuple[str, int | None]]]:
    """Variables from a service's env_file(s), later files winning; and the required ones not found."""
    if raw is None:
        return {}, []
    items = raw if isinstance(raw, list) else [raw]
    values: dict[str, str] = {}
    missing: list[tuple[str, int | None]] = []
    for i, item in enumerate(items):
        where = (*path, i) if isinstance(raw, list) else path
        if isinstance(item, dict):
            file_path, required = item.get("path"), item.get("required", True)
        else:
            file_path, required = item, True
        if not isinstance(file_path, str):
            raise _fail("env_file must be a path or a list of paths", doc, where)
        text = read(file_path)
        if text is None:
            if required is not False:
                missing.append((file_path, doc.line(where)))
            continue
        try:
            values.update(parse_env_file(text, env))
        except EnvFileError as exc:
            raise exc.with_source(file_path) from None
    return values, missing


def _environment(
    raw: Any, env: Mapping[str, str], file_vars: dict[str, str], doc: Document, path: Path
) -> dict[str, str | None]:
    """env_file values overridden by `environment` (list `K=V` / bare `K`, or mapping).

    A bare key takes its value from the project environment (`.env` + given env), like Compose;
    None when it is not set there either.
    """
    result: dict[str, str | None] = dict(file_vars)
    if raw is None:
        return result
    if isinstance(raw, list):
        for item in _string_list(raw, doc, path, "environment"):
            key, sep, value = item.partition("=")
            result[key] = value if sep else env.get(key)
        return result
    if not isinstance(raw, dict):
        raise _fail("environment must be a list or a mapping", doc, path)
    for key, value in raw.items():
        if isinstance(value, dict | list):
            raise _fail(f"environment.{key} must be a string, number or boolean", doc, (*path, key))
        result[key] = env.get(key) if value is None else _as_str(value)
    return result


def _declared_keys(raw: Any) -> frozenset[str]:
    """Keys the `environment` section itself sets (list or mapping form)."""
    if isinstance(raw, dict):
        return frozenset(raw)
    if isinstance(raw, list):
        return frozenset(str(item).partition("=")[0] for item in raw)
    return frozenset()


def _command(raw: Any, doc: Document, path: Path, what: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    return _string_list(raw, doc, path, what)


def _memory_limit(svc: dict[str, Any]) -> str | None:
    if svc.get("mem_limit") not in (None, ""):
        return _as_str(svc["mem_limit"])
    deploy = svc.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, dict) else None
    limits = resources.get("limits") if isinstance(resources, dict) else None
    memory = limits.get("memory") if isinstance(limits, dict) else None
    return None if memory in (None, "") else _as_str(memory)


def _network_aliases(raw: Any) -> list[str]:
    aliases: list[str] = []
    if isinstance(raw, dict):
        for net in raw.values():
            if isinstance(net, dict) and isinstance(net.get("aliases"), list):
                aliases.extend(_as_str(a) for a in net["aliases"])
    return aliases


def _service(name: str, svc: Any, env: Mapping[str, str], read: EnvFileReader, doc: Document) -> Service:
    path: Path = ("services", name)
    if not isinstance(svc, dict):
        raise _fail(f'service "{name}" must be a mapping', doc, path)
    healthcheck = svc.get("healthcheck")
    if healthcheck is not None and not isinstance(healthcheck, dict):
        raise _fail(f'service "{name}": healthcheck must be a mapping', doc, (*path, "healthcheck"))
    raw_extends = svc.get("extends")
    extends, extends_file = raw_extends, None
    if isinstance(raw_extends, dict):
        extends, extends_file = raw_extends.get("service"), raw_extends.get("file")
    file_vars, missing_files = _env_file_vars(svc.get("env_file"), env, read, doc, (*path, "env_file"))
    return Service(
        name=name,
        line=doc.line(path),
        image=None if svc.get("image") is None else _as_str(svc["image"]),
        has_build=svc.get("build") is not None,
        container_name=None if svc.get("container_name") is None else _as_str(svc["container_name"]),
        dependencies=_depends_on(svc.get("depends_on"), doc, (*path, "depends_on"))
        + _implied_dependencies(svc, doc, path),
        environment=_environment(svc.get("environment"), env, file_vars, doc, (*path, "environment")),
        command=_command(svc.get("command"), doc, (*path, "command"), "command"),
        entrypoint=_command(svc.get("entrypoint"), doc, (*path, "entrypoint"), "entrypoint"),
        healthcheck=healthcheck,
        memory_limit=_memory_limit(svc),
        profiles=_string_list(svc.get("profiles"), doc, (*path, "profiles"), "profiles"),
        network_aliases=_network_aliases(svc.get("networks")),
        extends=None if extends is None else _as_str(extends),
        extends_file=None if extends_file is None else _as_str(extends_file),
        missing_env_files=missing_files,
        env_file_keys=frozenset(file_vars) - _declared_keys(svc.get("environment")),
    )


def _check_references(services: dict[str, Service]) -> None:
    for service in services.values():
        for dep in service.dependencies:
            if dep.service not in services:
                raise UnknownServiceError(service.name, dep.service, dep.via, dep.line)


def parse_compose(
    text: str,
    env: Mapping[str, str] | None = None,
    env_file_text: str | None = None,
    read_env_file: EnvFileReader | None = None,
) -> ComposeProject:
    """Parse compose YAML text into a ComposeProject.

    Variables come from `env_file_text` (the project's `.env`, parsed like Compose) overlaid by
    `env` (like the shell environment, which wins over `.env` in Compose). A service's
    `env_file:` entries are read with `read_env_file(path)`; without it, only `.env` is known
    (as `env_file_text`). Raises a ComposeError subclass with the line number on any problem.
    """
    variables: dict[str, str] = {}
    if env_file_text is not None:
        variables.update(parse_env_file(env_file_text, env or {}))
    variables.update(env or {})
    if read_env_file is None:

        def read_env_file(file_path: str) -> str | None:
            return env_file_text if posixpath.normpath(file_path) == ".env" else None

    doc = load_yaml(text, variables)
    data = doc.data
    if data is None:
        raise ComposeStructureError("the compose file is empty")
    if not isinstance(data, dict):
        raise ComposeStructureError("the top level of a compose file must be a mapping", doc.line(()))
    if "services" not in data:
        raise ComposeStructureError("no `services` section: a compose file needs at least one service", 1)
    services_raw = data["services"]
    if services_raw is None:
        services_raw = {}
    if not isinstance(services_raw, dict):
        raise _fail("`services` must be a mapping of service name to definition", doc, ("services",))
    services = {
        name: _service(name, svc, variables, read_env_file, doc) for name, svc in services_raw.items()
    }
    services = resolve_extends(services, doc)
    _check_references(services)
    return ComposeProject(services=services, unset_variables=doc.unset_variables)
