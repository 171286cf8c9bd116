"""Budgets count what happens to a service's containers, whichever tool or Dokploy call did it.

Issue 12 §6: with a service's restart budget spent, stop_compose then start_compose restarted it at
once (stop had no budget, start counted only against the project). Every restart, start, stop,
kill, deploy, redeploy, rollback and disrupting Dokploy call now also counts in the per-service
`disruption` budget of each service it touches.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_server.safety import Decision, Safety, SafetySettings, Target
from mcp_server.safety.actions import ACTIONS, counts_as_disruption, dokploy_procedure_disrupts
from mcp_server.safety.clock import utc_iso
from mcp_server.safety.targets import COMPOSE_PROJECT, COMPOSE_SERVICE, SWARM_SERVICE
from tests.safety.conftest import FakeClock, MakeSafety, human_says_yes, request, service

pytestmark = pytest.mark.anyio

SHOP = "shop-a1b2c3"
API = f"compose service api of project {SHOP} on host local"


def container(svc: str, number: int = 1, project: str = SHOP) -> Target:
    """A container of a compose service, labelled the way Docker Compose labels it."""
    labels = {COMPOSE_PROJECT: project, COMPOSE_SERVICE: svc}
    return Target(kind="container", name=f"{project}-{svc}-{number}", labels=labels)


def project(name: str = SHOP) -> Target:
    return Target(kind="compose_project", project=name)


WHOLE_SHOP = [container("api"), container("db")]


async def spend_api_restarts(gate: Safety, clock: FakeClock) -> float:
    """Three restarts of api (the default restart budget, waiting out its backoff); returns the
    time of the first, when the service's budgets start to free."""
    first = clock.now
    for _ in range(3):
        decision = await gate.authorize(request("restart", service("api"), affected=[container("api")]))
        assert decision.allowed, decision.reason
        clock.advance(61)
    return first


async def act(
    gate: Safety, action: str, target: Target, affected: list[Target], **fields: object
) -> Decision:
    """A real change, confirmed by a human when the policy asks for one."""
    req = request(action, target, affected=affected, **fields)
    return await gate.authorize(req, confirm=human_says_yes)


