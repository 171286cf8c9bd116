"""Every dashboard page in a real browser (Debian's chromium through Playwright), served by the real
`infraguardian-agent dashboard` over a seeded state directory, with live health read from the real
MCP server about one small stack the Dokploy stand-in deployed on the real engine.

With INFRAGUARDIAN_SCREENSHOTS_DIR set, each page is also saved as a full-page PNG 1280 px wide
(the README's screenshots: docs/screenshots/).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.agent_host.dashboard.browser import (
    LIVE_WAIT_MS,
    Dashboard,
    let_history_grow,
    screenshots_wanted,
    snapshot,
)
from tests.agent_host.dashboard.seed import INJECTED_IMG, INJECTED_SCRIPT, SECRET_VALUE

HEALTH_WORDS = re.compile(r"^\s*(healthy|degraded|down|unknown)\s*$")
HEALTHY = re.compile(r"^\s*healthy\s*$")
# "20 MiB / 64 MiB": what the service uses against its limit
MEMORY_OF_64 = re.compile(r"\d+(\.\d+)?\s*[KMG]?i?B\s*/\s*64(\.0)?\s*MiB")
MEMORY_OF_48 = re.compile(r"\d+(\.\d+)?\s*[KMG]?i?B\s*/\s*48(\.0)?\s*MiB")


def test_the_overview_shows_the_live_stack_healthy_and_links_to_its_pages(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto("/")
    project = page.locator(f'section.project[data-project="{dashboard.project}"]')
    row = project.locator(f'tr[data-app="{dashboard.app_name}"]')
    expect(row).to_be_visible()
    expect(row.locator("td.health")).to_have_text(HEALTH_WORDS)
    # the api's health check passes within seconds of the deploy; health is re-read live
    expect(row.locator("td.health")).to_have_text(HEALTHY, timeout=LIVE_WAIT_MS)
    expect(project.locator(f'a[href="/project/{dashboard.project}"]').first).to_be_visible()
    expect(page.locator("#active-signals")).to_be_attached()
    expect(page.locator("#health-updated")).not_to_be_empty()
    snapshot(page, "overview")
    row.locator(f'a[href="/compose/{dashboard.app_name}"]').first.click()
    expect(page).to_have_url(re.compile(f"/compose/{re.escape(dashboard.app_name)}$"))
    expect(page.locator("h1")).to_contain_text(dashboard.app_name)


def test_the_project_page_lists_its_composes(page: Page, dashboard: Dashboard) -> None:
    page.goto(f"/project/{dashboard.project}")
    expect(page.locator("h1")).to_have_text(re.compile(rf"^\s*{re.escape(dashboard.project)}\s*$"))
    row = page.locator(f'tr[data-app="{dashboard.app_name}"]')
    expect(row.locator("td.health")).to_have_text(HEALTHY, timeout=LIVE_WAIT_MS)
    expect(row.locator(f'a[href="/compose/{dashboard.app_name}"]').first).to_be_visible()
    snapshot(page, "project")


def test_the_compose_page_shows_services_memory_against_limits_graph_chart_and_incidents(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(f"/compose/{dashboard.app_name}")
    expect(page.locator("h1")).to_contain_text(dashboard.app_name)
    api = page.locator('#services tr[data-service="api"]')
    db = page.locator('#services tr[data-service="db"]')
    expect(api.locator("td.state")).to_contain_text("running")
    expect(api.locator("td.memory")).to_have_text(MEMORY_OF_64)
    expect(db.locator("td.memory")).to_have_text(MEMORY_OF_48)
    graph = page.locator("#dependency-graph svg")
    expect(graph).to_be_visible()
    expect(graph).to_contain_text("api")
    expect(graph).to_contain_text("db")
    # one chart per container: memory and CPU against its limit
    expect(page.locator("#resource-chart svg")).to_have_count(2)
    expect(page.locator("#resource-chart svg").first).to_be_visible()
    expect(page.locator("#signals")).to_be_attached()
    incidents = page.locator("#incidents li")
    expect(incidents.filter(has_text=dashboard.seeded.resolved)).to_have_count(1)
    expect(incidents.filter(has_text=dashboard.seeded.escalated)).to_have_count(1)
    if screenshots_wanted():
        let_history_grow(page, dashboard)
    snapshot(page, "compose")


def test_the_timeline_lists_incidents_newest_first_with_a_per_day_chart(
    page: Page, dashboard: Dashboard
) -> None:
    seeded = dashboard.seeded
    page.goto("/incidents")
    articles = page.locator("#incidents article.incident")
    expect(articles.first).to_be_visible()
    ids = articles.evaluate_all("nodes => nodes.map(n => n.dataset.id)")
    mine = [
        i for i in ids if i in {seeded.awaiting_other, seeded.awaiting, seeded.resolved, seeded.escalated}
    ]
    assert mine == [seeded.awaiting_other, seeded.awaiting, seeded.resolved, seeded.escalated], ids
    assert set(seeded.older) <= set(ids), ids
    resolved = page.locator(f'#incidents article.incident[data-id="{seeded.resolved}"]')
    expect(resolved.locator(".status")).to_contain_text("resolved")
    expect(resolved.locator(".summary")).to_contain_text("OOM-killed")
    expect(resolved.locator(f'a[href="/incidents/{seeded.resolved}"]').first).to_be_attached()
    chart = page.locator("#incidents-per-day svg")
    expect(chart).to_be_visible()
    # the seeded incidents span six days (today, 1, 2, 3, 5 and 6 days ago): one bar per busy day
    busy_days = chart.locator("rect.bar").evaluate_all(
        "bars => bars.filter(b => Number(b.dataset.count) > 0).map(b => b.dataset.day)"
    )
    assert len(busy_days) >= 5, busy_days
    snapshot(page, "incidents")


def test_an_incident_page_shows_evidence_decision_reasons_actions_and_verification(
    page: Page, dashboard: Dashboard
) -> None:
    incident_id = dashboard.seeded.resolved
    page.goto(f"/incidents/{incident_id}")
    expect(page.locator("h1")).to_contain_text(incident_id)
    for section in ("#evidence", "#decision", "#approvals", "#actions", "#verification", "#postmortem"):
        expect(page.locator(section)).to_be_attached()
    expect(page.locator("#evidence")).to_contain_text("OOM-killed")
    reasons = page.locator("#decision li.reason")
    expect(reasons).to_have_count(5)
    expect(reasons.filter(has_text="acts alone: risk low")).to_have_count(1)
    expect(page.locator("#actions li.action")).to_contain_text("set_memory_limit")
    expect(page.locator("#verification")).to_contain_text("healthy")
    expect(page.locator("#events li")).to_have_count(8)
    # the history kept when it closed: the api's memory against its limit, the action marked on it
    chart = page.locator("#resource-chart svg")
    expect(chart).to_be_visible()
    expect(chart.locator('[data-mark="set_memory_limit"]')).to_have_count(1)
    snapshot(page, "incident")


def test_injected_markup_stays_text_and_the_secret_stays_redacted(page: Page, dashboard: Dashboard) -> None:
    """The escalated incident's captured logs hold a <script>, an <img onerror> and a password."""
    incident_id = dashboard.seeded.escalated
    for path in (f"/incidents/{incident_id}", "/incidents", f"/compose/{dashboard.app_name}"):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert SECRET_VALUE not in page.content(), path
    page.goto(f"/incidents/{incident_id}")
    evidence = page.locator("#evidence")
    expect(evidence).to_contain_text(INJECTED_SCRIPT)
    expect(evidence).to_contain_text(INJECTED_IMG)
    expect(evidence).to_contain_text("POSTGRES_PASSWORD")
    expect(page.locator("img[src=x]")).to_have_count(0)
    expect(page.locator("script", has_text="__pwned")).to_have_count(0)
    answer = page.request.get(f"/api/incidents/{incident_id}")
    assert answer.ok and SECRET_VALUE not in answer.text() and "POSTGRES_PASSWORD" in answer.text()


def test_the_agent_page_shows_the_mode_and_the_graph(page: Page, dashboard: Dashboard) -> None:
    page.goto("/agent")
    expect(page.locator("#mode")).to_contain_text("runbook-only")
    expect(page.locator("#model")).to_be_attached()
    graph = page.locator("#graph svg")
    expect(graph).to_be_visible()
    nodes = graph.locator("g[data-node]").evaluate_all("nodes => nodes.map(n => n.dataset.node)")
    assert {
        "detect_incident",
        "gather_context",
        "diagnose",
        "escalate",
        "execute_action",
        "verify_fix",
    } <= set(nodes), nodes
    # the two incidents awaiting approval stand at escalate (no checkpoints here: read from their status)
    expect(graph.locator('g[data-node="escalate"] .count')).to_have_text("2")
    expect(page.locator("#budgets")).to_be_attached()
    expect(page.locator("#blocked")).to_be_attached()
    snapshot(page, "agent")
