"""`domain.*` procedures. Compose domains only take effect at the next deploy (as labels)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any

from ..errors import bad_request
from ..ids import nanoid, now_iso
from ..state import template
from ..world import World
from .base import Input, procedure

_DEFAULT_FROM_CODE = ("domainId", "createdAt")  # drizzle $defaultFn columns: always a parameter


def _param_text(value: Any) -> str:
    """How JavaScript's Array.prototype.join prints one parameter (null -> "", nested arrays flat)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def failed_domain_insert(inp: Input) -> str:
    """The message of drizzle's DrizzleQueryError when the domain INSERT breaks a foreign key.

    Columns that were sent (or have a $defaultFn) become `$n` parameters, the rest `default`;
    the message is `Failed query: <sql>\nparams: <params joined with ",">`.
    """
    columns = list(template("domain"))
    values, params = [], []
    for column in columns:
        if column in _DEFAULT_FROM_CODE:
            params.append(nanoid() if column == "domainId" else now_iso())
        elif column in inp:
            params.append(inp[column])
        else:
            values.append("default")
            continue
        values.append(f"${len(params)}")
    quoted = ", ".join(f'"{c}"' for c in columns)
    # text of an error message, never run: S608 does not apply
    sql = f'insert into "domain" ({quoted}) values ({", ".join(values)}) returning {quoted}'  # noqa: S608
    return f"Failed query: {sql}\nparams: {','.join(_param_text(p) for p in params)}"


@procedure("domain.create")
async def domain_create(world: World, inp: Input) -> Any:
    """A compose domain is inserted without looking the compose up: an unknown composeId breaks the
    foreign key, and the router re-throws the database error as 400."""
    if inp.get("composeId") and inp["composeId"] not in world.db.compose:
        raise bad_request(failed_domain_insert(inp))
    if inp.get("applicationId"):
        world.db.application(inp["applicationId"])
    return dict(world.db.add_domain(inp))


@procedure("domain.byComposeId")
async def domain_by_compose(world: World, inp: Input) -> Any:
    compose = world.db.compose.get(inp["composeId"])
    owner = (
        {"composeId": compose["composeId"], "appName": compose["appName"], "name": compose["name"]}
        if compose
        else None
    )
    return [{**d, "compose": owner} for d in world.db.domains_of(compose_id=inp["composeId"])]


@procedure("domain.byApplicationId")
async def domain_by_application(world: World, inp: Input) -> Any:
    app = world.db.applications.get(inp["applicationId"])
    owner = (
        {"applicationId": app["applicationId"], "appName": app["appName"], "name": app["name"]}
        if app
        else None
    )
    return [{**d, "application": owner} for d in world.db.domains_of(application_id=inp["applicationId"])]


@procedure("domain.one")
async def domain_one(world: World, inp: Input) -> Any:
    return dict(world.db.domain(inp["domainId"]))


@procedure("domain.delete")
async def domain_delete(world: World, inp: Input) -> Any:
    domain = world.db.domain(inp["domainId"])
    del world.db.domains[domain["domainId"]]
    return dict(domain)


def _hosts_file_names(path: Path = Path("/etc/hosts")) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return set()
    return {name.lower() for line in lines for name in line.split("#", 1)[0].split()[1:]}


def dns_a_lookup(host: str) -> list[str]:
    """IPv4 addresses for `host` as a DNS A query would give them (Node's `dns.resolve4`).

    Dokploy asks DNS servers only, so names known only to the hosts file (`localhost`, the machine's
    own name) are not found, and nothing here waits on the network for them. Other names go through
    the local resolver (getaddrinfo). An IP literal is its own answer (REFERENCE: a resolved IP).
    Raises LookupError when there is no answer.
    """
    name = host.lower().rstrip(".")
    try:
        return [str(ipaddress.IPv4Address(name))]
    except ValueError:
        pass
    if not name or name == "localhost" or name.endswith(".localhost") or name in _hosts_file_names():
        raise LookupError(host)
    try:
        infos = socket.getaddrinfo(name, None, family=socket.AF_INET, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise LookupError(host) from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@procedure("domain.validateDomain")
async def domain_validate(world: World, inp: Input) -> Any:
    """DNS check: {isValid, resolvedIp} or, when the name does not resolve, {isValid: false, error}."""
    host = inp["domain"].removeprefix("https://").removeprefix("http://").split("/")[0]
    try:
        ips = await world.in_thread(dns_a_lookup, host)
    except LookupError:
        return {"isValid": False, "error": f"queryA ENOTFOUND {host}"}
    server_ip = inp.get("serverIp")
    return {"isValid": server_ip in ips if server_ip else True, "resolvedIp": ", ".join(ips)}
