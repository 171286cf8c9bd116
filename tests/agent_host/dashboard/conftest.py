"""Fixtures for the dashboard's browser tests: the Dokploy stand-in with one small live stack on the
real engine, the dashboard served by the real `dashboard` command over a seeded state directory,
Debian's chromium, and a logged-in page. The stand-in, the stack and the dashboard are shared by the
whole folder (starting them costs seconds); the browser lives for one module, the page for one test.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, Page, StorageState, expect, sync_playwright

from standins.dokploy.server import StandIn
from tests.agent_host.dashboard.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    WAIT_MS,
    Dashboard,
    login,
    run_async,
    start_dashboard,
    stop_dashboard,
    wait_healthy,
)
from tests.agent_host.dashboard.seed import seed_state
from tests.agent_host.e2e.conftest import server_env, watch_only
from tests.conftest import free_port
from tests.mcp_server.act_fixtures import StandInAPI

LABELS = {"ig.test": "dashboard-browser"}
PROJECT = "demo-shop"
BUSYBOX = "ig/busybox:test"
# `$$`: compose would read `$(` as its own interpolation
FILL_SHM = "while true; do dd if=/dev/zero of=/dev/shm/cache bs=1M count=$$((RANDOM % 20 + 10)) 2>/dev/null; sleep 4; done"


def live_compose(scope: dict[str, str]) -> str:
    """api (64 MiB limit, health-checked) depends on db (48 MiB limit): a dependency graph with one
    edge. The api keeps 10-30 MiB in /dev/shm (charged to its memory), rewritten every few seconds,
    so the memory text and the chart show a real, moving use."""
    labels = {**LABELS, **scope}
    api = {
        "image": BUSYBOX,
        "command": ["sh", "-c", FILL_SHM],
        "mem_limit": "64m",
        "init": True,
        "labels": labels,
        "depends_on": ["db"],
        "healthcheck": {"test": ["CMD", "true"], "interval": "2s", "timeout": "2s", "retries": 3},
    }
    db = {
        "image": BUSYBOX,
        "command": ["sh", "-c", "sleep 3600"],
        "mem_limit": "48m",
        "init": True,
        "labels": labels,
    }
    return yaml.safe_dump({"services": {"api": api, "db": db}}, sort_keys=False)


# the machine is small and shared: every expectation waits as long as a page may take
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="package")
def standin() -> Iterator[StandIn]:
    """The Dokploy stand-in; its teardown removes every stack it deployed."""
    made = StandIn(service_labels=LABELS)
    with made.serving():
        yield made


@pytest.fixture(scope="package")
def live_stack(standin: StandIn) -> Iterator[tuple[str, dict[str, str]]]:
    """(app name, the detector scope label) of one deployed compose `storefront` in `demo-shop`."""
    scope, _ = watch_only("dashboard")
    api = StandInAPI(standin)
    try:
        environment = api.post("project.create", {"name": PROJECT})["environment"]["environmentId"]
        row = api.post(
            "compose.create",
            {
                "name": "storefront",
                "appName": "igdash-storefront",
                "environmentId": environment,
                "sourceType": "raw",
                "composeType": "docker-compose",
                "composeFile": live_compose(scope),
            },
        )
        api.deploy_compose(row["composeId"])
        yield row["appName"], scope
    finally:
        api.close()


@pytest.fixture(scope="package")
def dashboard(
    standin: StandIn, live_stack: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """`python -m agent_host dashboard` over a seeded state dir, its stdio MCP server on the stand-in."""
    app_name, scope = live_stack
    base = tmp_path_factory.mktemp("dashboard")
    state_dir = base / "agent"
    seeded = run_async(lambda: seed_state(state_dir, app_name))
    token = secrets.token_urlsafe(24)
    env = {
        k: v for k, v in server_env(standin, base / "server").items()
        # this test's settings only: nothing inherited may switch on a model, Telegram or another store
        if not k.startswith(("INFRAGUARDIAN_AGENT__", "OLLAMA_", "TELEGRAM_"))
    }  # fmt: skip
    env.update(
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS=json.dumps(scope),  # this stack's signals only
        INFRAGUARDIAN_AGENT__STATE_DIR=str(state_dir),
        INFRAGUARDIAN_AGENT__DASHBOARD__TOKEN=token,
        INFRAGUARDIAN_AGENT__MEMORY__ENABLED="false",
        # the server's sampler reads memory and CPU every 2 s (default 15): the compose page's chart
        # has a line within seconds (cgroup file reads: cheap)
        INFRAGUARDIAN_DETECTORS__STATS_INTERVAL_S="2",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = base / "dashboard.log"
    process = start_dashboard(port, env, log_file)
    try:
        wait_healthy(url, process, log_file)
        yield Dashboard(url, token, state_dir, seeded, app_name, PROJECT, log_file)
    finally:
        stop_dashboard(process)


@pytest.fixture(scope="module")
def browser(dashboard: Dashboard) -> Iterator[Browser]:
    """Debian's chromium, headless, for one test module. Playwright's sync API keeps an asyncio loop
    running on this thread while it is open, so it must close at the end of its module (the async
    tests of this folder need the thread free) and before the stand-in's teardown (hence `dashboard`)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run .ci/setup (it installs Debian's chromium)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, dashboard: Dashboard) -> StorageState:
    """The session cookie of one login through the form, reused by every test's fresh context."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        login(page, dashboard.url, dashboard.token)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, dashboard: Dashboard, signed_in: StorageState) -> Iterator[Page]:
    """A logged-in page in a context of its own; fails the test on an uncaught script error."""
    context = browser.new_context(viewport=VIEWPORT, storage_state=signed_in, base_url=dashboard.url)
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
