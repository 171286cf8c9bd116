"""Detector inputs (framework): domain specs and providers, and domain specs read through the real
DokployClient from captured Dokploy answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.responses import JSONResponse

from mcp_server.detectors import DomainSpec, dokploy_domain_specs
from mcp_server.detectors.inputs import DomainRouting, resolve_provider
from mcp_server.dokploy import DokployClient
from mcp_server.dokploy.models import Domain, OverviewService
from standins.dokploy.server import StandIn

from ..conftest import OPENAPI_FILE, ScriptedServer
from .helpers import dokploy_capture

pytestmark = pytest.mark.anyio


def test_domain_spec_from_dokploy_and_connect_override() -> None:
    row = Domain.model_validate(
        {
            "domainId": "d1",
            "host": "Shop.Example.com",
            "https": True,
            "port": 3000,
            "path": "api",
            "serviceName": "web",
            "composeId": "cmp1",
        }
    )
    spec = DomainSpec.from_dokploy(row, app_name="shop-abc")
    assert spec.url == "https://shop.example.com/api" and spec.expected_target == "web:3000"
    assert spec.dokploy_id == "cmp1" and spec.label == "shop.example.com/api"
    local = spec.model_copy(update={"connect_to": "127.0.0.1:8443"})
    assert local.connect_address() == ("127.0.0.1", 8443)
    with pytest.raises(ValidationError, match="bare host name"):
        DomainSpec(host="https://shop.example.com")


async def test_providers_can_be_lists_or_sync_or_async_functions() -> None:
    async def later() -> list[int]:
        return [3]

    assert await resolve_provider([1]) == [1]
    assert await resolve_provider(lambda: [2]) == [2]
    assert await resolve_provider(later) == [3]
    assert await resolve_provider(None) == []


async def test_domain_specs_from_the_dokploy_client(scripted_server: ScriptedServer) -> None:
    scripted_server.answer(
        JSONResponse(dokploy_capture("overview.domains--one-compose-domain")),
        JSONResponse(dokploy_capture("domain.byComposeId--one-domain")),
        JSONResponse(dokploy_capture("overview.domains--one-compose-domain")),
    )
    services = [OverviewService.model_validate(r) for r in dokploy_capture("overview.services--after-deploy")]
    client = await DokployClient.connect(scripted_server.url, "test-key", openapi_file=OPENAPI_FILE)
    async with client:
        specs = await dokploy_domain_specs(client, services)
        again = await dokploy_domain_specs(client, services)
    # overview.domains names the compose; domain.byComposeId adds the service inside it
    [spec] = specs
    assert spec.url == "http://api.capdemo.localhost/" and spec.app_name == "capdemo-qiqp6p"
    assert spec.expected_target == "api:8080"
    assert spec.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    assert again == specs
    # the second poll re-reads only overview.domains: the routing of an unchanged compose is known
    paths = [r["path"] for r in scripted_server.received]
    assert paths == ["/api/overview.domains", "/api/domain.byComposeId", "/api/overview.domains"]


async def test_domain_specs_merge_two_targets_of_one_address() -> None:
    services = [OverviewService.model_validate(r) for r in dokploy_capture("overview.services--after-deploy")]
    rows = [Domain.model_validate(r) for r in dokploy_capture("domain.byComposeId--one-domain")]
    overview = [
        {
            "domainId": r.domain_id,
            "host": r.host,
            "https": r.https,
            "port": r.port,
            "path": r.path,
            "enabled": True,
            "serviceOwnerId": r.compose_id,
            "serviceOwnerType": "compose",
        }
        for r in rows
    ]

    class Client:  # what dokploy_domain_specs uses of a DokployClient
        def __init__(self) -> None:
            self.calls: list[str] = []

        async def call(self, operation: str) -> object:
            self.calls.append(operation)
            return overview

        async def domains_by_compose(self, compose_id: str) -> list[Domain]:
            self.calls.append(f"domain.byComposeId {compose_id}")
            return rows

    client = Client()
    routing = DomainRouting(ttl_s=600)
    [spec] = await dokploy_domain_specs(client, services, routing=routing)
    # Dokploy routes the same host to two targets: one address to probe, both targets named
    assert spec.expected_target == "?:3000, api:8080"
    overview[0]["port"] = 3001  # an edited domain: its compose's routing is read again
    [spec] = await dokploy_domain_specs(client, services, routing=routing)
    assert spec.expected_target == "?:3001, api:8080"
    assert [c.split()[0] for c in client.calls] == [
        "overview.domains",
        "domain.byComposeId",
        "overview.domains",
        "domain.byComposeId",
    ]


async def test_a_domain_poll_costs_two_dokploy_calls_whatever_the_number_of_services(
    dokploy_standin: StandIn,
) -> None:
    client = await DokployClient.connect(
        dokploy_standin.url, dokploy_standin.api_key, openapi_file=OPENAPI_FILE
    )
    async with client:
        _, environment = await client.project_create("domains-o1")
        for i in range(8):
            compose = await client.call(
                "compose.create", name=f"svc{i}", environmentId=environment.environment_id
            )
            await client.call(
                "domain.create",
                host=f"s{i}.example.test",
                port=8080 + i,
                https=False,
                certificateType="none",
                composeId=compose["composeId"],
                serviceName="web",
                domainType="compose",
                path="/",
            )
        before = client.stats
        first = await dokploy_domain_specs(client, await client.overview_services())
        middle = client.stats
        second = await dokploy_domain_specs(client, await client.overview_services())
        after = client.stats

    def calls_between(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, float]:
        spent = {op: b[op]["calls"] - a.get(op, {}).get("calls", 0) for op in b}
        return {op: n for op, n in spent.items() if n}

    assert len(first) == 8 and {s.expected_target for s in first} == {f"web:{8080 + i}" for i in range(8)}
    assert second == first
    # the first poll learns each compose's routing once; every later poll is two calls in all
    assert calls_between(before, middle) == {
        "overview.services": 1,
        "overview.domains": 1,
        "domain.byComposeId": 8,
    }
    assert calls_between(middle, after) == {"overview.services": 1, "overview.domains": 1}
