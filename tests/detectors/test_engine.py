"""The engine's framework (no Docker): label scope, a failing detector does not stop the others,
and settings validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.detectors import DetectorSettings, ManualClock
from mcp_server.detectors.state import labels_in_scope
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0, logic_engine, make_event

pytestmark = pytest.mark.anyio


async def test_events_outside_the_label_scope_are_ignored(offline_host: DockerHost) -> None:
    engine = logic_engine(offline_host, ManualClock(T0), include_labels={"team": "a"}, enabled=["exited"])
    await engine.handle_event(make_event("die", T0, exit_code=1))
    assert engine.active_signals() == []
    assert labels_in_scope({"team": "a"}, DetectorSettings(include_labels={"team": "a"}))
    assert not labels_in_scope({"infraguardian.ignore": "true"}, DetectorSettings())


async def test_a_failing_detector_is_recorded_and_the_others_run(offline_host: DockerHost) -> None:
    engine = logic_engine(offline_host, ManualClock(T0), enabled=["unhealthy", "exited"])
    changes = await engine.poll()  # both poll the engine, which is unreachable
    assert changes == []
    status = {d.name: d for d in engine.status().detectors}
    assert status["unhealthy"].errors == 1 and "not reachable" in (status["unhealthy"].last_error or "")
    await engine.handle_event(make_event("die", T0, exit_code=1))
    assert [s.kind for s in engine.active_signals()] == ["exited"]


def test_settings_reject_inverted_levels() -> None:
    with pytest.raises(ValidationError, match="memory_critical_percent"):
        DetectorSettings(memory_warning_percent=95, memory_critical_percent=90)
    with pytest.raises(ValidationError):
        DetectorSettings(unknown_field=1)  # type: ignore[call-arg]
