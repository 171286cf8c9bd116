"""Domains: `validateDomain` is a DNS-only check; `create` on an unknown compose is the database error.

Issue 13: one client script run against a real Dokploy v0.30.2 and against the stand-in differed
here; each test states what the real server answered (shapes from `shared/dokploy/` captures and
REFERENCE.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from standins.dokploy.routers.domain import _hosts_file_names, dns_a_lookup

# -- domains ---------------------------------------------------------------------------------


def test_validate_domain_is_dns_only(api: httpx.Client) -> None:
    def validate(**body: str) -> dict[str, Any]:
        response = api.post("/api/domain.validateDomain", json=body)
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    # the hosts file knows localhost, DNS does not: the real answer
    assert validate(domain="localhost") == {"isValid": False, "error": "queryA ENOTFOUND localhost"}
    assert validate(domain="https://api.shop.localhost/x") == {
        "isValid": False,
        "error": "queryA ENOTFOUND api.shop.localhost",
    }
    assert validate(domain="app.example.invalid")["error"] == "queryA ENOTFOUND app.example.invalid"
    assert validate(domain="127.0.0.1", serverIp="127.0.0.1") == {"isValid": True, "resolvedIp": "127.0.0.1"}
    assert validate(domain="127.0.0.1", serverIp="10.0.0.9")["isValid"] is False


def test_hosts_file_names_are_not_dns_answers(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.1.2.3 box box.lan  # comment\n# 1.1.1.1 gone\n")
    assert _hosts_file_names(hosts) == {"localhost", "box", "box.lan"}
    assert dns_a_lookup("10.1.2.3") == ["10.1.2.3"]
    with pytest.raises(LookupError):
        dns_a_lookup("LOCALHOST.")


def test_domain_on_an_unknown_compose_is_the_database_error(api: httpx.Client) -> None:
    body = {"host": "a.example.com", "composeId": "doesnotexist123456789", "serviceName": "web", "port": 80}
    response = api.post("/api/domain.create", json={**body, "domainType": "compose"})
    assert response.status_code == 400
    error = response.json()
    assert (error["code"], error["data"]["path"]) == ("BAD_REQUEST", "domain.create")
    query, params = error["message"].split("\nparams: ")
    assert query.startswith('Failed query: insert into "domain" ("domainId", "host", "https", "port", ')
    assert " values ($1, $2, default, $3, default, default, $4, $5, default, $6, $7, " in query
    assert query.endswith('"forwardAuthEnabled", "enabled"')  # `returning` every column
    assert params.split(",")[1:5] == ["a.example.com", "80", "web", "compose"]
