"""Errors a procedure raises, and the JSON body Dokploy's OpenAPI adapter sends for them.

Production shape (no `data.stack`):
`{"message", "code", "data": {"code", "httpStatus", "path"?, "zodError"}, "issues"?}`.
"""

from __future__ import annotations

from typing import Any

# @trpc/server TRPC_ERROR_CODE_HTTP_STATUS
HTTP_STATUS: dict[str, int] = {
    "PARSE_ERROR": 400,
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_SUPPORTED": 405,
    "TIMEOUT": 408,
    "CONFLICT": 409,
    "PRECONDITION_FAILED": 412,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNPROCESSABLE_CONTENT": 422,
    "TOO_MANY_REQUESTS": 429,
    "CLIENT_CLOSED_REQUEST": 499,
    "INTERNAL_SERVER_ERROR": 500,
    "NOT_IMPLEMENTED": 501,
    "BAD_GATEWAY": 502,
    "SERVICE_UNAVAILABLE": 503,
    "GATEWAY_TIMEOUT": 504,
}


class TRPCError(Exception):
    """A procedure failure with a tRPC code (`NOT_FOUND`, `BAD_REQUEST`, ...) and a message."""

    def __init__(self, code: str, message: str) -> None:
        if code not in HTTP_STATUS:
            raise ValueError(f"unknown tRPC code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]


def not_found(message: str) -> TRPCError:
    return TRPCError("NOT_FOUND", message)


def bad_request(message: str) -> TRPCError:
    return TRPCError("BAD_REQUEST", message)


def internal(message: str) -> TRPCError:
    return TRPCError("INTERNAL_SERVER_ERROR", message)


def command_failed(command: str, output: str) -> TRPCError:
    """What Dokploy's execAsync throws when a shell command exits non-zero."""
    return internal(f"Command execution failed: Command failed: {command}\n{output}")


def spawn_enoent() -> TRPCError:
    """What execAsync throws when its working directory does not exist (node's spawn error)."""
    return internal("Command execution failed: spawn /bin/sh ENOENT")


def error_body(
    code: str,
    message: str,
    path: str | None,
    zod_error: dict[str, Any] | None = None,
    issues: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The adapter's error JSON; `path` is None for 'Not found' (unknown path or wrong method)."""
    data: dict[str, Any] = {"code": code, "httpStatus": HTTP_STATUS[code]}
    if path is not None:
        data["path"] = path
    data["zodError"] = zod_error
    body: dict[str, Any] = {"message": message, "code": code, "data": data}
    if issues is not None:
        body["issues"] = issues
    return body
