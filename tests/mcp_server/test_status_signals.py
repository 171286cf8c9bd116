"""`status`'s detector pass reuses what the inventory already read from the engine.

The inventory inspects every stopped container; the `exited` detector used to inspect them all a
second time. `ContainerDirectory.remember` takes those inspects, and `details` then answers from
them without asking the engine (shown here with an engine that is not there at all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_server.detectors.settings import DetectorSettings
from mcp_server.detectors.state import ContainerDirectory
from mcp_server.docker_ops.host import DockerHost, DockerUnavailable
from mcp_server.docker_ops.inventory import RawInventory, attrs_from_list_entry
from mcp_server.docker_ops.models import details_from_attrs
from mcp_server.settings import Settings
from mcp_server.status import current_signals

STOPPED_ID = "f" * 64


def _inspect_of_a_stopped_container() -> dict[str, Any]:
    return {
        "Id": STOPPED_ID,
        "Name": "/shop-job-1",
        "Image": "sha256:" + "a" * 64,
        "Created": "2026-12-03T10:00:00.000000000Z",
        "Path": "sh",
        "Args": ["-c", "exit 3"],
        "RestartCount": 0,
        "State": {
            "Status": "exited",
            "Running": False,
            "ExitCode": 3,
            "OOMKilled": False,
            "StartedAt": "2026-12-03T10:00:01.000000000Z",
            "FinishedAt": "2026-12-03T10:00:02.000000000Z",
        },
        "Config": {"Image": "busybox", "Labels": {"com.docker.compose.project": "shop"}},
        "HostConfig": {"RestartPolicy": {"Name": "no"}},
    }


@pytest.mark.anyio
async def test_remembered_details_are_served_without_the_engine(tmp_path: Path) -> None:
    host = DockerHost(f"unix://{tmp_path}/missing.sock")
    directory = ContainerDirectory(host, DetectorSettings())
    with pytest.raises(DockerUnavailable):  # nothing is cached yet: the engine is asked, and absent
        await directory.details(STOPPED_ID)
    details = details_from_attrs(_inspect_of_a_stopped_container())
    directory.remember(details)
    assert await directory.details(STOPPED_ID) == details
    with pytest.raises(DockerUnavailable):  # a caller that wants fresh details still asks
        await directory.details(STOPPED_ID, max_age_s=0)


@pytest.mark.anyio
async def test_the_pass_is_given_whole_inspects_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`current_signals` hands the directory the inventory's inspects (stopped containers), not
    the list entries of running ones, which lack what `details` promises (limits, exit code)."""
    remembered: list[str] = []
    monkeypatch.setattr(ContainerDirectory, "remember", lambda self, details: remembered.append(details.id))
    listed = attrs_from_list_entry({"Id": "e" * 64, "Names": ["/shop-web-1"], "State": "running"})
    raw = RawInventory(containers=[listed, _inspect_of_a_stopped_container()], swarm_active=False)
    settings = Settings(docker_host=f"unix://{tmp_path}/missing.sock", state_dir=tmp_path)
    host = DockerHost(settings.docker_host)
    with pytest.raises(DockerUnavailable):  # the pass itself then needs the (absent) engine
        await current_signals(settings, host, raw)
    assert remembered == [STOPPED_ID]
