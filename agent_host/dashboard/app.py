"""The dashboard's Starlette app: pages, their live fragments, login, approvals, server-sent events
and a small JSON API. `dashboard_app(sources, token)` builds it; server.py serves it.

Every response carries a Content-Security-Policy that allows scripts only from /static (ours): even
if a template ever failed to escape container text, an injected `<script>` would not run. Pages
are rendered by Jinja2 with autoescaping on; the data is redacted before it gets there (pages.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agent_host.approvals.answering import answer_shown_plan
from agent_host.approvals.book import ApprovalError
from agent_host.dashboard import pages
from agent_host.dashboard.auth import COOKIE_NAME, DashboardAuth, safe_next
from agent_host.dashboard.live import LiveHub
from agent_host.dashboard.sources import DashboardSources
from agent_host.incidents.store import incident_summary
from mcp_server.redaction import redact, redact_text

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
ANSWERED_BY = "dashboard"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mib"] = pages.views.mib
    env.filters["when"] = lambda v: (str(v)[:19].replace("T", " ") + " UTC") if v else ""
    env.filters["quote"] = lambda v: quote(str(v), safe="")
    env.filters["plain"] = pages.views.plain_text
    return env


def dashboard_app(sources: DashboardSources, token: str, *, hub: LiveHub | None = None) -> Starlette:
    """The app; it polls for live updates while it runs (its lifespan starts the hub)."""
    auth = DashboardAuth(token, secure_cookie=sources.settings.dashboard.secure_cookie)
    env = templates()
    hub = hub or LiveHub(sources)

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        body = env.get_template(name).render(
            request_path=request.url.path, csrf=auth.csrf_value, agent_mode=sources.mode_line(), **context
        )
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def protected(page: Handler) -> Handler:
        async def check(request: Request) -> Response:
            if auth.allows(request):
                try:
                    return await page(request)
                except pages.NotFound as exc:
                    if request.url.path.startswith("/api/"):
                        return JSONResponse({"error": str(exc)}, status_code=404, headers=SECURITY_HEADERS)
                    return render(request, "not_found.html", {"message": str(exc)}, status=404)
            if request.url.path.startswith(("/api/", "/events", "/fragments/")) or request.method != "GET":
                return JSONResponse(
                    {"error": "log in first: send `Authorization: Bearer <token>` or use /login"},
                    status_code=401,
                    headers=SECURITY_HEADERS,
                )
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

        return check

    def page_route(
        path: str, template: str, build: Callable[..., Awaitable[dict[str, Any]]], *params: str
    ) -> Route:
        async def page(request: Request) -> Response:
            context = await build(sources, *(request.path_params[p] for p in params))
            return render(request, template, context)

        return Route(path, protected(page))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def login_form(request: Request) -> Response:
        return render(request, "login.html", {"next": safe_next(request.query_params.get("next"))})

    async def login(request: Request) -> Response:
        form = await request.form()
        target = safe_next(str(form.get("next") or "/"))
        if not auth.token_matches(str(form.get("token") or "")):
            log.warning(
                "dashboard: a login with a wrong token from %s",
                request.client.host if request.client else "?",
            )
            context = {
                "next": target,
                "error": "wrong token; it is in the file or variable the agent's log names",
            }
            return render(request, "login.html", context, status=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            auth.session_value,
            httponly=True,
            samesite="strict",
            secure=auth.secure_cookie,
            path="/",
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    async def answer(request: Request) -> Response:
        form = await request.form()
        request_id = request.path_params["request_id"]
        if not auth.csrf_ok(request, str(form.get("csrf") or "")):
            return JSONResponse(
                {"error": "the form is stale or came from another site; reload the page"}, 403
            )
        decision = str(form.get("decision") or "")
        if decision not in ("approve", "deny"):
            return JSONResponse({"error": "decision must be approve or deny"}, 400)
        try:
            await answer_shown_plan(
                sources.approvals, sources.store, request_id,
                approve=decision == "approve", by=ANSWERED_BY, shown_plan_hash=str(form.get("plan_hash") or ""),
            )  # fmt: skip
        except ApprovalError as exc:
            error = quote(redact_text(str(exc)), safe="")
            return RedirectResponse(
                f"/approvals?error={error}&id={quote(request_id, safe='')}", status_code=303
            )
        hub.publish("approvals")
        return RedirectResponse(f"/approvals?answered={quote(request_id, safe='')}", status_code=303)

    async def approvals_page(request: Request) -> Response:
        context = await pages.approvals(sources)
        context["error"] = request.query_params.get("error")
        context["error_id"] = request.query_params.get("id")
        context["just_answered"] = request.query_params.get("answered")
        return render(request, "approvals.html", context)

    async def events(request: Request) -> Response:
        return EventSourceResponse(hub.events(), headers=SECURITY_HEADERS, ping=15)

    def fragment(template: str, build: Callable[..., Awaitable[dict[str, Any]]], *params: str) -> Route:
        async def part(request: Request) -> Response:
            context = await build(sources, *(request.path_params[p] for p in params))
            return render(request, f"parts/{template}", context)

        path = "/fragments/" + template.removesuffix(".html") + "".join(f"/{{{p}}}" for p in params)
        return Route(path, protected(part))

    async def api_status(request: Request) -> Response:
        context = await pages.agent(sources)
        body = {
            "mode": context["mode"],
            "server": context["server"],
            "open_incidents": [
                {"id": i["id"], "status": i["status"], "target": i["target_text"]}
                for i in context["unfinished"]
            ],
            "where": context["where"],
            "blocked": context["blocked"],
        }
        return JSONResponse(redact(body), headers=SECURITY_HEADERS)

    async def api_incidents(request: Request) -> Response:
        found = await sources.incidents(int(request.query_params.get("limit", "100")))
        return JSONResponse(redact([incident_summary(i) for i in found]), headers=SECURITY_HEADERS)

    async def api_incident(request: Request) -> Response:
        found = await sources.incident(request.path_params["incident_id"])
        if found is None:
            raise pages.NotFound(f"no incident {request.path_params['incident_id']!r}")
        return JSONResponse(pages.incident_dict(found), headers=SECURITY_HEADERS)

    async def api_approvals(request: Request) -> Response:
        return JSONResponse(await pages.approvals(sources), headers=SECURITY_HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import anyio

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(hub.run)
            yield
            tasks.cancel_scope.cancel()

    routes = [
        Route("/healthz", healthz),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        page_route("/", "overview.html", pages.overview),
        page_route("/project/{name}", "project.html", pages.project, "name"),
        page_route("/compose/{app_name}", "compose.html", pages.compose, "app_name"),
        page_route("/incidents", "incidents.html", pages.incidents),
        page_route("/incidents/{incident_id}", "incident.html", pages.incident, "incident_id"),
        page_route("/agent", "agent.html", pages.agent),
        Route("/approvals", protected(approvals_page)),
        Route("/approvals/{request_id}", protected(answer), methods=["POST"]),
        Route("/events", protected(events)),
        fragment("stacks.html", pages.overview),
        fragment("incident_list.html", pages.incidents),
        fragment("incident_detail.html", pages.incident, "incident_id"),
        fragment("agent_state.html", pages.agent),
        fragment("approval_tables.html", pages.approvals),
        Route("/api/status", protected(api_status)),
        Route("/api/incidents", protected(api_incidents)),
        Route("/api/incidents/{incident_id}", protected(api_incident)),
        Route("/api/approvals", protected(api_approvals)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.hub = hub
    return app
