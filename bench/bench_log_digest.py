"""Digest speed and size on synthetic but realistic container logs (10k and 100k lines).

The log looks like `docker logs --timestamps` of a Python web app: uvicorn access lines, app
log lines with request ids, JSON lines, ~2% warnings, ~0.5% errors (timeouts, DB errors, HTTP
5xx), a Python traceback every ~20k lines, and a Go panic with a goroutine dump at the end.

Run: uv run python bench/bench_log_digest.py
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from mcp_server.log_analysis.analysis import analyse
from mcp_server.log_analysis.digest import build_digest
from mcp_server.log_analysis.lines import lines_from_bytes
from mcp_server.log_analysis.render import count_tokens, render_digest

PATHS = ("/api/orders/{}", "/api/users/{}/profile", "/health", "/api/cart", "/static/app.{}.js")
TRACEBACK = """Traceback (most recent call last):
  File "/usr/local/lib/python3.12/site-packages/starlette/middleware/errors.py", line 164, in __call__
    await self.app(scope, receive, _send)
  File "/usr/local/lib/python3.12/site-packages/starlette/routing.py", line 74, in app
    response = await func(request)
  File "/app/shop/api/orders.py", line 88, in create_order
    total = pricing.total(cart, coupon)
  File "/app/shop/pricing.py", line 41, in total
    return sum(line.price * line.qty for line in cart.lines) * (1 - coupon.rate)
AttributeError: 'NoneType' object has no attribute 'rate'"""
GO_PANIC = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6f1c2a]

goroutine 42 [running]:
github.com/shop/worker/internal/queue.(*Consumer).handle(0xc0001a2000, {0x8a1f20, 0xc000124000})
\t/src/internal/queue/consumer.go:118 +0x2a
github.com/shop/worker/internal/queue.(*Consumer).Run(0xc0001a2000, {0x8a3c40, 0xc00011e0f0})
\t/src/internal/queue/consumer.go:74 +0x1d5
created by main.main in goroutine 1
\t/src/cmd/worker/main.go:51 +0x3a8
"""


def _goroutines(count: int) -> str:
    parts = []
    for n in range(count):
        parts.append(
            f"goroutine {100 + n} [select]:\n"
            f"github.com/shop/worker/internal/pool.(*Pool).loop(0xc0002{n:05x})\n"
            f"\t/src/internal/pool/pool.go:{60 + n % 7} +0x1a5\n"
            f"created by github.com/shop/worker/internal/pool.New in goroutine 1\n"
            f"\t/src/internal/pool/pool.go:31 +0x9f\n"
        )
    return "\n".join(parts)


def make_log(lines: int, seed: int = 7) -> bytes:
    """`lines` lines of a realistic noisy service log with Docker timestamps."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    out: list[str] = []
    n = 0

    def stamp() -> str:
        moment = start + timedelta(milliseconds=n * 37 + rng.randint(0, 30))
        return (
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000 + rng.randint(0, 999):09d}Z"
        )

    def emit(text: str) -> None:
        nonlocal n
        for part in text.split("\n"):
            out.append(f"{stamp()} {part}")
            n += 1

    tail_reserved = 60
    while n < lines - tail_reserved:
        if n % 25_000 == 5_000:
            emit("ERROR:    Exception in ASGI application\n" + TRACEBACK)
        roll = rng.random()
        request_id = f"{rng.getrandbits(64):016x}"
        if roll < 0.40:
            path = rng.choice(PATHS).format(rng.randint(1, 99999))
            status = rng.choice((200, 200, 200, 201, 204, 304, 404))
            emit(
                f'INFO:     172.18.0.{rng.randint(2, 9)}:{rng.randint(30000, 60000)} - "GET {path} HTTP/1.1" {status}'
            )
        elif roll < 0.70:
            emit(
                f"2026-11-25 09:{n // 2000 % 60:02d}:{n % 60:02d},{rng.randint(0, 999):03d} INFO "
                f"[worker-{rng.randint(1, 8)}] shop.jobs: processed job {request_id} in {rng.randint(3, 900)}ms"
            )
        elif roll < 0.90:
            emit(
                f'{{"level":"info","ts":"2026-11-25T09:00:{n % 60:02d}Z","msg":"cache refresh",'
                f'"keys":{rng.randint(1, 5000)},"request_id":"{request_id}"}}'
            )
        elif roll < 0.975:
            emit(f"2026-11-25 09:00:00,000 DEBUG shop.db: pool checkout conn={rng.randint(1, 20)} wait=0ms")
        elif roll < 0.995:
            emit(
                f"2026-11-25 09:00:00,000 WARNING shop.db: slow query {rng.randint(500, 9000)}ms: "
                f"SELECT * FROM orders WHERE user_id = {rng.randint(1, 9999)}"
            )
        elif roll < 0.997:
            emit(
                f"2026-11-25 09:00:00,000 ERROR shop.payments: provider timeout after 30s "
                f"(order={rng.randint(1, 99999)}, request={request_id})"
            )
        elif roll < 0.998:
            emit(
                "2026-11-25 09:00:00,000 ERROR shop.db: psycopg.OperationalError: connection to server at "
                f'"10.0.3.{rng.randint(2, 9)}", port 5432 failed: Connection refused'
            )
        elif roll < 0.9995:
            emit(
                f'INFO:     172.18.0.3:{rng.randint(30000, 60000)} - "POST /api/orders HTTP/1.1" 502 Bad Gateway'
            )
        else:
            emit(f"2026-11-25 09:00:00,000 INFO shop.health: ok ({rng.randint(1, 50)}ms)")
    emit(GO_PANIC + _goroutines(10))
    emit("exit status 2")
    return ("\n".join(out[:lines]) + "\n").encode()


def bench(lines: int, repeats: int) -> None:
    data = make_log(lines)
    timings = []
    digest = None
    for _ in range(repeats):
        started = time.perf_counter()
        digest = build_digest(analyse(lines_from_bytes(data)), max_tokens=2000)
        timings.append(time.perf_counter() - started)
    assert digest is not None
    text = render_digest(digest)
    print(
        f"{lines:>7,} lines {len(data) / 1e6:6.1f} MB  digest best {min(timings) * 1000:6.0f} ms  "
        f"median {statistics.median(timings) * 1000:6.0f} ms  output {count_tokens(text):5,} tokens "
        f"(budget 2,000)  errors {digest.error_events:,} in {digest.error_template_count} templates, "
        f"traces {digest.trace_occurrences} ({digest.distinct_traces} distinct), warnings {digest.warning_events:,}"
    )


def main() -> None:
    count_tokens("warm up the tokenizer")
    analyse(lines_from_bytes(make_log(500)))  # warm up imports and regex caches
    bench(10_000, repeats=5)
    bench(100_000, repeats=5)
    data = make_log(100_000)
    started = time.perf_counter()
    print(render_digest(build_digest(analyse(lines_from_bytes(data)))))
    print(f"(one more run: {(time.perf_counter() - started) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
