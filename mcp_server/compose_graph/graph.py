"""ComposeGraph: questions about a compose file's services and how they depend on each other.

Edges point from a service to what it needs: `api -> db` when api declares `depends_on: [db]`
(explicit) or names db in DATABASE_URL (implicit, see implicit.py). Answers:
- start_order(): explicit dependencies first; ties keep the file order; a cycle is an error;
- upstream(x): everything x needs, transitively, in start order (check these first when x fails);
- dependants(x) / blast_radius(x): who breaks when x breaks, directly / transitively;
- kinds(): database, cache, queue, … per service (classify.py);
- findings(): missing memory limits and health checks, and a few related problems.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcp_server.compose_graph.classify import Classification, classify_image
from mcp_server.compose_graph.errors import ComposeError, DependencyCycleError, EnvFileError
from mcp_server.compose_graph.implicit import ImplicitDependency, find_implicit
from mcp_server.compose_graph.model import (
    ComposeProject,
    EnvFileReader,
    ExplicitDependency,
    Service,
    parse_compose,
)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ComposeError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ComposeError(f"{what} {path} is not UTF-8 text") from None


class ServiceNotFoundError(ComposeError):
    """A question named a service the compose file does not define."""


@dataclass(frozen=True)
class Finding:
    """Something worth fixing. `service` is None for file-wide findings; `line` may be None.

    `code` is stable for programs: no-memory-limit, no-healthcheck,
    healthy-condition-without-healthcheck, env-file-missing, extends-not-resolved, unset-variable.
    """

    code: str
    severity: str
    service: str | None
    message: str
    line: int | None = None


def healthcheck_disabled(svc: Service) -> bool:
    """True when the compose file gives the service no working health check."""
    check = svc.healthcheck
    if check is None:
        return True
    if check.get("disable") in (True, "true", "True"):
        return True
    test = check.get("test")
    return test == ["NONE"] or test == "NONE"


class ComposeGraph:
    """The dependency graph of one compose file. Build with from_text / from_file."""

    def __init__(self, project: ComposeProject) -> None:
        self.project = project
        # Everything per service is computed once here, in time linear in the file; the questions
        # below then cost only what they answer (a 2,000-service file must stay cheap).
        self._names = list(project.services)
        self._order = {name: i for i, name in enumerate(self._names)}
        self._implicit = find_implicit(project)
        self._needs: dict[str, list[str]] = {}
        self._needed_by: dict[str, list[str]] = {name: [] for name in self._names}
        self._needs_explicit: dict[str, list[str]] = {}
        self._needed_by_explicit: dict[str, list[str]] = {name: [] for name in self._names}
        for name in self._names:
            explicit = project.dependency_names(name)
            declared = set(explicit)
            implicit = [d.service for d in self._implicit[name] if d.service not in declared]
            self._needs_explicit[name] = explicit
            self._needs[name] = list(dict.fromkeys([*explicit, *implicit]))
            for dep in self._needs[name]:
                self._needed_by[dep].append(name)
            for dep in explicit:
                self._needed_by_explicit[dep].append(name)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_text(
        cls,
        text: str,
        env: Mapping[str, str] | None = None,
        env_file_text: str | None = None,
        read_env_file: EnvFileReader | None = None,
    ) -> ComposeGraph:
        """Parse compose YAML text (see model.parse_compose for env handling)."""
        return cls(parse_compose(text, env=env, env_file_text=env_file_text, read_env_file=read_env_file))

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        env_file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        env_file_text: str | None = None,
    ) -> ComposeGraph:
        """Read a compose file. Variables come from `env_file_text` if given, else `env_file`,
        else `.env` next to the compose file when present (like Compose); `env` wins over all.
        Services' `env_file:` paths are read relative to the compose file.

        Errors name the file they are about.
        """
        path = Path(path)
        env_path = Path(env_file) if env_file is not None else path.parent / ".env"
        env_label = "<given env text>"
        if env_file_text is None and (env_file is not None or env_path.is_file()):
            env_file_text = _read(env_path, "env file")
            env_label = str(env_path)
        text = _read(path, "compose file")

        def read_env_file(file_path: str) -> str | None:
            candidate = path.parent / file_path
            return _read(candidate, "env file") if candidate.is_file() else None

        try:
            return cls.from_text(text, env=env, env_file_text=env_file_text, read_env_file=read_env_file)
        except ComposeError as exc:
            if exc.source is None:  # env_file errors already name their file
                exc.with_source(env_label if isinstance(exc, EnvFileError) else str(path))
            raise exc from None

    # -- basic lookups -------------------------------------------------------------------
    @property
    def services(self) -> list[str]:
        """Service names in file order."""
        return list(self._names)

    def _check(self, name: str) -> Service:
        try:
            return self.project.services[name]
        except KeyError:
            names = self._names
            known = ", ".join(names[:20]) + (f" and {len(names) - 20:,} more" if len(names) > 20 else "")
            raise ServiceNotFoundError(
                f'no service named "{name[:100]}" (services: {known or "none"})'
            ) from None

    def explicit_dependencies(self, name: str) -> list[ExplicitDependency]:
        """One entry per service `name` explicitly depends on, with Compose's settings for it
        (condition, required, restart), how it was declared (`via`) and the line."""
        self._check(name)
        return self.project.effective_dependencies(name)

    def declarations(self, name: str) -> list[ExplicitDependency]:
        """Every dependency declaration of `name`, repeats included (depends_on and links on db…)."""
        return list(self._check(name).dependencies)

    def depends_on(self, name: str) -> list[str]:
        """Names `name` explicitly depends on (depends_on, links, volumes_from, service:x)."""
        self._check(name)
        return list(self._needs_explicit[name])

    def implicit_dependencies(self, name: str) -> list[ImplicitDependency]:
        """Undeclared uses of other services, each with its evidence."""
        self._check(name)
        return list(self._implicit[name])

    def dependencies(self, name: str, implicit: bool = True) -> list[str]:
        """Direct dependencies of `name`: explicit first, then implicit ones."""
        self._check(name)
        return list(self._needs[name] if implicit else self._needs_explicit[name])

    def dependants(self, name: str, implicit: bool = True) -> list[str]:
        """Services that depend on `name` directly (explicitly, or implicitly too)."""
        self._check(name)
        return list(self._needed_by[name] if implicit else self._needed_by_explicit[name])

    # -- transitive answers ----------------------------------------------------------------
    def _walk(self, start: str, step: dict[str, list[str]]) -> list[str]:
        """Breadth-first reach from start (excluded), nearest first; each node's next steps in
        file order (the `_needed_by*` lists are built in file order, so no sorting here)."""
        seen = {start}
        found: list[str] = []
        frontier = deque([start])
        while frontier:
            current = frontier.popleft()
            for nxt in step[current]:
                if nxt not in seen:
                    seen.add(nxt)
                    found.append(nxt)
                    frontier.append(nxt)
        return found

    def blast_radius(self, name: str, implicit: bool = True) -> list[str]:
        """Every service that breaks, directly or transitively, when `name` breaks; nearest first."""
        self._check(name)
        return self._walk(name, self._needed_by if implicit else self._needed_by_explicit)

    def upstream(self, name: str, implicit: bool = True) -> list[str]:
        """Everything `name` needs, transitively, ordered so that roots come first.

        When `name` misbehaves, check these in this order before blaming `name` itself.
        """
        self._check(name)
        needs = self._needs if implicit else self._needs_explicit
        reach = set(self._walk(name, needs))  # only the set matters: the order comes from Kahn's
        order, stuck = self._topological(reach, needs)
        # implicit uses can form cycles (api <-> worker): those go last, in file order
        return order + sorted(stuck, key=self._order.__getitem__)

    def _topological(self, nodes: set[str], needs: dict[str, list[str]]) -> tuple[list[str], set[str]]:
        """Kahn's algorithm on `nodes` (edges to other nodes only), ties broken by file order.

        Returns (order, nodes left over because they sit on or behind a cycle).
        """
        waiting = dict.fromkeys(nodes, 0)
        users: dict[str, list[str]] = {n: [] for n in nodes}
        for n in nodes:
            for dep in needs[n]:  # no repeats in these lists
                if dep in nodes:
                    waiting[n] += 1
                    users[dep].append(n)
        ready = [self._order[n] for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        names = self._names
        order: list[str] = []
        while ready:
            current = names[heapq.heappop(ready)]
            order.append(current)
            for user in users[current]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, self._order[user])
        return order, nodes - set(order)

    def start_order(self) -> list[str]:
        """Services in an order Compose could start them (explicit dependencies first).

        Stable: among services that are ready at the same time, file order wins.
        Raises DependencyCycleError naming the cycle when there is none.
        """
        order, stuck = self._topological(set(self._names), self._needs_explicit)
        if stuck:
            raise self._cycle_error(stuck)
        return order

    def _cycle_error(self, stuck: set[str]) -> DependencyCycleError:
        """Find one cycle among services that could not be ordered."""
        start = min(stuck, key=self._order.__getitem__)
        path = [start]
        position = {start: 0}
        current = start
        while True:
            current = next(d for d in self._needs_explicit[current] if d in stuck)
            if current in position:
                cycle = [*path[position[current] :], current]
                first = self.project.services[cycle[0]]
                line = next((d.line for d in first.dependencies if d.service == cycle[1]), None)
                return DependencyCycleError(cycle, line)
            position[current] = len(path)
            path.append(current)

    # -- kinds and findings ----------------------------------------------------------------
    def kind(self, name: str) -> Classification:
        """What the service is, from its image (database, cache, queue, …, app)."""
        return classify_image(self._check(name).image)

    def kinds(self) -> dict[str, Classification]:
        """kind() for every service, in file order."""
        return {name: classify_image(svc.image) for name, svc in self.project.services.items()}

    def findings(self) -> list[Finding]:
        """Problems per service (file order), then file-wide notes."""
        found: list[Finding] = []
        services = self.project.services
        for name, svc in services.items():
            if svc.memory_limit is None:
                found.append(
                    Finding(
                        "no-memory-limit",
                        "warning",
                        name,
                        f'service "{name}" has no memory limit (mem_limit or '
                        "deploy.resources.limits.memory): one leak can starve every container on the host",
                        svc.line,
                    )
                )
            if healthcheck_disabled(svc):
                how = "is disabled" if svc.healthcheck is not None else "is absent"
                found.append(
                    Finding(
                        "no-healthcheck",
                        "warning",
                        name,
                        f'service "{name}" has no health check in the compose file (healthcheck {how}); '
                        "the image may define its own HEALTHCHECK, which the compose file cannot show",
                        svc.line,
                    )
                )
            for dep in self.project.effective_dependencies(name):
                if dep.condition == "service_healthy" and healthcheck_disabled(services[dep.service]):
                    found.append(
                        Finding(
                            "healthy-condition-without-healthcheck",
                            "warning",
                            name,
                            f'service "{name}" waits for "{dep.service}" to be healthy, but "{dep.service}" '
                            "has no healthcheck in the compose file: unless its image defines one, "
                            "`docker compose up` fails with 'has no healthcheck configured'",
                            dep.line,
                        )
                    )
            for file_path, line in svc.missing_env_files:
                found.append(
                    Finding(
                        "env-file-missing",
                        "warning",
                        name,
                        f'service "{name}" reads env_file "{file_path}", which was not found: '
                        "`docker compose up` fails until it exists, and its variables are not analysed",
                        line,
                    )
                )
            if svc.extends_file is not None:
                found.append(
                    Finding(
                        "extends-not-resolved",
                        "info",
                        name,
                        f'service "{name}" extends "{svc.extends}" from {svc.extends_file}: settings '
                        "inherited from another file (dependencies included) are not analysed",
                        svc.line,
                    )
                )
        first_use: dict[str, int] = {}
        for variable, line in self.project.unset_variables:
            first_use.setdefault(variable, line)
        for variable, line in first_use.items():
            found.append(
                Finding(
                    "unset-variable",
                    "info",
                    None,
                    f'variable "{variable}" is not set and defaults to a blank string',
                    line,
                )
            )
        return found
