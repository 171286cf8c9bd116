"""Detector inputs (framework): domain specs and providers, and domain specs read through the real
DokployClient from captured Dokploy answers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.responses import JSONResponse

from mcp_server.detectors import DomainSpec, dokploy_domain_specs
from mcp_server.detectors.inputs import resolve_provider
from mcp_server.dokploy import DokployClient
from mcp_server.dokploy.models import Domain, OverviewService

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
    scripted_server.answer(JSONResponse(dokploy_capture("domain.byComposeId--one-domain")))
    services = [OverviewService.model_validate(r) for r in dokploy_capture("overview.services--after-deploy")]
    client = await DokployClient.connect(scripted_server.url, "test-key", openapi_file=OPENAPI_FILE)
    async with client:
        specs = await dokploy_domain_specs(client, services)
    # Dokploy routes the same host to two targets: one address to probe, both targets named
    [spec] = specs
    assert spec.url == "http://api.capdemo.localhost/" and spec.app_name == "capdemo-qiqp6p"
    assert spec.expected_target == "?:3000, api:8080"
    assert spec.dokploy_id == "x2i8xcknObKu2IjCtumbL"
    assert scripted_server.received[0]["path"] == "/api/domain.byComposeId"
