"""Unhealthy detector, our own probe of the container's port: a web server whose HEALTHCHECK asks
the wrong port answers our GET (its check is wrong, not the process); a container whose process
does not listen does not answer; an opted-out container and one without ports are not probed, and
the evidence says why. Both the event follow-up and the poll build this evidence."""

from __future__ import annotations

from typing import Any

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, Signal
from mcp_server.detectors.checks.unhealthy import UnhealthyDetector
from mcp_server.docker_ops.host import DockerHost

from .helpers import LABELS, TEST_IMAGE, fast_settings, start, unique

pytestmark = pytest.mark.anyio

HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
# the check asks a port nothing listens on: it fails whatever the process does
WRONG_PORT_CHECK = {
    "test": ["CMD-SHELL", "wget -q -O- http://127.0.0.1:9999/ || exit 1"],
    "interval": 500_000_000,
    "timeout": 2_000_000_000,
    "retries": 1,
}


async def published(client: docker.DockerClient, name: str, command: list[str], **labels: str) -> Any:
    """A labelled container on the default bridge, 8080 published on loopback, failing its check."""
    return await anyio.to_thread.run_sync(
        lambda: client.containers.run(
            TEST_IMAGE,
            command,
            name=name,
            labels={**LABELS, **labels},
            detach=True,
            ports={"8080/tcp": ("127.0.0.1", None)},
            healthcheck=WRONG_PORT_CHECK,
        )
    )


async def unhealthy_signal(engine: DetectorEngine, name: str) -> Signal:
    return await engine.wait_for_signal(
        lambda s: s.kind == "unhealthy" and s.target.container_name == name, 60
    )


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_own_probe_tells_a_working_process_from_a_silent_one(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    serving, silent = unique("own-serving"), unique("own-silent")
    opted_out, portless = unique("own-optout"), unique("own-noport")
    # the poll would also find them; a long interval leaves the event follow-up to build the signal
    settings = fast_settings(enabled=["unhealthy"], unhealthy_poll_interval_s=600, probe_timeout_s=2)
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        await published(docker_client, serving, HTTPD)
        await published(docker_client, silent, ["sleep", "3600"])
        await published(docker_client, opted_out, HTTPD, **{"infraguardian.probe": "off"})
        await start(docker_client, portless, ["sleep", "3600"], healthcheck=WRONG_PORT_CHECK)

        works = await unhealthy_signal(engine, serving)
        own = works.evidence["own_probe"]
        assert own["answered"] is True
        assert (own["port"], own["kind"], own["outcome"], own["status_code"]) == (8080, "http", "ok", 200)
        assert own["via"] == "container IP on bridge"
        assert "answers our own GET / (200)" in works.summary

        dead = await unhealthy_signal(engine, silent)
        own = dead.evidence["own_probe"]
        assert own["answered"] is False and own["port"] == 8080 and own["outcome"] == "refused"
        assert "does not answer our own GET /" in dead.summary

        off = await unhealthy_signal(engine, opted_out)
        assert off.evidence["own_probe"] is None
        assert "infraguardian.probe=off" in off.evidence["own_probe_note"]

        none = await unhealthy_signal(engine, portless)
        assert none.evidence["own_probe"] is None
        assert none.evidence["own_probe_note"].startswith("no port to probe")

        # the poll builds the same evidence
        detector = next(d for d in engine.detectors if isinstance(d, UnhealthyDetector))
        polled = {s.target.container_name: s for s in (await detector.poll(engine.context)).firing}
        assert polled[serving].evidence["own_probe"]["answered"] is True
        assert polled[silent].evidence["own_probe"]["answered"] is False
        assert polled[opted_out].evidence["own_probe"] is None
