"""compose_edit: a memory limit set in a compose file changes only the bytes it must; comments,
order, quoting and anchors survive, in hand-written files and in the 333 real Dokploy templates."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcp_server.compose_edit import (
    EditError,
    LayoutError,
    memory_text,
    patch_memory,
    rewrite_memory,
    uses_deploy_form,
)
from mcp_server.compose_edit.document import dump, load
from mcp_server.safe_yaml import load_yaml
from tests.conftest import SHARED

TEMPLATES = SHARED / "corpora" / "dokploy-templates"

STACK = """\
# shop stack: keep this comment
x-logging: &logging
  driver: json-file   # anchors stay anchors
services:
  db:
    image: 'postgres:16'   # pinned
    mem_limit: "32m"     # tight on purpose
    memswap_limit: 48m
    logging: *logging
  api:
    image: shop/api
    command: ["serve", "--port", "80"]
    deploy:
      resources:
        limits:
          memory: 64M  # per replica
  worker:
    image: shop/worker
    depends_on: [db]
"""


def changed_lines(before: str, after: str) -> list[str]:
    """The lines removed and added between two texts, marked - and +."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_the_round_trip_model_keeps_comments_order_quotes_and_anchors() -> None:
    again = dump(load(STACK))
    assert again == STACK


def test_an_existing_mem_limit_changes_in_place_and_memswap_keeps_its_swap() -> None:
    text, how = patch_memory(STACK, "db", "64m", prefer_deploy=False)
    assert how == "mem_limit changed; memswap_limit raised to keep its swap"
    assert changed_lines(STACK, text) == [
        '-    mem_limit: "32m"     # tight on purpose',
        "-    memswap_limit: 48m",
        "+    mem_limit: 64m     # tight on purpose",
        "+    memswap_limit: 80m",
    ]


def test_memswap_is_left_alone_when_unlimited_roomy_or_a_variable() -> None:
    for swap in ("-1", "2g", "${SWAP:-1g}"):
        stack = STACK.replace("memswap_limit: 48m", f"memswap_limit: {swap}")
        text, how = patch_memory(stack, "db", "64m", prefer_deploy=False)
        assert how == "mem_limit changed" and f"memswap_limit: {swap}\n" in text


def test_the_deploy_form_changes_in_place() -> None:
    text, how = patch_memory(STACK, "api", "1g", prefer_deploy=False)
    assert how == "deploy.resources.limits.memory changed"
    assert changed_lines(STACK, text) == [
        "-          memory: 64M  # per replica",
        "+          memory: 1g  # per replica",
    ]


def test_a_missing_limit_is_added_first_in_the_service_in_either_form() -> None:
    text, how = patch_memory(STACK, "worker", "256m", prefer_deploy=False)
    assert how == "mem_limit added"
    assert changed_lines(STACK, text) == ["+    mem_limit: 256m"]
    assert list(yaml.safe_load(text)["services"]["worker"]) == ["mem_limit", "image", "depends_on"]
    text, how = patch_memory(STACK, "worker", "256m", prefer_deploy=True)
    assert how == "deploy.resources.limits.memory added"
    assert changed_lines(STACK, text) == [
        "+    deploy:",
        "+      resources:",
        "+        limits:",
        "+          memory: 256m",
    ]


def test_a_partial_deploy_mapping_is_completed_at_its_own_indentation() -> None:
    partial = "services:\n  web:\n    image: x\n    deploy:\n        replicas: 2\n"
    text, how = patch_memory(partial, "web", "256m", prefer_deploy=True)
    assert how == "deploy.resources.limits.memory added"
    assert text == partial.replace(
        "        replicas",
        "        resources:\n          limits:\n            memory: 256m\n        replicas",
    )


def test_only_the_named_service_changes_among_several() -> None:
    before = yaml.safe_load(STACK)
    text, _ = patch_memory(STACK, "db", "40m", prefer_deploy=False)
    after = yaml.safe_load(text)
    expected = copy.deepcopy(before)
    expected["services"]["db"]["mem_limit"] = "40m"
    assert after == expected


def test_a_limit_from_a_variable_is_not_overwritten_in_either_form() -> None:
    """Current behaviour, kept: the variable is the operator's; the error says where to change it."""
    with pytest.raises(EditError, match=r"comes from a variable \(\$\{MEM:-512m\}\); change the variable"):
        patch_memory("services:\n  a:\n    mem_limit: ${MEM:-512m}\n", "a", "1g", prefer_deploy=False)
    deploy = "services:\n  a:\n    deploy:\n      resources:\n        limits:\n          memory: '${MEM}'\n"
    with pytest.raises(EditError, match="comes from a variable"):
        patch_memory(deploy, "a", "1g", prefer_deploy=True)
    with pytest.raises(EditError, match="comes from a variable"):
        rewrite_memory(deploy, "a", "1g", prefer_deploy=True)


def test_a_merged_limit_is_overridden_in_the_service_not_in_the_anchor() -> None:
    merged = (
        "x-base: &base\n  mem_limit: 1g\nservices:\n  a:\n    <<: *base\n    image: x\n  b:\n    <<: *base\n"
    )
    text, how = patch_memory(merged, "a", "2g", prefer_deploy=False)
    assert how == "mem_limit added"
    assert text == merged.replace("  a:\n", "  a:\n    mem_limit: 2g\n")
    data = yaml.safe_load(text)["services"]
    assert (data["a"]["mem_limit"], data["b"]["mem_limit"]) == ("2g", "1g")