async def test_stop_then_start_cannot_restart_a_service_whose_restarts_are_spent(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    first = await spend_api_restarts(gate, clock)

    stop = await act(gate, "stop", project(), WHOLE_SHOP)
    assert stop.code == "budget_exhausted" and stop.escalate and not stop.allowed
    assert API in stop.reason and "disrupted 3 times in the last 30 min" in stop.reason
    assert utc_iso(first + 1800) in stop.reason and "Do not retry" in stop.reason
    assert stop.retry_after is not None and stop.retry_after.timestamp() == first + 1800
    assert stop.budget is not None and (stop.budget.bucket, stop.budget.used) == ("disruption", 3)

    start = await act(gate, "start", project(), WHOLE_SHOP)
    assert start.code == "budget_exhausted" and API in start.reason
    dry = await gate.authorize(request("stop", project(), affected=WHOLE_SHOP, dry_run=True))
    assert dry.code == "budget_exhausted"  # a dry run tells the truth about the real call

    # refusals count nothing: the three restarts are all there is
    assert [c["action"] for c in gate.budgets.recent(since=0)] == ["restart"] * 3

    # once the first restart leaves the window, one more disruption fits
    clock.now = first + 1800 + 1
    assert (await act(gate, "stop", project(), WHOLE_SHOP)).allowed
    assert (await act(gate, "start", project(), WHOLE_SHOP)).code == "budget_exhausted"


async def test_stop_and_start_count_as_disruptions_of_every_service_they_touch(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    for action in ("stop", "start", "stop"):
        decision = await act(gate, action, project(), WHOLE_SHOP)
        assert decision.allowed, decision.reason
        clock.advance(61)  # past start's own backoff (its restart bucket, keyed by the project)
    # both services are spent now, whatever tool asks next
    again = await act(gate, "start", project(), WHOLE_SHOP)
    assert again.code == "budget_exhausted"
    assert "compose service" in again.reason and "also blocked: compose service" in again.reason
    restart_db = await gate.authorize(request("restart", service("db"), affected=[container("db")]))
    assert restart_db.code == "budget_exhausted"
    assert f"compose service db of project {SHOP}" in restart_db.reason
    assert "disrupted 3 times" in restart_db.reason
    # another project's services are their own
    other = [container("api", project="blog-9f8e7d")]
    assert (await act(gate, "stop", project("blog-9f8e7d"), other)).allowed


@pytest.mark.parametrize(
    ("mode", "action", "target", "affected"),
    [
        ("operate", "restart", container("api", 2), []),  # by container name, a second replica
        ("operate", "start", project(), [container("api")]),
        ("operate", "stop", project(), [container("api")]),
        ("operate", "deploy", project(), WHOLE_SHOP),
        ("operate", "redeploy", project(), WHOLE_SHOP),
        ("operate", "rollback", project(), WHOLE_SHOP),
        ("admin", "kill", container("api"), []),
        ("admin", "remove", container("api"), []),
        (
            "admin",
            "dokploy_mutation",
            Target(kind="dokploy_api", name="compose.stop", project="c1"),
            WHOLE_SHOP,
        ),
        ("admin", "dokploy_mutation", Target(kind="dokploy_api", name="compose.deploy"), WHOLE_SHOP),
        (
            "admin",
            "dokploy_mutation",
            Target(kind="dokploy_api", name="docker.restartContainer"),
            [container("api")],
        ),
    ],
)
async def test_every_way_to_disrupt_a_service_meets_the_same_budget(
    make_safety: MakeSafety, clock: FakeClock, mode: str, action: str, target: Target, affected: list[Target]
) -> None:
    gate = make_safety(mode)
    # api is spent by a stop, a start and a stop of its project: api's own restart bucket is
    # untouched, so only the disruption budget can refuse what follows
    for spend in ("stop", "start", "stop"):
        assert (await act(gate, spend, project(), [container("api")])).allowed
        clock.advance(61)
    details = {"input": {"containerId": "x"}} if action == "dokploy_mutation" else {}
    refused = await act(gate, action, target, affected, details=details)
    assert refused.code == "budget_exhausted", refused.reason
    assert API in refused.reason and "disrupted 3 times" in refused.reason


@pytest.mark.parametrize(
    ("mode", "action", "target", "details"),
    [
        ("operate", "raise_memory", service("api"), {"current_limit_bytes": 2**28, "new_limit_bytes": 2**29}),
        ("admin", "exec", container("api"), {}),
        ("admin", "dokploy_mutation", Target(kind="dokploy_api", name="compose.update", project="c1"), {}),
        ("admin", "dokploy_mutation", Target(kind="dokploy_api", name="domain.create"), {}),
    ],
)
async def test_changes_that_restart_nothing_are_not_disruptions(
    make_safety: MakeSafety,
    clock: FakeClock,
    mode: str,
    action: str,
    target: Target,
    details: dict[str, object],
) -> None:
    gate = make_safety(mode)
    await spend_api_restarts(gate, clock)
    decision = await act(gate, action, target, [container("api")], details=details)
    assert decision.allowed, decision.reason


async def test_swarm_service_and_its_containers_share_one_budget(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    app = Target(kind="swarm_service", name="billing-4c5d6e")
    task = Target(kind="container", name="billing-4c5d6e.1.xyz", labels={SWARM_SERVICE: "billing-4c5d6e"})
    for _ in range(2):
        assert (await act(gate, "deploy", app, [task])).allowed
        clock.advance(300)  # past the deploy bucket's own waits (2 min, then 4 min)
    assert (await act(gate, "restart", task, [])).allowed
    clock.advance(60)
    refused = await act(gate, "rollback", app, [])
    assert refused.code == "budget_exhausted"
    assert "swarm service billing-4c5d6e on host local" in refused.reason


async def test_a_stop_without_an_own_bucket_reports_the_busiest_service(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety()
    assert (await gate.authorize(request("restart", service("api"), affected=[container("api")]))).allowed
    clock.advance(5)
    stop = await act(gate, "stop", project(), WHOLE_SHOP)
    assert stop.allowed
    assert stop.budget is not None and (stop.budget.bucket, stop.budget.used, stop.budget.limit) == (
        "disruption",
        2,
        3,
    )
    assert f"disruptions of {API} 2 of 3 in 30 min" in stop.reason


async def test_one_change_is_one_row_for_people_and_one_change_for_the_rate_limit(
    make_safety: MakeSafety, clock: FakeClock
) -> None:
    gate = make_safety(max_mutations_per_minute=2)
    many = [container(f"svc{i}") for i in range(6)] + [container("svc0", 2)]
    stop = await act(gate, "stop", project(), many)
    assert stop.allowed
    [row] = gate.budgets.recent(since=0)
    assert row["action"] == "stop" and row["decision_id"] == stop.id
    disrupted = row["disrupted"]
    assert isinstance(disrupted, list)  # each service once, though svc0 has two containers
    assert sorted(disrupted) == [f"compose_service:local/{SHOP}/svc{i}" for i in range(6)]
    # seven events were written, but it was one change: a second one still fits in the minute
    assert (await act(gate, "start", project(), many)).allowed
    assert (await act(gate, "start", project(), many)).code == "rate_limited"


async def test_two_gates_on_one_database_cannot_both_take_the_last_disruption(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = SafetySettings(budgets={"disruption": {"max_actions": 1, "window_s": 600}})
    gates = [Safety(settings, tmp_path, clock=clock) for _ in range(2)]
    try:
        stop = await gates[0].authorize(
            request("stop", project(), affected=WHOLE_SHOP), confirm=human_says_yes
        )
        restart = await gates[1].authorize(request("restart", container("db")))
        assert (stop.allowed, restart.code) == (True, "budget_exhausted")
        assert f"compose service db of project {SHOP}" in restart.reason
    finally:
        for gate in gates:
            gate.close()


def test_disruption_budget_is_a_setting_like_the_others() -> None:
    custom = SafetySettings(budgets={"disruption": {"max_actions": 6, "window_s": 3600}})
    assert (custom.budgets["disruption"].max_actions, custom.budgets["restart"].max_actions) == (6, 3)
    assert SafetySettings().budgets["disruption"].max_actions == 3
    with pytest.raises(ValidationError, match="disruption"):  # the error lists it among the buckets
        SafetySettings(budgets={"disruptions": {"max_actions": 1, "window_s": 60}})


def test_which_actions_and_dokploy_procedures_disrupt() -> None:
    disrupting = {name for name, spec in ACTIONS.items() if counts_as_disruption(spec)}
    assert disrupting == {"restart", "start", "stop", "deploy", "redeploy", "rollback", "kill", "remove"}
    for procedure in (
        "compose.stop",
        "compose.start",
        "compose.deploy",
        "compose.redeploy",
        "compose.delete",
        "compose.isolatedDeployment",
        "application.reload",
        "postgres.rebuild",
        "redis.remove",
        "docker.restartContainer",
        "docker.killContainer",
        "rollback.rollback",
    ):
        assert dokploy_procedure_disrupts(procedure), procedure
        assert counts_as_disruption(ACTIONS["dokploy_mutation"], procedure)
    for procedure in ("compose.update", "compose.create", "domain.create", "application.saveEnvironment"):
        assert not dokploy_procedure_disrupts(procedure), procedure
    assert not counts_as_disruption(ACTIONS["dokploy_mutation"], None)


def test_containers_count_as_their_service() -> None:
    assert container("api").budget_key() == service("api").key() == f"compose_service:local/{SHOP}/api"
    workload = container("api").workload()
    assert workload is not None and workload.describe() == API
    plain = Target(kind="container", name="adhoc")
    assert plain.workload() is plain and plain.budget_key() == "container:local/adhoc"
    assert project().workload() is None and Target(kind="volume", name="v").workload() is None
