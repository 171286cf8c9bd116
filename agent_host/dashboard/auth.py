"""Who may see the dashboard: the holder of its token.

A request is let in with `Authorization: Bearer <token>` (scripts, the deploy test) or with the
session cookie a browser gets by posting the token to /login. The cookie's value is an HMAC of the
token, not the token: it cannot be turned back into the token, and changing the token logs every
browser out. A form that changes something also carries a CSRF value (another HMAC of the token)
and, when the browser sends one, an Origin matching the dashboard's own host; the cookie is
SameSite=Strict besides. Comparisons are constant-time.

Where the token comes from (`resolve_token`): the dashboard's own setting or file, else the token the
agent uses for its MCP server (one secret for both, as the issue asks), else one generated into
`<state_dir>/dashboard-token` (0600) — never printed, only where it is.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.requests import Request

if TYPE_CHECKING:
    from agent_host.settings import AgentSettings

COOKIE_NAME = "ig_session"
TOKEN_FILE_NAME = "dashboard-token"  # noqa: S105 - a file name, not a secret
MIN_TOKEN_CHARS = 16


class DashboardTokenError(ValueError):
    """The dashboard's token cannot be used (empty, too short, unreadable file); says which setting."""


@dataclass(frozen=True)
class TokenSource:
    token: str
    where: str  # for the log: which setting or file it came from (never the token)


def _read_file(path: Path, setting: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DashboardTokenError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    if not text:
        raise DashboardTokenError(f"{setting}: {path} is empty")
    return text


def _generated(path: Path) -> str:
    """The token in `path`, created (0600, 32 random bytes) the first time."""
    if path.exists():
        return _read_file(path, "the generated dashboard token")
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return _read_file(path, "the generated dashboard token")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token


def resolve_token(settings: AgentSettings) -> TokenSource:
    """The dashboard's token and where it came from; `DashboardTokenError` names a bad setting."""
    dash = settings.dashboard
    prefix = "INFRAGUARDIAN_AGENT__"
    if dash.token is not None:
        token, where = dash.token.get_secret_value().strip(), f"{prefix}DASHBOARD__TOKEN"
    elif dash.token_file is not None:
        token = _read_file(dash.token_file, f"{prefix}DASHBOARD__TOKEN_FILE")
        where = str(dash.token_file)
    elif settings.server_token is not None:
        token, where = settings.server_token.get_secret_value().strip(), f"{prefix}SERVER_TOKEN"
    elif settings.server_token_file is not None:
        token = _read_file(settings.server_token_file, f"{prefix}SERVER_TOKEN_FILE")
        where = str(settings.server_token_file)
    else:
        path = settings.state_dir / TOKEN_FILE_NAME
        token, where = _generated(path), str(path)
    if len(token) < MIN_TOKEN_CHARS:
        raise DashboardTokenError(
            f"the dashboard token from {where} is shorter than {MIN_TOKEN_CHARS} characters; "
            "use a long random one (e.g. `openssl rand -hex 32`)"
        )
    return TokenSource(token, where)


class DashboardAuth:
    """Checks requests against one token (see the module docstring)."""

    def __init__(self, token: str, *, secure_cookie: bool = False) -> None:
        self._token = token.encode()
        self.session_value = self._mac("session")
        self.csrf_value = self._mac("csrf")
        self.secure_cookie = secure_cookie

    def _mac(self, purpose: str) -> str:
        return hmac.new(
            self._token, f"infraguardian-dashboard:{purpose}:v1".encode(), hashlib.sha256
        ).hexdigest()

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.strip().encode(), self._token)

    def allows(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value and self.token_matches(value):
            return True
        cookie = request.cookies.get(COOKIE_NAME, "")
        return bool(cookie) and hmac.compare_digest(cookie, self.session_value)

    def csrf_ok(self, request: Request, offered: str) -> bool:
        """A state-changing form: its CSRF value, and the Origin (when sent) is this host."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
            return False
        return hmac.compare_digest(offered.encode(), self.csrf_value.encode())


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no `//evil`, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
