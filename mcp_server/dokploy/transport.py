"""The wire layer under the Dokploy client: one pooled httpx connection, auth, retries, limits.

Dokploy's REST surface is `<base>/api/<router>.<procedure>`: GET with a query string for tRPC
queries, POST with a JSON body (`{}` when there is no input) for mutations, header `x-api-key`.
A 200 with an empty body means the procedure returned nothing. Errors come back as tRPC JSON,
except the 401 (`{"message":"Unauthorized"}`) and what proxies in front of Dokploy send (HTML).

Retries are only where repeating is safe: a GET, or any request that never reached the server
(connect error). A mutation that may have arrived is never repeated blindly.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mcp_server.dokploy import errors as e
from mcp_server.dokploy.openapi import encode_query

RETRYABLE_STATUS = frozenset({502, 503, 504})
USER_AGENT = "infraguardian/0.1 (+https://github.com/infraguardian)"


@dataclass
class CallStats:
    """Per-operation counters, for the audit log and the `--stats` view."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {
            op: {
                "calls": self.calls[op],
                "errors": self.errors[op],
                "retries": self.retries[op],
                "seconds": round(self.seconds.get(op, 0.0), 4),
            }
            for op in sorted(self.calls)
        }


class TokenBucket:
    """A client-side rate limit that lets a burst through at once and only spaces sustained load.

    The bucket holds up to `burst` tokens and refills at `rate_per_s`; each call takes one token and
    waits only when the bucket is empty. So a handful of sequential calls costs nothing, while a
    long run settles at `rate_per_s`. `clock` and `sleep` can be replaced in tests.
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1, got {rate_per_s} and {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = anyio.Lock()  # waiters queue in order instead of racing for each new token

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now

    async def acquire(self) -> None:
        """Take one token, waiting until one is there."""
        async with self._lock:
            self._refill()
            # the epsilon absorbs float rounding: a sleep of exactly the missing share must do
            while self._tokens < 1.0 - 1e-9:
                await self._sleep((1.0 - self._tokens) / self.rate_per_s)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)


class _Retryable(Exception):
    """Internal: a failure that is safe to repeat; carries the error to raise if retries run out."""

    def __init__(self, error: e.DokployError) -> None:
        super().__init__(str(error))
        self.error = error


class DokployTransport:
    """Sends one Dokploy procedure call and turns the answer into data or a `DokployError`."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr | str | None,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        rate_per_s: float = 10.0,
        burst: int = 20,
        backoff_initial_s: float = 0.25,
        backoff_max_s: float = 5.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        self.max_retries = max_retries
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._limiter = TokenBucket(rate_per_s, burst)
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"user-agent": USER_AGENT, "accept": "application/json"},
            follow_redirects=False,
        )
        self.stats = CallStats()

    async def aclose(self) -> None:
        await self._http.aclose()

    def url_for(self, name: str) -> str:
        return f"{self.base_url}/api/{name}"

    async def request(self, name: str, method: str, data: dict[str, Any] | None = None) -> Any:
        """Call procedure `name` (`compose.one`) and return the decoded body (None if empty)."""
        self.stats.calls[name] += 1
        started = time.perf_counter()
        safe_to_repeat_any = method == "GET"

        def _retry_on(exc: BaseException) -> bool:
            return isinstance(exc, _Retryable)

        def _count_retry(state: RetryCallState) -> None:
            self.stats.retries[name] += 1

        retrying = AsyncRetrying(
            retry=retry_if_exception(_retry_on),
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait_exponential_jitter(
                multiplier=self._backoff[0], max=self._backoff[1], jitter=self._backoff[0]
            ),
            before_sleep=_count_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(name, method, data, safe_to_repeat_any)
        except _Retryable as exc:
            self.stats.errors[name] += 1
            raise exc.error from None
        except e.DokployError:
            self.stats.errors[name] += 1
            raise
        finally:
            self.stats.seconds[name] = self.stats.seconds.get(name, 0.0) + time.perf_counter() - started
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, name: str, method: str, data: dict[str, Any] | None, repeatable: bool) -> Any:
        headers = {"x-api-key": self._api_key.get_secret_value()}
        url = self.url_for(name)
        await self._limiter.acquire()
        try:
            if method == "GET":
                params: list[tuple[str, str | int | float | bool | None]] = list(encode_query(data or {}))
                resp = await self._http.get(url, params=params, headers=headers)
            else:
                body = json.dumps(data if data is not None else {}, separators=(",", ":"))
                headers["content-type"] = "application/json"
                resp = await self._http.post(url, content=body.encode(), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never reached Dokploy: repeating it is safe even for a mutation.
            raise _Retryable(
                e.UnreachableError(
                    f"cannot connect to Dokploy at {self.base_url} ({_reason(exc)}); "
                    "check DOKPLOY_URL and that the panel is up",
                    operation=name,
                )
            ) from exc
        except httpx.TimeoutException as exc:
            err = e.DokployTimeoutError(
                f"Dokploy did not answer within the timeout ({type(exc).__name__})", operation=name
            )
            if repeatable:
                raise _Retryable(err) from exc
            raise err from exc
        except httpx.HTTPError as exc:
            err2 = e.UnreachableError(f"connection to Dokploy failed: {_reason(exc)}", operation=name)
            if repeatable:
                raise _Retryable(err2) from exc
            raise err2 from exc
        result = decode_response(name, resp)
        if isinstance(result, e.DokployError):
            if repeatable and resp.status_code in RETRYABLE_STATUS:
                raise _Retryable(result)
            raise result
        return result


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def decode_response(name: str, resp: httpx.Response) -> Any:
    """Body of a successful answer, or the `DokployError` that describes a failed one."""
    status = resp.status_code
    ctype = resp.headers.get("content-type", "")
    raw = resp.content
    body: Any = None
    is_json = False
    if raw:
        try:
            body = json.loads(raw)
            is_json = True
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
    if status == 200:
        if not raw:
            return None
        if not is_json or "json" not in ctype:
            return e.ServerError(
                f"Dokploy answered 200 with {ctype or 'no content type'}, not JSON "
                f"({_snippet(body)}); is DOKPLOY_URL the Dokploy panel and not a proxy page?",
                operation=name,
                status=status,
            )
        return body
    if status == 204:  # HEAD on a query
        return None
    message = _message(body) if is_json else None
    if not is_json and status not in (400, 413):
        return e.ServerError(
            f"HTTP {status} with a non-Dokploy body ({_snippet(body)}): "
            "a proxy or load balancer in front of Dokploy answered; check it and DOKPLOY_URL",
            operation=name,
            status=status,
            body=body,
        )
    kw: dict[str, Any] = {"operation": name, "status": status, "body": body}
    if status == 401:
        detail = message if message and message != "Unauthorized" else "Unauthorized"
        return e.UnauthorizedError(f"{detail}: {e.UNAUTHORIZED_HINT}", **kw)
    if status == 403:
        return e.ForbiddenError(message or "Forbidden: the API key's user lacks access", **kw)
    if status == 404:
        data = body.get("data") if isinstance(body, dict) else None
        if message == "Not found" and isinstance(data, dict) and "path" not in data:
            return e.NotFoundError(
                "this Dokploy does not serve that operation with this method "
                "(unknown procedure, or a GET/POST mix-up; is its version older?)",
                **kw,
            )
        return e.NotFoundError(message or "not found", **kw)
    if status == 409:
        return e.ConflictError(message or "conflict", **kw)
    if status in (408, 504):
        return e.DokployTimeoutError(message or f"HTTP {status}: gateway or server timeout", **kw)
    if status in (400, 413, 415, 422):
        issues = body.get("issues") if isinstance(body, dict) else None
        if isinstance(issues, list) and issues:
            detail = "; ".join(_issue_line(i) for i in issues[:8])
            return e.ValidationError(f"Dokploy rejected the input: {detail}", issues=issues, **kw)
        text = message or (body if isinstance(body, str) else f"HTTP {status}")
        return e.ValidationError(str(text), **kw)
    if status == 429:
        return e.ServerError(message or "rate limited by Dokploy (429)", **kw)
    if status >= 500:
        return e.ServerError(message or f"HTTP {status} from Dokploy", **kw)
    return e.DokployError(message or f"unexpected HTTP {status}", **kw)


def _message(body: Any) -> str | None:
    # Messages can span lines (docker's stderr inside "Command execution failed: ..."): keep them
    # whole but on one line, so every error stays a single actionable line.
    text = body.get("message") if isinstance(body, dict) else body
    if isinstance(text, str):
        return " ".join(text.split())[:500]
    return None


def _issue_line(issue: Any) -> str:
    if not isinstance(issue, dict):
        return str(issue)
    path = ".".join(str(p) for p in issue.get("path", [])) or "(input)"
    return f"{path}: {issue.get('message', issue.get('code', 'invalid'))}"


_TITLE = re.compile(r"<title>(.*?)</title>", re.I | re.S)


def _snippet(body: Any) -> str:
    if body is None:
        return "empty body"
    text = body if isinstance(body, str) else json.dumps(body)
    m = _TITLE.search(text)
    if m:
        return f"HTML page titled {m.group(1).strip()[:80]!r}"
    text = " ".join(text.split())
    return repr(text[:120])
