"""A domain down because the service behind it does not answer is one incident, not two: the
domain's signal joins the open incident of the service its domain routes to (found by the lab's
domain-down-behind-proxy scenario, where the domain's incident escalated to a human while the
service's incident restarted the service and resolved)."""

from __future__ import annotations

from typing import Any

from agent_host.incidents.grouping import blames, new_incident, routed_service


def web_unresponsive() -> dict[str, Any]:
    return {
        "id": "sig-web",
        "kind": "unresponsive",
        "severity": "critical",
        "first_seen": "2026-03-01T12:00:00+00:00",
        "target": {"kind": "container", "host": "local", "project": "shop", "service": "web"},
        "evidence": {},
    }


def domain_down(routes_to: str | None, app: str = "shop") -> dict[str, Any]:
    return {
        "id": "sig-domain",
        "kind": "domain_down",
        "severity": "critical",
        "first_seen": "2026-03-01T12:00:02+00:00",
        "target": {"kind": "domain", "host": "local", "project": app, "name": "shop.example.com"},
        "evidence": {"expected_target": routes_to, "http": {"status_code": 502}},
    }


def test_routed_service_reads_the_domains_one_target() -> None:
    assert routed_service(domain_down("web:8080")) == "web"
    assert routed_service(domain_down("web:8080, web:8080")) == "web"
    assert routed_service(domain_down("web:8080, api:3000")) is None  # several: no single culprit
    assert routed_service(domain_down("?:8080")) is None
    assert routed_service(domain_down(None)) is None


def test_a_domain_routed_to_the_incidents_service_joins_it() -> None:
    incident = new_incident(web_unresponsive())
    assert blames(incident, domain_down("web:8080"))


def test_a_domain_routed_elsewhere_or_in_another_app_does_not_join() -> None:
    incident = new_incident(web_unresponsive())
    assert not blames(incident, domain_down("api:3000"))
    assert not blames(incident, domain_down("web:8080", app="other-shop"))
    assert not blames(incident, domain_down(None))


def test_a_domain_incident_does_not_swallow_service_signals() -> None:
    """An incident about the domain itself (no service) attracts no service's signal."""
    incident = new_incident(domain_down("web:8080"))
    assert not blames(incident, web_unresponsive())
