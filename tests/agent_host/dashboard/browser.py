"""Helpers for the dashboard's browser tests: Debian's chromium driven by Playwright, the dashboard
served by the real command, and the agent's database reached from the test.

Playwright's own browser download is blocked here, so the browser is Debian's `chromium` (.ci/setup
installs it), launched by path. The dashboard runs as `python -m agent_host dashboard` in a process
of its own, over a seeded state directory (seed.py), with its stdio MCP server wired to the Dokploy
stand-in and the real engine, exactly as an owner starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
from playwright.sync_api import Page, ViewportSize

from tests.agent_host.dashboard.seed import Seeded

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # the tests run as root, where chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}  # the README screenshots are 1280 px wide
# the machine is small and shared: generous waits, never timing asserts
WAIT_MS = 30_000
LIVE_WAIT_MS = 60_000
SCREENSHOTS_ENV = "INFRAGUARDIAN_SCREENSHOTS_DIR"


@dataclass
class Dashboard:
    """The dashboard under test: where it listens, its token, and what its state holds."""

    url: str
    token: str
    state_dir: Path
    seeded: Seeded
    app_name: str  # the live stack (deployed through the stand-in, on the real engine)
    project: str
    log_file: Path
    started: float = field(default_factory=time.monotonic)  # when it answered /healthz


def run_async(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work()` to completion on an event loop of its own, in a worker thread: Playwright's sync
    API keeps an asyncio loop running on the test's thread, so anyio.run cannot be called there."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["value"] = anyio.run(work)
        except BaseException as exc:  # handed back to the test's thread, raised there
            box["error"] = exc

    thread = threading.Thread(target=main, name="dashboard-test-db")
    thread.start()
    thread.join(timeout=120)
    if thread.is_alive():
        raise TimeoutError("the database call from the test did not finish within 120 s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def start_dashboard(port: int, env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    """`infraguardian-agent dashboard --port PORT` (as `python -m agent_host`, the same entry point
    without uv's start-up), its output into `log_file`."""
    with log_file.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent_host", "dashboard", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its stdio MCP server goes with it when the test stops it
        )


def wait_healthy(url: str, process: subprocess.Popen[bytes], log_file: Path, timeout_s: float = 90) -> None:
    """Until GET /healthz answers 200; fails with the dashboard's own output when it exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"the dashboard exited with code {process.returncode} before serving:\n"
                + log_file.read_text(errors="replace")[-4000:]
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.3)
    raise AssertionError(
        f"the dashboard did not answer /healthz within {timeout_s:.0f} s:\n"
        + log_file.read_text(errors="replace")[-4000:]
    )


def stop_dashboard(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL of its process group after 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def login(page: Page, base_url: str, token: str) -> None:
    """Log in through the /login form, as a person does."""
    page.goto(f"{base_url}/login")
    page.fill("form#login input[name=token]", token)
    page.click("form#login button[type=submit]")
    page.wait_for_load_state()


def wait_live(page: Page) -> None:
    """Until the page's event stream is open (the script marks <body data-live="connected"> on the
    server's hello): a change made before that could be announced to nobody."""
    page.wait_for_selector('body[data-live="connected"]', state="attached")


def screenshots_wanted() -> bool:
    return bool(os.environ.get(SCREENSHOTS_ENV))


def let_history_grow(page: Page, dashboard: Dashboard, seconds: float = 60) -> None:
    """For a README picture only: wait until the dashboard's server has sampled the live stack for
    `seconds` (a chart with a line, not a dot), then reload the page."""
    left = seconds - (time.monotonic() - dashboard.started)
    if left > 0:
        page.wait_for_timeout(left * 1000)
    page.reload()


def snapshot(page: Page, name: str) -> None:
    """A full-page PNG of the current page into $INFRAGUARDIAN_SCREENSHOTS_DIR (README screenshots),
    when that is set; nothing otherwise."""
    if not screenshots_wanted():
        return
    target = os.environ[SCREENSHOTS_ENV]
    if page.locator("[data-live]").count():
        wait_live(page)  # the header's badge then says "live", not "connecting"
    Path(target).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)
