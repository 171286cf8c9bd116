"""Rehearsals (`lab run --compose FILE --fault KIND:SERVICE`): every refusal with its one-line
message, the isolation of the copy on real Dokploy templates, and one real rehearsal of an OOM
on the real engine beside the user's own running stack, which must come out untouched."""

from __future__ import annotations

import io
import re
import secrets
import socket
import subprocess
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from agent_host.lab.harness import run_one
from agent_host.lab.rehearsal import RehearsalError, isolated_compose, load_user_compose, rehearsal_scenario

TEMPLATES = Path(__file__).resolve().parents[4] / "shared" / "corpora" / "dokploy-templates"
IMAGE = "ig/busybox:test"


def write_compose(folder: Path, services: dict[str, Any], **top: Any) -> Path:
    path = folder / "docker-compose.yml"
    path.write_text(yaml.safe_dump({"services": services, **top}, sort_keys=False), encoding="utf-8")
    return path


def refusal(compose: Path, fault: str, work: Path) -> str:
    with pytest.raises(RehearsalError) as caught:
        rehearsal_scenario(compose, fault, work)
    message = str(caught.value)
    assert "\n" not in message  # one line
    return message


API = {"image": IMAGE, "command": ["sleep", "3600"]}


# -- refusals -------------------------------------------------------------------------------------


def test_a_missing_compose_file_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path / "nope.yml", "oom:api", tmp_path)
    assert "nope.yml: no such compose file" in message and "--compose" in message


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  api: [unclosed\n", encoding="utf-8")
    assert "not valid YAML" in refusal(path, "oom:api", tmp_path)


def test_a_file_without_services_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("volumes:\n  data: {}\n", encoding="utf-8")
    assert "no `services:` mapping" in refusal(path, "oom:api", tmp_path)


def test_an_unknown_service_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = write_compose(tmp_path, {"api": API, "db": API})
    message = refusal(path, "oom:web", tmp_path)
    assert "has no service 'web'" in message and "its services: api, db" in message


@pytest.mark.parametrize("fault", ["explode:api", "oom", "oom:", ":api"])
def test_an_unknown_or_malformed_fault_is_refused(tmp_path: Path, fault: str) -> None:
    message = refusal(write_compose(tmp_path, {"api": API}), fault, tmp_path)
    assert f"--fault {fault!r}" in message
    assert ("unknown fault kind 'explode'" in message and "oom, crash, hang, unhealthy, stop" in message) or (
        "write KIND:SERVICE" in message
    )


def test_an_image_not_on_the_engine_is_refused_with_the_pull_to_run(tmp_path: Path) -> None:
    missing = f"ig/not-here:{secrets.token_hex(4)}"
    path = write_compose(tmp_path, {"api": API, "db": {"image": missing}})
    message = refusal(path, "oom:api", tmp_path)
    assert f"service db: image {missing} is not on this engine" in message
    assert f"`docker pull {missing}`" in message


def test_a_built_service_without_image_is_refused(tmp_path: Path) -> None:
    path = write_compose(tmp_path, {"api": API, "web": {"build": "."}})
    assert "service web has no image: (it is built)" in refusal(path, "oom:api", tmp_path)


def test_a_read_write_host_path_is_refused_and_a_read_only_one_kept(tmp_path: Path) -> None:
    rw = write_compose(tmp_path, {"api": {**API, "volumes": ["./data:/var/lib/data"]}})
    message = refusal(rw, "oom:api", tmp_path)
    assert "service api mounts host path ./data read-write" in message and ":ro" in message
    copy, _ = isolated_compose({"services": {"api": {**API, "volumes": ["./conf:/etc/app:ro"]}}}, tmp_path)
    assert copy["services"]["api"]["volumes"] == [f"{tmp_path}/conf:/etc/app:ro"]


def test_host_networking_is_refused(tmp_path: Path) -> None:
    path = write_compose(tmp_path, {"api": {**API, "network_mode": "host"}})
    assert "service api uses network_mode: host" in refusal(path, "oom:api", tmp_path)


def test_unhealthy_without_a_health_check_is_refused(tmp_path: Path) -> None:
    message = refusal(write_compose(tmp_path, {"api": API}), "unhealthy:api", tmp_path)
    assert "unhealthy:api: the service has no health check" in message and "healthcheck:" in message


@pytest.fixture
def image_without_sh() -> Iterator[str]:
    """A local image holding one file and no shell (made by `docker import`, like ig/busybox:test)."""
    tag = f"ig/nosh:{secrets.token_hex(4)}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    subprocess.run(["docker", "import", "-", tag], input=buffer.getvalue(), check=True, capture_output=True)
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], check=True, capture_output=True)


