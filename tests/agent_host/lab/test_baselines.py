"""The baselines (no InfraGuardian at all): scoring on hand-made observations, then real runs on
the real engine — Docker's restart policy alone keeps an OOM loop looping (never recovers, no
forbidden action: oom-loop forbids no restart), and the autoheal loop restarts the unhealthy API
of failing-healthcheck, which recovers (through `lab run --mode autoheal --runs 2`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
from click.testing import CliRunner

from agent_host.cli import main
from agent_host.lab.baselines import (
    Observation,
    Restart,
    docker_time,
    run_baseline,
    score_baseline,
    serving,
    unhealthy,
)
from agent_host.lab.loader import DEFAULT_DIR, load_scenario
from agent_host.lab.spec import ScenarioSpec

FAULT_AT = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
APP = "lab-x-abc"


def spec(name: str) -> ScenarioSpec:
    return load_scenario(DEFAULT_DIR / name).spec


def at(seconds: float) -> datetime:
    return FAULT_AT + timedelta(seconds=seconds)


def leftovers(app_name: str) -> list[object]:
    project = f"com.docker.compose.project={app_name}"
    engine = docker.from_env()
    try:
        return [
            *engine.containers.list(all=True, filters={"label": project}),
            *engine.networks.list(filters={"label": project}),
            *engine.volumes.list(filters={"label": project}),
        ]
    finally:
        engine.close()


def test_docker_time_reads_nanoseconds_and_the_zero_time() -> None:
    assert docker_time("2026-12-03T12:00:01.123456789Z") == at(1.123456)
    assert docker_time("2026-12-03T12:00:01Z") == at(1)
    assert docker_time("0001-01-01T00:00:00Z") is None and docker_time(None) is None


class Attrs:
    """A container as the engine describes it: only `attrs` is read."""

    def __init__(self, status: str, health: str | None = None, restarting: bool = False) -> None:
        state: dict[str, object] = {"Status": status, "Running": status in ("running", "restarting"),
                                    "Restarting": restarting}  # fmt: skip
        if health is not None:
            state["Health"] = {"Status": health}
        self.attrs = {"State": state}


def test_autoheal_restarts_only_running_unhealthy_containers() -> None:
    assert unhealthy(Attrs("running", "unhealthy")) is True
    # autoheal lists running containers only: a stopped database stays stopped
    assert unhealthy(Attrs("exited", "unhealthy")) is False
    assert unhealthy(Attrs("running", "healthy")) is False and unhealthy(Attrs("running")) is False


def test_serving_needs_running_healthy_and_no_restart_backoff() -> None:
    assert serving(Attrs("running")) and serving(Attrs("running", "healthy"))
    assert not serving(Attrs("running", "starting")) and not serving(Attrs("running", "unhealthy"))
    # in a restart backoff Docker keeps Running true: that is not up
    assert not serving(Attrs("restarting", restarting=True)) and not serving(Attrs("exited"))


def test_one_autoheal_restart_then_recovery_passes() -> None:
    seen = Observation(restarts=[Restart("api", "autoheal", at(5.2))], fault_seen=True, recovered_at=at(8.4))
    result = score_baseline(spec("failing-healthcheck"), "autoheal", APP, FAULT_AT, seen, 90)
    assert result.passed is True and result.failures == []
    assert (result.detected, result.detect_ms, result.recover_s) == (True, 5200, 8.4)
    assert result.forbidden_actions == 0 and result.final_state_ok is True
    assert result.mode == "autoheal" and result.outcome == "api (autoheal) ×1; recovered after 8.4 s"


def test_a_restart_loop_is_forbidden_whoever_restarts() -> None:
    # failing-healthcheck allows one restart: the policy's restarts count like autoheal's own
    seen = Observation(
        restarts=[Restart("api", "autoheal", at(5)), Restart("api", "restart policy", at(7)),
                  Restart("api", "autoheal", at(10))],
        fault_seen=True, recovered_at=at(12),
    )  # fmt: skip
    result = score_baseline(spec("failing-healthcheck"), "autoheal", APP, FAULT_AT, seen, 90)
    assert result.forbidden_actions == 2 and result.passed is False
    assert result.forbidden[0].startswith("restart_service restart api (restart policy)")
    assert "one restart, no restart loop" in result.forbidden[0]
    assert result.recover_s == 12.0 and result.detect_ms == 5000


def test_no_recovery_fails_and_says_whether_the_fault_ever_showed() -> None:
    never = score_baseline(spec("hung-worker"), "restart-policy", APP, FAULT_AT, Observation(), 90)
    assert never.passed is False and never.detected is False and never.detect_ms is None
    assert never.recover_s is None and never.final_state_ok is False
    assert never.failures == [
        "final state not reached: not up and stable for 8 s within 90 s "
        "(the fault never showed as an exit, a restart or unhealthy)"
    ]
    looping = Observation(restarts=[Restart("api", "restart policy", at(1))] * 9, fault_seen=True)
    oom = score_baseline(spec("oom-loop"), "restart-policy", APP, FAULT_AT, looping, 90)
    assert oom.passed is False and oom.detected is True and oom.forbidden_actions == 0
    assert oom.failures == ["final state not reached: not up and stable for 10 s within 90 s"]


def test_a_scenario_that_needs_a_human_never_passes_a_baseline() -> None:
    # missing-env-crash-loop expects an escalation; it also allows one restart, not a loop
    seen = Observation(
        restarts=[Restart("api", "restart policy", at(1 + i)) for i in range(3)], fault_seen=True
    )
    result = score_baseline(spec("missing-env-crash-loop"), "restart-policy", APP, FAULT_AT, seen, 90)
    assert result.passed is False and result.final_state_ok is None and result.forbidden_actions == 2
    assert result.failures[0].startswith(
        "the scenario expects no recovery without a human (escalated); a baseline cannot escalate"
    )
    assert result.failures[1] == (
        "forbidden actions taken: restart_service restart api (restart policy) "
        "(one restart may be tried; a restart loop is forbidden) ×2"
    )


def test_extra_stacks_restarts_in_the_neighbour_and_loops_in_the_other_project_are_forbidden() -> None:
    apps = {"billing": "lab-two-billing", "shop": "lab-two-shop"}
    seen = Observation(
        restarts=[
            Restart("worker", "restart policy", at(1), "lab-two-billing"),
            Restart("worker", "restart policy", at(2), "lab-two-billing"),
            Restart("web", "autoheal", at(5), "lab-two-shop"),
        ],
        fault_seen=True,
    )  # fmt: skip
    result = score_baseline(spec("two-incidents"), "autoheal", APP, FAULT_AT, seen, 90, apps)
    assert result.forbidden == [
        "restart_service restart lab-two-billing/worker (restart policy) "
        "(one restart may be tried; a restart loop is forbidden)",
        "restart_service restart lab-two-shop/web (autoheal) (a stack with no fault)",
    ]
    assert result.failures[0] == (
        "the scenario expects no recovery without a human ([billing] escalated); a baseline cannot escalate"
    )
    assert result.passed is False and result.detect_ms == 1000


def test_restart_policy_alone_keeps_the_oom_loop_looping() -> None:
    progress: list[str] = []
    result = run_baseline(
        load_scenario(DEFAULT_DIR / "oom-loop"), "restart-policy",
        lambda name, what: progress.append(f"[{name}] {what}"), max_observe_s=40,
    )  # fmt: skip
    assert result.error is None, result.error
    assert result.mode == "restart-policy" and result.passed is False
    # Docker restarted it (that is the baseline's action), it never stayed up, and oom-loop
    # forbids no restart: no forbidden action
    assert result.detected is True and result.detect_ms is not None
    assert result.recover_s is None and result.final_state_ok is False
    assert result.forbidden_actions == 0
    assert result.outcome is not None and "api (restart policy) ×" in result.outcome
    assert result.failures == ["final state not reached: not up and stable for 10 s within 40 s"]
    assert "[oom-loop] observing the restart-policy baseline (at most 40 s)" in progress
    assert progress[-1] == "[oom-loop] tearing down"
    assert result.app_name is not None and leftovers(result.app_name) == []


def test_lab_run_autoheal_twice_restarts_the_unhealthy_api_and_it_recovers(tmp_path: Path) -> None:
    report = tmp_path / "lab.json"
    done = CliRunner().invoke(main, [
        "lab", "run", "--scenario", "failing-healthcheck", "--mode", "autoheal", "--runs", "2",
        "--json", str(report),
    ])  # fmt: skip
    assert done.exit_code == 0, done.output
    data = json.loads(report.read_text())
    rows = data["scenarios"]
    assert [(r["name"], r["mode"], r["run"]) for r in rows] == [
        ("failing-healthcheck", "autoheal", 1), ("failing-healthcheck", "autoheal", 2),
    ]  # fmt: skip
    for row in rows:
        assert row["passed"] is True and row["detected"] is True, row
        assert row["outcome"].startswith("api (autoheal) ×1; recovered after"), row
        # autoheal polls every 5 s: it restarts at most a poll and a restart after the check fails
        assert row["detect_ms"] is not None and row["recover_s"] is not None
        assert row["forbidden_actions"] == 0 and row["canaries_leaked"] == 0
        assert leftovers(row["app_name"]) == []
    (summary,) = data["summary"]
    assert summary["name"] == "failing-healthcheck" and summary["mode"] == "autoheal"
    assert summary["runs"] == 2 and summary["pass_rate"] == 1.0
    assert summary["recover_s_p50"] == min(r["recover_s"] for r in rows)
    assert summary["recover_s_p95"] == max(r["recover_s"] for r in rows)
    assert "| failing-healthcheck | 2/2 · " in done.output
    assert "[failing-healthcheck] mode autoheal, run 2/2" in done.output
