"""check_webhook_auth with the header shapes the tools really sent. The recordings redact the secrets as
`<SECRET>`, so each recorded header is rebuilt with a value of ours in the same shape and place."""

from __future__ import annotations

import base64
import hmac
from pathlib import Path

import pytest
from starlette.datastructures import Headers

from mcp_server.hooks import auth, check_webhook_auth
from tests.hooks.recordings import ALERTMANAGER, UPTIME_KUMA, Recorded, case, load

TOKEN = "tok-3f9a1c"
USER, PASSWORD = "amuser", "pw:with colon é"
AUTH_FILES = sorted((ALERTMANAGER / "all_requests").glob("*.json")) + sorted(
    UPTIME_KUMA.glob("*__json_extra_headers.json")
)


def with_our_secret(recorded: Recorded) -> list[tuple[str, str]]:
    """The recorded headers, wire order and case kept, with `<SECRET>` replaced by our credential."""
    ours = {
        "Bearer <SECRET>": f"Bearer {TOKEN}",
        "Basic <SECRET>": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    }
    return [(name, ours.get(value, value)) for name, value in recorded.headers]


def check(headers: object, **overrides: object) -> bool:
    options: dict[str, object] = {
        "bearer_token": TOKEN,
        "basic_user": USER,
        "basic_password": PASSWORD,
    } | overrides
    return check_webhook_auth(headers, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", AUTH_FILES, ids=lambda p: p.stem)
def test_recorded_requests_pass_exactly_when_they_carried_a_credential(path: Path) -> None:
    recorded = load(path)
    sent = recorded.header("Authorization")
    assert sent in (None, "Bearer <SECRET>", "Basic <SECRET>")
    headers = with_our_secret(recorded)
    assert check(headers) is (sent is not None)
    assert check(Headers(raw=[(n.lower().encode(), v.encode()) for n, v in headers])) is (sent is not None)
    # the same shape with another secret is refused
    assert check(headers, bearer_token="other", basic_password="other") is False


def test_alertmanager_bearer_and_basic_need_their_own_configuration() -> None:
    bearer = with_our_secret(case(ALERTMANAGER, "bearer_authorization__firing"))
    legacy = with_our_secret(case(ALERTMANAGER, "bearer_token_legacy__firing"))
    basic = with_our_secret(case(ALERTMANAGER, "basic_auth__firing"))
    assert case(ALERTMANAGER, "bearer_authorization__firing").path == "/am/bearer?via=authorization"
    assert check(bearer) and check(legacy) and check(basic)
    assert not check(bearer, bearer_token=None) and not check(legacy, bearer_token=None)
    assert not check(basic, basic_user=None, basic_password=None)
    assert not check(basic, basic_user="someone")
    assert check(basic, bearer_token=None)


def test_uptime_kuma_additional_headers_bearer() -> None:
    headers = with_our_secret(case(UPTIME_KUMA, "http_down__json_extra_headers"))
    assert ("X-Kuma-Test", "extra-header-value") in headers
    assert check(headers, basic_user=None, basic_password=None)
    assert not check(with_our_secret(case(UPTIME_KUMA, "http_down__json")))


def test_query_token_only_when_allowed() -> None:
    get = case(UPTIME_KUMA, "http_down__get")
    query = f"token={TOKEN}&{get.query}"  # the token in the configured URL, Kuma's parameters after it
    assert not check(get.headers, query=query)
    assert check(get.headers, query=query, allow_query_token=True)
    assert check(get.headers, query="?" + query, allow_query_token=True)
    assert not check(get.headers, query="token=wrong&" + get.query, allow_query_token=True)
    assert not check(get.headers, query=f"token={TOKEN}&token=x", allow_query_token=True)
    assert not check(get.headers, query=get.query, allow_query_token=True)
    assert not check(get.headers, query=query, allow_query_token=True, bearer_token=None)


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        (f"bearer {TOKEN}", True),
        (f"Bearer  {TOKEN} ", True),
        (f"Bearer {TOKEN}x", False),
        (f"Token {TOKEN}", False),
        ("Bearer ", False),
        ("Basic not-base64!!", False),
        ("Basic " + base64.b64encode(USER.encode()).decode(), False),  # no colon
        ("Basic " + base64.b64encode(f"{USER}:".encode()).decode(), False),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), False),
        ("Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), True),
    ],
)
def test_authorization_header_forms(authorization: str, accepted: bool) -> None:
    assert check({"Authorization": authorization}) is accepted
    assert check([("authorization", authorization)]) is accepted


def test_two_authorization_headers_are_refused_even_if_one_is_right() -> None:
    pairs = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong")]
    assert not check(pairs)
    assert not check(Headers(raw=[(b"authorization", v.encode()) for _, v in pairs]))


def test_nothing_configured_accepts_nothing() -> None:
    headers = with_our_secret(case(ALERTMANAGER, "bearer_authorization__firing"))
    assert not check_webhook_auth(headers, bearer_token=None, basic_user=None, basic_password=None)
    assert not check_webhook_auth(headers, bearer_token="", basic_user=None, basic_password=None)


def test_credentials_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both halves of basic auth go through hmac.compare_digest, even when the user is already wrong."""
    compared: list[bytes] = []
    real_compare = hmac.compare_digest

    def recording_compare(given: bytes, expected: bytes) -> bool:
        compared.append(expected)
        return real_compare(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording_compare)
    wrong_user = "Basic " + base64.b64encode(f"mallory:{PASSWORD}".encode()).decode()
    assert not check({"Authorization": wrong_user})
    assert compared == [USER.encode(), PASSWORD.encode()]
    assert check({"Authorization": f"Bearer {TOKEN}"})
    assert compared[-1] == TOKEN.encode()
