"""Errors of the Dokploy client, mapped from Dokploy's real responses.

Every error renders as one actionable line. The hierarchy is small on purpose: callers catch
`DokployError`, or one of the leaves when they can do something specific about it.
"""

from __future__ import annotations

from typing import Any


class DokployError(Exception):
    """Any failure talking to Dokploy."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.status = status
        self.body = body

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{where}{self.message}"


class UnauthorizedError(DokployError):
    """401: missing, wrong, expired or rate-limited API key (Dokploy cannot tell which)."""


class ForbiddenError(DokployError):
    """403: the key's user lacks access to this organization or feature."""


class NotFoundError(DokployError):
    """404: the id does not exist, or the operation is not served by this Dokploy."""


class ValidationError(DokployError):
    """400: the input was rejected (by our own check before sending, or by Dokploy's zod)."""

    def __init__(self, message: str, *, issues: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.issues = issues or []


class ConflictError(DokployError):
    """409: e.g. an appName that is already taken."""


class ServerError(DokployError):
    """5xx or an answer that is not Dokploy's (an HTML page from a proxy, a broken body)."""


class DokployTimeoutError(DokployError):
    """Dokploy did not answer in time, or a deployment did not finish in time."""


class UnreachableError(DokployError):
    """No connection to Dokploy at all (DNS, refused, TLS)."""


UNAUTHORIZED_HINT = (
    "check DOKPLOY_API_KEY; note that an API key created through the API without "
    '"rateLimitEnabled": false allows only 10 verifications a day (5 REST calls) and then '
    "answers 401 for 24 h: create the key in Settings → Profile → API/CLI, or with rateLimitEnabled:false"
)
