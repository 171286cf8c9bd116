"""Reading the number a rule watches: one GET of its URL, then the value in the body (a Prometheus
metric, a JSON field) or the time the GET took.

The GET follows redirects only within the same scheme, host and port (a metrics URL that sends us
elsewhere is a mistake to report, not to follow), reads at most `max_bytes` of the body, and gives up
after `timeout_s` in all. Errors are one line with credentials and tokens masked.
"""

from __future__ import annotations

import json
import math
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import anyio

from mcp_server.redaction import redact_text

from .rules import MetricRule

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 3
_ACCEPT = "text/plain;version=0.0.4;q=0.9, application/json;q=0.9, */*;q=0.5"


class SourceError(Exception):
    """The number could not be read (request failed, bad body, no such series). One line."""


@dataclass(frozen=True)
class Reading:
    """One GET of a URL: status and body (None/empty when it failed), how long it took, and why
    it failed. `elapsed_ms` runs until the last body byte read (or the failure)."""

    url: str
    status: int | None
    body: bytes
    elapsed_ms: float
    error: str | None = None
    truncated: bool = False  # the body was longer than the cap: only its start was read


def make_client(timeout_s: float, verify_tls: bool) -> httpx.AsyncClient:
    """One client for a round of reads: no redirects followed by httpx itself (see `read_url`),
    no proxy from the environment (rule URLs are usually internal service names)."""
    import httpx  # here, not at the top: `status` imports the detectors and never reads a rule

    verify: ssl.SSLContext | bool = _tls_context() if verify_tls else False
    # No keep-alive: each URL is read once a round and the client lives one round, so an idle
    # connection is never reused, and httpcore checks every pooled connection on each request (with
    # 50 rule URLs that check cost more CPU than the reads themselves, bench/RESULTS.md).
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.AsyncClient(
        timeout=timeout_s, follow_redirects=False, trust_env=False, verify=verify, limits=limits
    )


_TLS_CONTEXT: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """The system trust store, loaded once per process (loading it costs ~10 ms each time)."""
    global _TLS_CONTEXT
    if _TLS_CONTEXT is None:
        _TLS_CONTEXT = ssl.create_default_context()
    return _TLS_CONTEXT


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact_text(f"{type(exc).__name__}: {text}")[:300]


async def read_url(client: httpx.AsyncClient, url: str, *, timeout_s: float, max_bytes: int) -> Reading:
    """GET `url` once (following same-origin redirects); never raises for network problems."""
    import httpx

    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    current = url
    try:
        with anyio.fail_after(timeout_s):
            for _ in range(MAX_REDIRECTS + 1):
                async with client.stream("GET", current, headers={"Accept": _ACCEPT}) as response:
                    if response.is_redirect:
                        target = urljoin(current, response.headers.get("location", ""))
                        if _origin(target) != _origin(current):
                            shown = redact_text(target)[:120]
                            raise SourceError(
                                f"redirected to another host ({shown}); point the rule at the final URL"
                            )
                        current = target
                        continue
                    body, truncated = await _read_capped(response, max_bytes)
                    return Reading(url, response.status_code, body, elapsed(), truncated=truncated)
            raise SourceError(f"more than {MAX_REDIRECTS} redirects; point the rule at the final URL")
    except TimeoutError:
        return Reading(url, None, b"", elapsed(), f"no answer within {timeout_s:g}s")
    except SourceError as exc:
        return Reading(url, None, b"", elapsed(), str(exc))
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
        return Reading(url, None, b"", elapsed(), _one_line(exc))


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks)[:max_bytes], True
    return b"".join(chunks), False


def value_of(rule: MetricRule, reading: Reading, *, timeout_s: float) -> float:
    """The number `rule` judges in `reading`. For latency rules: the time in ms, and the timeout
    (in ms) when the request failed or answered with a status >= 400 (a fast error is no fast
    answer). Raises SourceError for the other kinds when the value can't be read."""
    if rule.source_kind == "latency":
        if reading.error is not None or reading.status is None or reading.status >= 400:
            return timeout_s * 1000.0
        return reading.elapsed_ms
    if reading.error is not None:
        raise SourceError(reading.error)
    if reading.status is None or not 200 <= reading.status < 300:
        raise SourceError(f"HTTP {reading.status} from {redact_text(reading.url)[:120]}")
    if reading.truncated:
        raise SourceError(
            f"the body is larger than {len(reading.body) // 1024} KiB; point the rule at a smaller endpoint"
        )
    text = reading.body.decode("utf-8", "replace")
    if rule.source_kind == "json":
        return json_value(text, rule.metric)
    return prometheus_value(text, rule)


def prometheus_value(text: str, rule: MetricRule) -> float:
    """The sum of the samples named `rule.metric` whose labels match the rule's matchers, parsed
    with prometheus_client's parser. Only the lines of that metric are parsed (a big scrape costs
    a line scan, not a full parse). Raises SourceError when no sample matches or the text is bad."""
    from prometheus_client.parser import text_string_to_metric_families

    name = rule.metric
    lines = [
        line
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ", "\t")
    ]
    total = 0.0
    matched = 0
    try:
        for family in text_string_to_metric_families("\n".join(lines) + "\n"):
            for sample in family.samples:
                if sample.name == name and all(m.matches(sample.labels) for m in rule.matchers):
                    total += float(sample.value)
                    matched += 1
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise SourceError(
            f"the Prometheus text around {name} could not be parsed ({_one_line(exc)[:120]})"
        ) from exc
    if not matched:
        what = "series" if not lines else "series with these labels"
        raise SourceError(
            f"no {what} {rule.selector()[:120]} in the scrape ({len(lines)} line(s) named {name})"
        )
    if math.isnan(total):
        raise SourceError(f"{rule.selector()[:120]} is NaN")
    return total


def json_value(text: str, path: str) -> float:
    """The number at `path` (dotted keys, list indexes as numbers: `items.0.count`) of a JSON
    document. A numeric string counts; true/false are 1/0. Raises SourceError otherwise."""
    try:
        node: Any = json.loads(text)
    except ValueError as exc:
        raise SourceError(f"the body is not JSON ({_one_line(exc)[:120]})") from exc
    walked: list[str] = []
    for part in path.split(".") if path else []:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            at = ".".join(walked) or "the top"
            kind = "list" if isinstance(node, list) else "object" if isinstance(node, dict) else "value"
            raise SourceError(f"no '{part[:60]}' in the JSON {kind} at {at}")
        walked.append(part)
    if isinstance(node, bool):
        return 1.0 if node else 0.0
    if isinstance(node, int | float):
        return float(node)
    if isinstance(node, str):
        try:
            number = float(node.strip())
        except ValueError:
            pass
        else:
            if not math.isnan(number):
                return number
    shown = json.dumps(node)[:60]
    raise SourceError(f"json:{path} is {shown}, not a number")