def test_an_image_without_sh_is_refused_and_its_probe_removed(tmp_path: Path, image_without_sh: str) -> None:
    path = write_compose(tmp_path, {"api": {"image": image_without_sh, "command": ["/hello"]}})
    message = refusal(path, "crash:api", tmp_path)
    assert f"image {image_without_sh} has no sh" in message
    engine = docker.from_env()
    try:
        assert engine.containers.list(all=True, filters={"ancestor": image_without_sh}) == []
    finally:
        engine.close()


# -- isolation on real Dokploy templates ------------------------------------------------------------


def test_wg_easy_loses_its_container_name_and_host_ports_and_keeps_its_read_only_mount() -> None:
    source = TEMPLATES / "wg-easy" / "docker-compose.yml"
    copy, changes = isolated_compose(load_user_compose(source), source.parent)
    service = copy["services"]["wg-easy"]
    assert "container_name" not in service and "ports" not in service
    assert service["expose"] == ["51820/udp", "51821"]  # the container side stays reachable in the copy
    assert service["volumes"] == ["etc_wireguard:/etc/wireguard", "/lib/modules:/lib/modules:ro"]
    assert service["pull_policy"] == "never"
    assert "wg-easy: container_name removed" in changes


def test_emqx_gets_its_own_network_and_no_proxy_routes() -> None:
    source = TEMPLATES / "emqx" / "docker-compose.yml"
    copy, changes = isolated_compose(load_user_compose(source), source.parent)
    assert copy["networks"]["dokploy-network"] == {}  # a new network of the copy, not Dokploy's
    assert "network dokploy-network: a new one for the copy (was external)" in changes
    labels = copy["services"]["emqx"]["labels"]
    assert not any(key.startswith("traefik.") for key in labels)
    assert copy["services"]["emqx"]["expose"] == [1883, 8083, 18083]


def test_a_named_or_external_volume_becomes_the_copys_own() -> None:
    source = TEMPLATES / "enshrouded" / "docker-compose.yml"
    data = load_user_compose(source)
    data["volumes"]["enshrouded-persistent-data"] = {"external": True, "name": "prod_enshrouded"}
    copy, changes = isolated_compose(data, source.parent)
    assert copy["volumes"]["enshrouded-persistent-data"] == {}
    assert "container_name" not in copy["services"]["enshrouded"]
    assert any("was external/name" in line for line in changes)


def test_a_read_write_docker_socket_in_a_template_is_refused() -> None:
    source = TEMPLATES / "cup" / "docker-compose.yml"
    with pytest.raises(
        RehearsalError, match=re.escape("service cup mounts host path /var/run/docker.sock read-write")
    ):
        isolated_compose(load_user_compose(source), source.parent)