def test_flow_style_values_change_in_place_and_additions_fall_back_to_a_rewrite() -> None:
    flow = "# flows\nservices:\n  a: {image: x, mem_limit: 1g}  # one line\n  b: {image: z}\n"
    text, _ = patch_memory(flow, "a", "2g", prefer_deploy=False)
    assert text == flow.replace("mem_limit: 1g", "mem_limit: 2g")
    with pytest.raises(LayoutError):
        patch_memory(flow, "b", "1g", prefer_deploy=False)
    rewritten = rewrite_memory(flow, "b", "1g", prefer_deploy=False)
    assert rewritten.startswith("# flows\n") and "# one line" in rewritten  # comments survive
    data = yaml.safe_load(rewritten)["services"]
    assert list(data) == ["a", "b"] and data["b"] == {"image": "z", "mem_limit": "1g"}


def test_the_rewrite_also_keeps_memswap_above_the_limit() -> None:
    flow = "services:\n  a: {mem_limit: 32m, memswap_limit: 48m, image: x}\n"
    data = yaml.safe_load(rewrite_memory(flow, "a", "64m", prefer_deploy=False))["services"]["a"]
    assert data == {"mem_limit": "64m", "memswap_limit": "80m", "image": "x"}


def test_crlf_files_keep_their_line_ends() -> None:
    crlf = STACK.replace("\n", "\r\n")
    text, _ = patch_memory(crlf, "db", "40m", prefer_deploy=False)
    assert text == crlf.replace('mem_limit: "32m"', "mem_limit: 40m")


def test_bad_files_are_refused_with_a_reason() -> None:
    with pytest.raises(EditError, match="no service 'nope'"):
        patch_memory(STACK, "nope", "1g", prefer_deploy=False)
    with pytest.raises(EditError, match="is not valid YAML"):
        patch_memory("services: [a\n", "a", "1g", prefer_deploy=False)
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)
    )
    bomb = laughs + "services:\n  web:\n    image: nginx\n"
    with pytest.raises(EditError, match="too many aliases"):
        patch_memory(bomb, "web", "1g", prefer_deploy=False)


def test_memory_text_and_the_deploy_form_check() -> None:
    assert [memory_text(v) for v in (512 * 1024**2, 2 * 1024**3, 1536 * 1024, 1000)] == [
        "512m",
        "2g",
        "1536k",
        "1000",
    ]
    assert not uses_deploy_form(STACK)  # db uses mem_limit
    assert uses_deploy_form(STACK.replace('    mem_limit: "32m"     # tight on purpose\n', ""))


def _memory_of(service: Any) -> Any:
    deploy = service.get("deploy") if isinstance(service, dict) else None
    limits = ((deploy or {}).get("resources") or {}).get("limits") or {}
    return service.get("mem_limit"), limits.get("memory") if isinstance(limits, dict) else None


def _without_memory(data: Any, service: str) -> Any:
    data = copy.deepcopy(data)
    svc = data["services"][service]
    svc.pop("mem_limit", None)
    svc.pop("memswap_limit", None)
    deploy = svc.get("deploy")
    if isinstance(deploy, dict):
        limits = (deploy.get("resources") or {}).get("limits")
        if isinstance(limits, dict):
            limits.pop("memory", None)
            if not limits:
                deploy["resources"].pop("limits")
            if not deploy["resources"]:
                deploy.pop("resources")
        if not deploy:
            svc.pop("deploy")
    return data


def _templates() -> list[Path]:
    return sorted(TEMPLATES.glob("*/docker-compose.yml"))


def test_the_corpus_is_there() -> None:
    assert len(_templates()) == 333


@pytest.mark.parametrize("prefer_deploy", [False, True], ids=["mem_limit", "deploy"])
def test_every_real_template_changes_only_one_services_memory(prefer_deploy: bool) -> None:
    """Each template: set its last service's limit; re-parsed, only that service's memory differs,
    and the text differs only in lines that carry the limit."""
    edited = 0
    for path in _templates():
        text = path.read_text()
        before = load_yaml(text)
        services = list(before.get("services") or {})
        if not services:
            continue
        service = services[-1]
        try:
            after_text, how = patch_memory(text, service, "768m", prefer_deploy=prefer_deploy)
        except LayoutError:
            after_text = rewrite_memory(text, service, "768m", prefer_deploy=prefer_deploy)
            how = "rewritten"
        after = load_yaml(after_text)
        assert _memory_of(after["services"][service]) in (
            ("768m", None),
            (None, "768m"),
            ("768m", _memory_of(before["services"][service])[1]),
        ), path
        assert _without_memory(after, service) == _without_memory(before, service), path
        if how != "rewritten":
            keys = ("mem_limit", "memswap_limit", "memory", "deploy:", "resources:", "limits:")
            assert all(any(k in line for k in keys) for line in changed_lines(text, after_text)), path
            edited += 1
    assert edited >= 300  # nearly every real file is edited in place
