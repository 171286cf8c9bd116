"""read_logs' digest reads past the raw tail's 256 KiB: in a flood (found by the lab's log-flood
scenario) the one causal line sits megabytes before the end, and the digest must still show it."""

from __future__ import annotations

import secrets
import time

import anyio
import docker
import pytest
from mcp import Client

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

CAUSE = "FATAL: envconfig: required key DATABASE_URL missing value"
# 10,000 warm-up lines, the cause, 89,999 shutdown lines (~5 MB after it), then exit 1
FLOOD = (
    "awk 'BEGIN { for (i = 1; i <= 100000; i++) {"
    f' if (i == 10001) print "{CAUSE}";'
    ' else printf "INFO shutdown: worker %d drained %d pending writes of shard %d\\n", i % 64, i % 131, i % 16'
    " } }'; exit 1"
)


async def test_the_digest_finds_one_causal_line_megabytes_before_the_end(mcp_client: Client) -> None:
    engine = docker.from_env()
    name = f"ig-test-logflood-{secrets.token_hex(3)}"
    container = engine.containers.run("ig/busybox:test", ["sh", "-c", FLOOD], name=name, detach=True)
    try:
        deadline = time.monotonic() + 120
        while container.status != "exited" and time.monotonic() < deadline:
            await anyio.sleep(0.5)
            container.reload()
        assert container.status == "exited", "the flood did not finish in 120 s"
        digest = await mcp_client.call_tool("read_logs", {"container": name, "tail": 100_000})
        result = digest.structured_content
        assert result is not None and result["lines_read"] == 100_000, result
        assert CAUSE in result["text"]  # 100,000 lines are ~5 MB: the raw cap (256 KiB) held ~5,000
    finally:
        container.remove(force=True)
        engine.close()


# First run: the cause, exit 1. The restart policy starts it again; that run floods 150,000 lines
# (more than the tail) and keeps running, as a crash-looping service does between two crashes.
RESTARTED = (
    "if [ ! -e /tmp/ran ]; then touch /tmp/ran; echo 'INFO starting'; "
    f'echo "{CAUSE}"; exit 1; fi; '
    "awk 'BEGIN { for (i = 1; i <= 150000; i++) printf \"INFO cache warm-up: loaded sku-%07d\\n\", i }'; "
    "echo 'INFO warm-up done'; exec sleep 3600"
)


async def test_the_digest_of_a_restarted_container_reads_the_run_that_crashed(mcp_client: Client) -> None:
    engine = docker.from_env()
    name = f"ig-test-logflood-{secrets.token_hex(3)}"
    container = engine.containers.run(
        "ig/busybox:test", ["sh", "-c", RESTARTED], name=name, detach=True, init=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )  # fmt: skip
    try:
        for _ in range(240):  # at most 120 s for the flood of the second run
            if b"warm-up done" in container.logs(tail=1):
                break
            await anyio.sleep(0.5)
        container.reload()
        assert container.attrs["RestartCount"] == 1 and container.status == "running"
        digest = await mcp_client.call_tool("read_logs", {"container": name, "tail": 100_000})
        result = digest.structured_content
        assert result is not None and CAUSE in result["text"], result
    finally:
        container.remove(force=True)
        engine.close()


# First run: the cause, exit 1. The second run floods without end while the digest reads: between
# its read of this run and its read of the run before, this run writes thousands of lines more.
STILL_FLOODING = (
    "if [ ! -e /tmp/ran ]; then touch /tmp/ran; echo 'INFO starting'; "
    f'echo "{CAUSE}"; exit 1; fi; '
    "awk 'BEGIN { for (i = 1; ; i++) printf \"INFO cache warm-up: loaded sku-%09d\\n\", i }'"
)


async def test_the_digest_finds_the_crashed_run_while_the_next_run_still_floods(mcp_client: Client) -> None:
    engine = docker.from_env()
    name = f"ig-test-logflood-{secrets.token_hex(3)}"
    container = engine.containers.run(
        "ig/busybox:test", ["sh", "-c", STILL_FLOODING], name=name, detach=True, init=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )  # fmt: skip
    try:
        for _ in range(120):
            container.reload()
            if container.attrs["RestartCount"] == 1 and container.status == "running":
                break
            await anyio.sleep(0.25)
        assert container.attrs["RestartCount"] == 1 and container.status == "running"
        for tail in (5000, 100_000):  # a default read and a crash runbook's
            digest = await mcp_client.call_tool("read_logs", {"container": name, "tail": tail})
            result = digest.structured_content
            assert result is not None and CAUSE in result["text"], (tail, result and result["text"][-2000:])
    finally:
        container.remove(force=True)
        engine.close()
