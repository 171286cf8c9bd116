"""Implicit dependencies: a service that talks to another one without declaring it.

Real templates often only say `DATABASE_URL=postgres://user:pw@db:5432/app` or `REDIS_HOST=redis`
and leave `depends_on` out. A service name (or container_name, or network alias) counts as
used only when it stands where a host stands, so `web` does not match `website`, `/srv/web`
or `web_user`:

1. the host of a URL: `scheme://[user[:pw]@]HOST[:port][,HOST2…]/…`;
2. `HOST:port` with a numeric port, not glued to other name characters (`db:5432`,
   `tcp(db:3306)`, `user:pw@db:5432`); skipped for keys naming an image (`IMAGE=redis:7`);
3. the whole value (or one item of a comma/space separated list) of a key that names a host:
   the last `_` part of the key is HOST, HOSTS, HOSTNAME, SERVER, ADDR, URL, URI, ENDPOINT…,
   or ends with HOST / ADDR / URL / URI (PGHOST, MYSQLHOST);
4. in command/entrypoint: URL and HOST:port tokens, and the value after `-h`, `--host`,
   `--hostname`, `--server` or any `--<something>-host[=]`.

A service never depends on itself, and a dependency already declared explicitly is not
repeated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mcp_server.compose_graph.model import ComposeProject, Service

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#\s\"'<>]*)")
_HOST_PORT = re.compile(r"(?<![\w.:/-])([A-Za-z0-9][A-Za-z0-9_.-]*):(\d{2,5})(?![\w.@-])")
_HOST_KEY_SUFFIXES = {
    "HOST",
    "HOSTS",
    "HOSTNAME",
    "SERVER",
    "SERVERS",
    "ADDR",
    "ADDRS",
    "ADDRESS",
    "ADDRESSES",
    "URL",
    "URLS",
    "URI",
    "URIS",
    "ENDPOINT",
    "ENDPOINTS",
    "DSN",
    "BROKER",
    "BROKERS",
}
_HOST_FLAGS = {"-h", "--host", "--hostname", "--server", "--broker", "--addr", "--address"}
_LIST_SPLIT = re.compile(r"[,;\s]+")
_SHELL_OPERATORS = "`;|&()<>"
_SHELL_WORD = re.compile(r"""(?:[^\s'"`;|&()<>]+|'[^']*'|"[^"]*")+""")
_EVIDENCE_MAX = 120


@dataclass(frozen=True)
class ImplicitDependency:
    """`service` is used by the owner without a declared dependency.

    `evidence` is the environment key (source "environment", or "env_file" when the value
    only comes from an env_file, which is often one `.env` shared by every service) or the
    command/entrypoint fragment (source "command" / "entrypoint") that names it.
    """

    service: str
    evidence: str
    source: str


def host_index(project: ComposeProject) -> dict[str, str]:
    """Lower-case host name -> service, for names other services can reach it by."""
    index: dict[str, str] = {}
    for svc in project.services.values():
        for alias in [svc.container_name, *svc.network_aliases]:
            if alias:
                index.setdefault(alias.lower(), svc.name)
    for name in project.services:  # a service name wins over someone's alias
        index[name.lower()] = name
    return index


def _url_hosts(text: str) -> Iterator[str]:
    for match in _URL.finditer(text):
        authority = match.group(1).rpartition("@")[2]
        for part in authority.split(","):
            if part.startswith("["):  # IPv6 literal, never a service
                continue
            yield part.split(":", 1)[0]


def _host_port_hosts(text: str) -> Iterator[str]:
    for match in _HOST_PORT.finditer(text):
        yield match.group(1)


def _is_host_key(key: str) -> bool:
    """REDIS_HOST, PGHOST, DB_HOST_NAME, API_URL, ELASTICSEARCH_HOSTS, KAFKA_BROKERS …"""
    upper = key.upper().replace("-", "_")
    last = upper.split("_")[-1]
    return (
        last in _HOST_KEY_SUFFIXES
        or upper.endswith("HOST_NAME")
        or last.endswith(("HOST", "HOSTNAME", "HOSTS", "ADDR", "URL", "URI"))
    )


def hosts_in_env(key: str, value: str) -> set[str]:
    """Candidate host names in one environment entry (not yet matched against services)."""
    hosts = set(_url_hosts(value))
    if "IMAGE" not in key.upper():
        hosts.update(_host_port_hosts(value))
    if _is_host_key(key):
        for item in _LIST_SPLIT.split(value.strip()):
            if item and "://" not in item:
                hosts.add(item.split(":", 1)[0])
    return hosts


def _tokens(fragment: str, depth: int = 0) -> list[str]:
    """Shell words of a command: quotes removed (`-filer="filer:8888"` is one word), and a
    quoted script (`sh -c "wait-for db:5432 && …"`) split into its own words.

    (Not shlex: it is slow on long scripts and gives up on unbalanced quotes.)
    """
    words: list[str] = []
    for word in _SHELL_WORD.findall(fragment):
        plain = word.replace('"', "").replace("'", "")
        if depth < 2 and any(c.isspace() or c in _SHELL_OPERATORS for c in plain):
            words.extend(_tokens(plain, depth + 1))
        elif plain:
            words.append(plain)
    return words


def hosts_in_command(fragments: list[str]) -> Iterator[tuple[str, str]]:
    """(host, fragment) candidates in a command or entrypoint, fragment = the evidence."""
    tokens = [t for fragment in fragments for t in _tokens(fragment)]
    for i, token in enumerate(tokens):
        for host in [*_url_hosts(token), *_host_port_hosts(token)]:
            yield host, token
        flag, eq, value = token.partition("=")
        if eq and (flag in _HOST_FLAGS or flag.endswith("-host")):
            yield value.split(":", 1)[0], token
        if i > 0 and (tokens[i - 1] in _HOST_FLAGS or tokens[i - 1].endswith("-host")):
            yield token.split(":", 1)[0], f"{tokens[i - 1]} {token}"


def _evidence_for(svc: Service) -> Iterator[tuple[str, str, str]]:
    """(host, evidence, source) for everything in the service that names a host."""
    for key, value in svc.environment.items():
        if value:
            source = "env_file" if key in svc.env_file_keys else "environment"
            for host in sorted(hosts_in_env(key, value)):
                yield host, key, source
    for source, fragments in (("command", svc.command), ("entrypoint", svc.entrypoint)):
        for host, fragment in hosts_in_command(fragments):
            yield host, fragment[:_EVIDENCE_MAX], source


def find_implicit(project: ComposeProject) -> dict[str, list[ImplicitDependency]]:
    """Implicit dependencies of every service: one entry per (used service, evidence)."""
    index = host_index(project)
    result: dict[str, list[ImplicitDependency]] = {}
    for svc in project.services.values():
        explicit = {dep.service for dep in svc.dependencies}
        found: dict[tuple[str, str], ImplicitDependency] = {}
        for host, evidence, source in _evidence_for(svc):
            target = index.get(host.lower())
            if target is None or target == svc.name or target in explicit:
                continue
            found.setdefault((target, evidence), ImplicitDependency(target, evidence, source))
        result[svc.name] = list(found.values())
    return result
