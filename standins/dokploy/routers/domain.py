"""`domain.*` procedures. Compose domains only take effect at the next deploy (as labels)."""

from __future__ import annotations

import socket
from typing import Any

from ..world import World
from .base import Input, procedure


@procedure("domain.create")
async def domain_create(world: World, inp: Input) -> Any:
    if inp.get("composeId"):
        world.db.compose_row(inp["composeId"])
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


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@procedure("domain.validateDomain")
async def domain_validate(world: World, inp: Input) -> Any:
    """DNS check: {isValid, resolvedIp} or, when the name does not resolve, {isValid: false, error}."""
    host = inp["domain"].removeprefix("https://").removeprefix("http://").split("/")[0]
    try:
        ips = await world.in_thread(_resolve, host)
    except (OSError, UnicodeError):
        return {"isValid": False, "error": f"queryA ENOTFOUND {host}"}
    server_ip = inp.get("serverIp")
    return {"isValid": server_ip in ips if server_ip else True, "resolvedIp": ", ".join(ips)}
