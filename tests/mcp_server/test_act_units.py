"""Pure parts of the action tools: the compose-file patch behind set_memory_limit (value changed in
place, form and comments kept), rollback-point choice, env diffs by name."""

from __future__ import annotations

import pytest
import yaml

from mcp_server.compose_edit import (
    EditError as PatchError,
)
from mcp_server.compose_edit import (
    LayoutError,
    memory_text,
    patch_memory,
    rewrite_memory,
    uses_deploy_form,
)
from mcp_server.docker_ops.models import ContainerDetails
from mcp_server.server.tools._act_common import env_changes, file_diff, start_order
from mcp_server.server.tools.rollback import previous_rollback_point

FILE = """\
# shop stack
services:
  db:
    image: postgres:16   # pinned
    mem_limit: "32m"     # tight on purpose
    environment:
      POSTGRES_PASSWORD: secret
  api:
    image: shop/api
    command: serve
    depends_on: [db]
"""


def test_memory_text() -> None:
    assert [memory_text(v) for v in (512 * 1024**2, 2 * 1024**3, 1536 * 1024, 1000)] == [
        "512m",
        "2g",
        "1536k",
        "1000",
    ]


def test_an_existing_mem_limit_changes_in_place() -> None:
    text, how = patch_memory(FILE, "db", "48m", prefer_deploy=False)
    assert how == "mem_limit changed"
    assert text == FILE.replace('mem_limit: "32m"     # tight', "mem_limit: 48m     # tight")


def test_a_missing_limit_is_added_first_in_the_service_in_its_form() -> None:
    text, how = patch_memory(FILE, "api", "64m", prefer_deploy=False)
    assert how == "mem_limit added"
    assert text == FILE.replace("  api:\n", "  api:\n    mem_limit: 64m\n")
    assert list(yaml.safe_load(text)["services"]["api"]) == ["mem_limit", "image", "command", "depends_on"]


def test_the_deploy_form_is_kept_and_completed() -> None:
    deploy_file = "services:\n  web:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 32M\n"
    text, how = patch_memory(deploy_file, "web", "1g", prefer_deploy=False)
    assert how == "deploy.resources.limits.memory changed" and text.endswith("memory: 1g\n")
    partial = "services:\n  web:\n    image: x\n    deploy:\n        replicas: 2\n"
    text, how = patch_memory(partial, "web", "256m", prefer_deploy=True)
    assert how == "deploy.resources.limits.memory added"
    assert yaml.safe_load(text)["services"]["web"]["deploy"] == {
        "resources": {"limits": {"memory": "256m"}},
        "replicas": 2,
    }
    assert uses_deploy_form(deploy_file) and not uses_deploy_form(FILE)


def test_a_limit_from_a_variable_is_not_overwritten() -> None:
    with pytest.raises(PatchError, match="comes from a variable"):
        patch_memory("services:\n  a:\n    mem_limit: ${MEM:-64m}\n", "a", "1g", prefer_deploy=False)
    with pytest.raises(PatchError, match="no service 'b'"):
        patch_memory(FILE, "b", "1g", prefer_deploy=False)


def test_flow_style_falls_back_to_a_rewrite_that_keeps_key_order() -> None:
    flow = "services:\n  a: {image: x, command: y}\n  b: {image: z}\n"
    with pytest.raises(LayoutError):
        patch_memory(flow, "a", "1g", prefer_deploy=False)
    rewritten = yaml.safe_load(rewrite_memory(flow, "a", "1g", prefer_deploy=False))
    assert list(rewritten["services"]) == ["a", "b"]
    assert rewritten["services"]["a"] == {"image": "x", "command": "y", "mem_limit": "1g"}


def deployment(status: str, version: int | None) -> dict[str, object]:
    rollback = {"rollbackId": f"rb{version}", "version": version} if version else None
    return {"status": status, "rollback": rollback}


def test_the_rollback_point_is_the_previous_successful_deployment() -> None:
    newest_first = [
        deployment("error", None),
        deployment("done", 3),
        deployment("done", 2),
        deployment("done", 1),
    ]
    assert previous_rollback_point(newest_first) == {"rollbackId": "rb2", "version": 2}
    assert previous_rollback_point(
        [deployment("done", 3), deployment("done", None), deployment("done", 1)]
    ) == {
        "rollbackId": "rb1",
        "version": 1,
    }
    assert previous_rollback_point([deployment("done", 3), deployment("error", 2)]) is None
    assert previous_rollback_point([]) is None


def test_env_changes_are_by_name_and_diffs_mask_secrets() -> None:
    changes = env_changes("A=1\n# c\nexport B=2\nC=3", "A=1\nB=5\nD=4\n")
    assert (changes.added, changes.removed, changes.changed) == (["D"], ["C"], ["B"])
    diff = file_diff("x: 1\npassword: old-secret\n", "x: 2\npassword: new-secret\n", "f.yml")
    assert "-x: 1" in diff and "+x: 2" in diff and "secret" not in diff.replace("[REDACTED]", "")
    assert file_diff("password: a\n", "password: b\n", "f.yml") == "(only masked secret values differ)"


def test_start_order_follows_composes_depends_on_label() -> None:
    def container(service: str, depends_on: str = "") -> ContainerDetails:
        labels = {"com.docker.compose.depends_on": depends_on} if depends_on else {}
        return ContainerDetails.model_construct(name=f"p-{service}-1", compose_service=service, labels=labels)

    found = [
        container("web", "api:service_started:false"),
        container("api", "db:service_healthy:false,cache:service_started:true"),
        container("db"),
        container("cache"),
        container("loop-a", "loop-b:service_started:false"),
        container("loop-b", "loop-a:service_started:false"),
    ]
    assert [c.compose_service for c in start_order(found)] == [
        "db",
        "cache",
        "api",
        "web",
        "loop-a",
        "loop-b",
    ]


def test_memory_raise_keeps_memswap_above_the_limit() -> None:
    """A memswap_limit below the new limit would make the next `docker compose up` fail."""
    from mcp_server.server.tools.set_memory_limit import patch_memory

    text = "services:\n  api:\n    image: x\n    mem_limit: 256m  # tuned\n    memswap_limit: 384m\n"
    patched, how = patch_memory(text, "api", "512m", prefer_deploy=False)
    assert "mem_limit: 512m  # tuned" in patched
    assert "memswap_limit: 640m" in patched  # the 128m of swap is kept on top
    assert "memswap_limit raised" in how
    roomy = text.replace("384m", "2g")
    assert "memswap_limit: 2g" in patch_memory(roomy, "api", "512m", prefer_deploy=False)[0]
    unlimited = text.replace("384m", "-1")
    assert "memswap_limit: -1" in patch_memory(unlimited, "api", "512m", prefer_deploy=False)[0]
