"""What a person does in the dashboard, in a real browser: log in (and be refused with a wrong token),
answer an approval (the same approval book the CLI and Telegram answer), meet an answer that can no
longer be taken, and watch an incident written by another process appear without reloading."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from agent_host.approvals import ApprovalBook, ApprovalRequest
from agent_host.settings import AgentSettings
from tests.agent_host.dashboard.browser import (
    LIVE_WAIT_MS,
    VIEWPORT,
    WAIT_MS,
    Dashboard,
    run_async,
    snapshot,
    wait_live,
)
from tests.agent_host.dashboard.seed import live_incident, save_incidents


def approval(dashboard: Dashboard, request_id: str) -> ApprovalRequest:
    """The request as the approval book in the agent's state directory holds it now."""

    async def read() -> ApprovalRequest:
        db = AgentSettings(state_dir=dashboard.state_dir).open_database()
        try:
            found = await ApprovalBook(db).get(request_id)
        finally:
            db.close()
        assert found is not None, f"approval {request_id} is not in the book"
        return found

    return run_async(read)


def answer_elsewhere(dashboard: Dashboard, request_id: str, by: str) -> None:
    """Approve a request through the book directly, as the CLI or the Telegram bot does."""

    async def answer() -> None:
        db = AgentSettings(state_dir=dashboard.state_dir).open_database()
        try:
            await ApprovalBook(db).answer(request_id, approve=True, by=by)
        finally:
            db.close()

    run_async(answer)


def test_every_page_needs_a_login_and_a_wrong_token_is_refused(
    browser: Browser, dashboard: Dashboard
) -> None:
    context = browser.new_context(viewport=VIEWPORT, base_url=dashboard.url)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto("/agent")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.locator("form#login input[name=token]")).to_be_visible()
        assert context.request.get("/api/status").status == 401
        assert context.request.get(f"/api/incidents/{dashboard.seeded.escalated}").status == 401

        page.fill("form#login input[name=token]", dashboard.token + "x")
        page.click("form#login button[type=submit]")
        expect(page.locator("form#login")).to_be_visible()
        assert not [c for c in context.cookies() if c["name"] == "ig_session"]
        page.goto("/approvals")
        expect(page).to_have_url(re.compile(r"/login\?next="))

        # the right token lands on the page it was sent away from, with an HttpOnly, SameSite cookie
        page.fill("form#login input[name=token]", dashboard.token)
        page.click("form#login button[type=submit]")
        expect(page).to_have_url(re.compile(r"/approvals$"))
        (cookie,) = [c for c in context.cookies() if c["name"] == "ig_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert dashboard.token not in cookie["value"]
        assert context.request.get("/api/status").ok
    finally:
        context.close()


def test_approving_in_the_browser_answers_the_approval_book(page: Page, dashboard: Dashboard) -> None:
    request_id = dashboard.seeded.approval
    page.goto("/approvals")
    row = page.locator(f'#pending tr[data-approval="{request_id}"]')
    expect(row).to_contain_text("raise-memory-limit")
    expect(row).to_contain_text("256 MiB → 512 MiB")
    snapshot(page, "approvals")

    # a POST without the form's csrf value is refused and changes nothing
    forged = page.request.post(
        f"/approvals/{request_id}",
        form={"decision": "approve", "plan_hash": approval(dashboard, request_id).plan_hash},
        max_redirects=0,
    )
    assert forged.status in (400, 403), forged.status
    assert approval(dashboard, request_id).status == "pending"

    row.locator("button[name=decision][value=approve]").click()
    answered = page.locator(f'tr[data-approval="{request_id}"] .answer')
    expect(answered.first).to_have_text(re.compile(r"approved by dashboard"))
    recorded = approval(dashboard, request_id)
    assert recorded.status == "approved"
    assert recorded.answered_by is not None and "dashboard" in recorded.answered_by
    # the incident's own page tells who answered
    page.goto(f"/incidents/{dashboard.seeded.awaiting}")
    expect(page.locator(f'#approvals li[data-approval="{request_id}"]')).to_contain_text(
        "approved by dashboard"
    )


def test_an_answer_given_elsewhere_first_shows_why_the_click_did_nothing(
    page: Page, dashboard: Dashboard
) -> None:
    """The page was opened, then the owner approved from Telegram; the stale Deny button is refused."""
    request_id = dashboard.seeded.approval_other
    page.route(re.compile(r"/events$"), lambda route: route.abort())  # keep this page stale on purpose
    page.goto("/approvals")
    row = page.locator(f'#pending tr[data-approval="{request_id}"]')
    expect(row).to_be_visible()
    answer_elsewhere(dashboard, request_id, by="telegram:@owner")
    row.locator("button[name=decision][value=deny]").click()
    expect(page.locator(".error").first).to_contain_text("already approved")
    recorded = approval(dashboard, request_id)
    assert recorded.status == "approved" and recorded.answered_by == "telegram:@owner"


def test_an_incident_written_by_another_process_appears_without_a_reload(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto("/incidents")
    expect(page.locator("#incidents article.incident").first).to_be_visible()
    wait_live(page)
    page.evaluate("window.__not_reloaded = true")  # gone if the page reloads instead of updating
    incident = live_incident(dashboard.app_name)
    run_async(lambda: save_incidents(dashboard.state_dir, incident))
    arrived = page.locator(f'#incidents article.incident[data-id="{incident.id}"]')
    expect(arrived).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(arrived.locator(".summary")).to_contain_text(incident.summary)
    assert page.evaluate("window.__not_reloaded") is True
