"""The one Target model (mcp_server.targets): its constructors, its key format, the app it belongs
to and the workload a budget counts, shared by detectors, safety, audit and tools."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mcp_server.detectors.base import fingerprint
from mcp_server.detectors.state import service_level, target_from_labels
from mcp_server.safety import Target as SafetyTarget
from mcp_server.targets import COMPOSE_PROJECT, COMPOSE_SERVICE, SWARM_SERVICE, Target


def test_safety_and_detectors_use_the_same_model() -> None:
    from mcp_server.detectors import Target as DetectorTarget

    assert SafetyTarget is Target and DetectorTarget is Target


def test_container_is_keyed_per_container_and_counts_against_its_service() -> None:
    one = Target.for_container("local", "/shop-api-1", project="shop", service="api", container_id="aaa")
    two = Target.for_container("local", "shop-api-2", project="shop", service="api", container_id="bbb")
    assert one.key() == "container:local/shop-api-1" and two.key() == "container:local/shop-api-2"
    assert one.container_name == "shop-api-1" and one.app_name == "shop"
    service = Target.for_compose_service("local", "shop", "api")
    assert one.workload() == two.workload() == service
    assert one.budget_key() == service.key() == "compose_service:local/shop/api"


def test_container_id_and_names_outside_the_key_do_not_change_the_fingerprint() -> None:
    first = Target.for_container("local", "shop-api-1", project="shop", service="api", container_id="aaa")
    recreated = Target.for_container("local", "shop-api-1", project="shop", service="api", container_id="bbb")
    assert first.key() == recreated.key()
    assert fingerprint("oom", first) == fingerprint("oom", recreated) != fingerprint("exited", first)


def test_a_labelled_container_from_a_tool_and_from_a_detector_share_key_and_workload() -> None:
    labels = {COMPOSE_PROJECT: "shop", COMPOSE_SERVICE: "api", "other": "x"}
    from_tool = Target.for_container("local", "shop-api-1", project="shop", service="api", labels=labels)
    from_detector = target_from_labels("local", "shop-api-1", "c0ffee", labels)
    assert from_tool.key() == from_detector.key()
    assert from_tool.budget_key() == from_detector.budget_key() == "compose_service:local/shop/api"


def test_swarm_task_is_keyed_by_its_swarm_service() -> None:
    task = Target.for_container("local", "blog_db.1.q", project="blog", service="db", swarm_service="blog_db")
    assert (task.kind, task.key(), task.app_name) == ("swarm_service", "swarm_service:local/blog_db", "blog")
    assert task.container_name == "blog_db.1.q"
    assert service_level(task).container_name is None and service_level(task).key() == task.key()
    # a container acted on by name stays a container, and counts against the same swarm service
    acted = Target.for_container("local", "blog_db.1.q", labels={SWARM_SERVICE: "blog_db"})
    assert acted.key() == "container:local/blog_db.1.q" and acted.budget_key() == task.key()


def test_constructors_and_their_keys() -> None:
    cases: list[tuple[Target, str, str | None]] = [
        (Target.for_app("local", "shop"), "compose_project:local/shop", "shop"),
        (Target.for_app("local", "api-x1", compose=False), "swarm_service:local/api-x1", "api-x1"),
        (Target.for_dokploy("local", "shop", dokploy_id="cid1"), "dokploy_resource:local/shop", "shop"),
        (
            Target.for_dokploy_api("local", "compose.deploy", scope="shop"),
            "dokploy_api:local/compose.deploy/shop",
            "shop",
        ),
        (
            Target.for_domain("local", "shop.example.com/api", app_name="shop"),
            "domain:local/shop.example.com/api",
            "shop",
        ),
        (Target.for_path("local", "/var/lib/docker"), "path:local//var/lib/docker", None),
        (Target.for_volume("local", "shop_data", project="shop"), "volume:local/shop_data", "shop"),
        (Target.for_host("edge"), "host:edge", None),
    ]
    for target, key, app in cases:
        assert (target.key(), target.app_name) == (key, app)
    assert Target.for_dokploy("h", "shop", dokploy_id="a").key() == Target.for_dokploy("h", "shop").key()
    assert (
        Target.for_domain("h", "a.test").workload() is None and Target.for_path("h", "/").workload() is None
    )


def test_describe_names_each_kind_for_people() -> None:
    assert (
        Target.for_domain("local", "shop.example.com").describe() == "domain shop.example.com on host local"
    )
    assert (
        Target.for_path("local", "/var/lib/docker").describe() == "filesystem /var/lib/docker on host local"
    )
    assert Target.for_container("local", "b.1.x", swarm_service="b").describe() == (
        "swarm service b (task b.1.x) on host local"
    )


def test_a_target_missing_its_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="a domain target needs name"):
        Target(kind="domain", host="local")
    with pytest.raises(ValidationError):
        Target.for_container("local", "")


def test_the_dump_names_the_app_and_reads_back() -> None:
    task = Target.for_container("local", "blog_db.1.q", project="blog", service="db", swarm_service="blog_db")
    dumped = task.model_dump(mode="json")
    assert dumped["app_name"] == "blog"  # what a client passes as app_name to the tools
    assert Target.model_validate(dumped) == task
    assert Target.model_validate_json(task.model_dump_json()) == task
