"""Is a webhook request allowed? `check_webhook_auth` compares its credentials in constant time.

Accepted, as the tools send them (recorded in `shared/monitors/`):
- `Authorization: Bearer <token>`: Alertmanager's `authorization: {type: Bearer, credentials: …}` and its
  legacy `bearer_token: …` both send exactly this; Uptime Kuma sends it when the owner puts
  `{"Authorization": "Bearer <token>"}` in the notification's "Additional Headers" (recorded for the JSON
  preset; its source merges these headers into every variant, GET and form-data included).
- `Authorization: Basic base64(user:password)`: Alertmanager's `basic_auth`.
- `?token=<token>` in the URL, only when the caller allows it (`allow_query_token=True`). Why: a webhook
  URL is the one thing every sender can be given, even one that cannot set headers, and both tools keep
  the configured query string (Alertmanager passes `/am/bearer?via=authorization` unchanged; Uptime
  Kuma's GET variant appends its msg/heartbeat/monitor after an existing query). The cost: a token in a
  URL lands in access logs and in Uptime Kuma's settings page, so the header is preferred and this stays
  off unless configured.

Fails closed: with no credential configured nothing is accepted (the caller decides whether a route may
run without auth at all). A request with two Authorization headers is refused, never guessed at.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]


def check_webhook_auth(
    headers: HeadersLike,
    *,
    bearer_token: str | None,
    basic_user: str | None,
    basic_password: str | None,
    query: str = "",
    allow_query_token: bool = False,
) -> bool:
    """True when the request carries a configured credential.

    `headers`: a mapping (case-insensitive like Starlette's `Headers`, or a plain dict) or a list of
    (name, value) pairs in wire case. `query`: the raw query string; read only for `?token=` when
    `allow_query_token` is set, and compared with `bearer_token`.
    """
    authorizations = _header_values(headers, "authorization")
    if len(authorizations) > 1:
        return False
    accepted = False
    if authorizations:
        scheme, _, credentials = authorizations[0].strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and bearer_token:
            accepted = _same(credentials, bearer_token)
        elif scheme.lower() == "basic" and basic_user is not None and basic_password:
            accepted = _basic_matches(credentials, basic_user, basic_password)
    if not accepted and allow_query_token and bearer_token:
        tokens = [
            value
            for name, value in parse_qsl(query.removeprefix("?"), keep_blank_values=True)
            if name == "token"
        ]
        accepted = len(tokens) == 1 and _same(tokens[0], bearer_token)
    return accepted


def _header_values(headers: HeadersLike, name: str) -> list[str]:
    """Every value of header `name`, whatever case it arrived in."""
    if isinstance(headers, Mapping):
        getlist = getattr(headers, "getlist", None)  # Starlette's Headers: repeated headers kept
        if callable(getlist):
            return list(getlist(name))
        pairs: Iterable[tuple[str, str]] = headers.items()
    else:
        pairs = headers
    return [value for key, value in pairs if key.lower() == name]


def _basic_matches(credentials: str, user: str, password: str) -> bool:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, sep, given_password = decoded.partition(":")
    # both compared every time, so the answer's timing does not tell which half was wrong
    user_ok = _same(given_user, user)
    password_ok = _same(given_password, password)
    return bool(sep) and user_ok and password_ok


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
