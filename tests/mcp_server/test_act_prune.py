"""prune on the shared engine, scoped to this test's own labelled objects: dry run first, admin only,
a human confirms, protected containers are never planned, volumes are never an option."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
engine, make_container = fx.engine, fx.make_container
NONCE_LABEL = "act-tools.prune"


@pytest.fixture
def junk(engine: docker.DockerClient, make_container: Callable[..., Any]) -> Iterator[dict[str, str]]:
    """A dangling image and a stopped container with this test's own label, plus objects that must
    survive: a stopped container without that label, and a protected one with it."""
    nonce = secrets.token_hex(6)
    labels = {**fx.LABELS, NONCE_LABEL: nonce}
    dockerfile = f"FROM {fx.BUSYBOX}\nLABEL {NONCE_LABEL}={nonce}\n".encode()
    image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile), labels=labels, rm=True, forcerm=True)
    objects = {
        "label": f"{NONCE_LABEL}={nonce}",
        "image": str(image.id),
        "stopped": make_container(stopped=True, labels={NONCE_LABEL: nonce}).name,
        "other": make_container(stopped=True).name,
        "protected": make_container(
            f"dokploy-{fx.PREFIX}-{nonce}", stopped=True, labels={NONCE_LABEL: nonce}
        ).name,
    }
    yield objects
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine.images.remove(objects["image"])


def exists(engine: docker.DockerClient, kind: str, ref: str) -> bool:
    try:
        (engine.images if kind == "image" else engine.containers).get(ref)
    except docker.errors.NotFound:
        return False
    return True


async def test_dry_run_is_the_default_and_lists_only_labelled_unprotected_objects(
    make_settings: Callable[..., Settings], junk: dict[str, str], engine: docker.DockerClient
) -> None:
    args = {"what": ["images", "containers", "build_cache"], "label": junk["label"]}
    async with act_client(make_settings(None, safety={"mode": "admin"})) as client:
        plan = await call(client, "prune", args)
        rows = await audit_rows(client)
    assert plan["dry_run"]
    assert sorted((i["kind"], i["name"]) for i in plan["items"]) == [
        ("containers", junk["stopped"]),
        ("images", "<untagged>"),
    ]
    assert any(n.startswith(f"kept {junk['protected']}: protected") for n in plan["notes"])
    assert any("build cache skipped" in n for n in plan["notes"])
    assert all(
        exists(engine, k, junk[r]) for k, r in [("image", "image"), ("c", "stopped"), ("c", "protected")]
    )
    assert [(r["action"], r["result"], r["arguments"]["what"]) for r in rows] == [
        ("prune", "dry_run", ["images", "containers", "build_cache"])
    ]


async def test_operate_mode_refuses_even_the_dry_run(
    make_settings: Callable[..., Settings], junk: dict[str, str], engine: docker.DockerClient
) -> None:
    async with act_client(make_settings(None)) as client:
        dry = await call_error(client, "prune", {"what": ["containers"], "label": junk["label"]})
        real = await call_error(
            client, "prune", {"what": ["containers"], "label": junk["label"], "dry_run": False}
        )
    assert "prune needs admin mode but this server runs in operate mode" in dry and "admin mode" in real
    assert exists(engine, "c", junk["stopped"])


async def test_real_prune_asks_a_human_and_removes_exactly_the_plan(
    make_settings: Callable[..., Settings], junk: dict[str, str], engine: docker.DockerClient
) -> None:
    args = {"what": ["images", "containers"], "label": junk["label"], "dry_run": False}
    settings = make_settings(None, safety={"mode": "admin"})
    asked: list[str] = []
    async with act_client(settings, human="decline", asked=asked) as client:
        declined = await call_error(client, "prune", args)
    assert "a human declined prune" in declined
    assert exists(engine, "image", junk["image"]) and exists(engine, "c", junk["stopped"])
    async with act_client(settings, human="accept", asked=asked) as client:
        done = await call(client, "prune", args)
    assert asked[0].startswith("Prune Docker host local?") and "Removes 2 objects" in asked[0]
    assert not done["dry_run"] and not done["errors"] and not done["kept"]
    assert sorted(i["kind"] for i in done["items"]) == ["containers", "images"]
    assert not exists(engine, "image", junk["image"]) and not exists(engine, "c", junk["stopped"])
    assert exists(engine, "c", junk["other"]) and exists(engine, "c", junk["protected"])


async def test_bad_arguments(make_settings: Callable[..., Settings]) -> None:
    async with act_client(make_settings(None, safety={"mode": "admin"})) as client:
        volumes = await call_error(client, "prune", {"what": ["volumes"], "label": "ig.test=act-tools"})
        empty = await call_error(client, "prune", {"what": [], "label": "ig.test=act-tools"})
        label = await call_error(client, "prune", {"what": ["images"], "label": "a b; rm"})
        rows = await audit_rows(client)
    assert "volumes" in volumes and "images" in volumes  # the schema only offers the three kinds
    assert "at least 1" in empty
    assert "is not a label filter" in label
    assert [(r["tool"], r["result"], r["allowed"]) for r in rows] == [("prune", "error", False)] * 3