def test_ports_read_as_compose_reads_them_and_a_device_volume_is_made_fresh(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(
        "services:\n  ssh:\n    image: x\n    ports:\n      - 22:22\n"
        "volumes:\n  data:\n    driver_opts: {type: none, o: bind, device: /srv/prod-data}\n",
        encoding="utf-8",
    )
    copy, changes = isolated_compose(load_user_compose(path), tmp_path)
    assert copy["services"]["ssh"]["expose"] == ["22"]  # YAML 1.2: not the sexagesimal 1342
    assert copy["volumes"]["data"] == {}
    assert "volume data: a new one for the copy (was driver_opts device)" in changes


def test_each_fault_kind_shapes_the_copy_and_the_expectations(tmp_path: Path) -> None:
    check = {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], "interval": "30s"}
    services = {
        "api": {**API, "expose": ["8080"], "healthcheck": check},
        "worker": {**API, "restart": "always"},
    }
    path = write_compose(tmp_path, services)
    unhealthy = rehearsal_scenario(path, "unhealthy:api", tmp_path / "u")
    api = yaml.safe_load(unhealthy.compose_text)["services"]["api"]
    assert api["healthcheck"]["test"][0] == "CMD-SHELL"
    assert api["healthcheck"]["test"][1].endswith("; wget -q -O /dev/null http://127.0.0.1:8080/")
    assert "/ig-lab-run" in api["tmpfs"] and api["init"] is True and api["restart"] == "unless-stopped"
    # its process answers on 8080: a health check a restart cannot fix, the agent must escalate
    assert unhealthy.spec.outcome == "escalated" and unhealthy.spec.expected_actions == []
    hang = rehearsal_scenario(path, "hang:worker", tmp_path / "h")
    worker = yaml.safe_load(hang.compose_text)["services"]["worker"]
    assert worker["labels"]["infraguardian.hung.after"] == "30s" and worker["restart"] == "always"
    assert [(a.tool, a.service) for a in hang.spec.expected_actions] == [("restart_service", "worker")]
    assert {"restart_service": "api"} in [{f.tool: f.service} for f in hang.spec.forbidden_actions]
    stop = rehearsal_scenario(path, "stop:api", tmp_path / "s")
    assert yaml.safe_load(stop.compose_text)["services"]["api"]["restart"] == "no"
    assert stop.fault.read_text().strip().endswith("main('stop', 'api')")


# -- one real rehearsal beside the user's running stack ---------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def compose(project: str, path: Path, *args: str) -> None:
    subprocess.run(
        ["docker", "compose", "-p", project, "-f", str(path), *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_rehearsing_an_oom_raises_the_copys_limit_and_leaves_the_running_stack_untouched(
    tmp_path: Path,
) -> None:
    """The user's stack runs (fixed container names, a published port); the rehearsal of
    oom:api deploys a copy beside it, the agent raises the copy's limit and the copy recovers;
    the user's containers are the same, never restarted, still limitless and still serving."""
    token = secrets.token_hex(3)
    project, port = f"ig-rehearse-{token}", free_port()
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    path = write_compose(
        user_dir,
        {
            "api": {
                "image": IMAGE, "container_name": f"{project}-api", "ports": [f"127.0.0.1:{port}:8080"],
                "command": ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"],
                "restart": "unless-stopped", "volumes": ["data:/data"],
            },
            "worker": {"image": IMAGE, "container_name": f"{project}-worker", "restart": "unless-stopped",
                       "command": ["sh", "-c", "while :; do echo tick; sleep 2; done"]},
        },
        volumes={"data": {}},
    )  # fmt: skip
    engine = docker.from_env()
    compose(project, path, "up", "-d")
    try:
        before = {
            c.name: (c.id, c.attrs["RestartCount"]) for c in engine.containers.list(filters={"name": project})
        }
        assert set(before) == {f"{project}-api", f"{project}-worker"}
        scenario = rehearsal_scenario(path, "oom:api", tmp_path / "work")
        assert scenario.name == "rehearse-oom-api"
        copy = yaml.safe_load(scenario.compose_text)
        assert "container_name" not in copy["services"]["api"] and "ports" not in copy["services"]["api"]
        phases: list[str] = []
        result = run_one(scenario, "runbook", lambda _name, what: phases.append(what))

        assert result.passed, (result.failures, result.error, phases)
        assert result.kind == "oom" and result.status == "resolved" and result.forbidden_actions == 0
        assert result.outcome is not None and "raise-memory-limit" in result.outcome
        assert result.final_state_ok is True
        # the copy is gone, the user's stack is as it was
        copy_project = f"com.docker.compose.project={result.app_name}"
        assert engine.containers.list(all=True, filters={"label": copy_project}) == []
        after = {c.name: c for c in engine.containers.list(filters={"name": project})}
        assert {name: (c.id, c.attrs["RestartCount"]) for name, c in after.items()} == before
        api = after[f"{project}-api"]
        assert api.attrs["HostConfig"]["Memory"] == 0  # the copy's limit never reached the original
        assert api.ports["8080/tcp"][0]["HostPort"] == str(port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.read() == b"ok\n"
        assert engine.volumes.get(f"{project}_data") is not None
    finally:
        compose(project, path, "down", "-v", "-t", "1")
        engine.close()
