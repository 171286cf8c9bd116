"""Rehearsals: `lab run --compose their-compose.yml --fault oom:api` on a disposable copy of a stack.

`rehearsal_scenario(compose_path, fault, work_dir)` turns a user's compose file and a fault
(`KIND:SERVICE`) into an ordinary scenario folder (compose.yml, fault.py, scenario.yaml) that the
harness deploys under a fresh Dokploy appName, like any scenario. The copy never touches the
running stack: it publishes no host ports, has no fixed container names, its volumes and networks
are new and its own, and it mounts no host path read-write. Anything that cannot be made safe is
refused with a one-line `RehearsalError` saying what to change.

Fault kinds (see faults.py for how each is made): oom, crash, hang, unhealthy, stop.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import yaml
from docker.errors import APIError, ImageNotFound

from standins.dokploy.compose_files import ComposeFileError, load_compose

from .faults import RUN_DIR, UNHEALTHY_MARKER, expectations
from .loader import Scenario, ScenarioError, load_scenario

FAULT_KINDS = ("oom", "crash", "hang", "unhealthy", "stop")
HUNG_AFTER = "30s"  # long enough that a quiet service is not flagged again right after its restart
# ports the server's own probe skips (its probe_skip_ports default): no "process answers" fact
PROBE_SKIP_PORTS = {22, 25, 53, 1433, 1521, 2181, 3306, 5432, 5672, 6379, 9092, 11211, 27017}


class RehearsalError(ValueError):
    """The rehearsal cannot run as asked; one line saying what was wrong and what to do instead."""


@dataclass(frozen=True)
class Fault:
    kind: str
    service: str


def parse_fault(text: str) -> Fault:
    """`oom:api` → Fault("oom", "api"); an unknown kind or a malformed spec is a RehearsalError."""
    kind, sep, service = text.partition(":")
    kind, service = kind.strip().lower(), service.strip()
    if not sep or not kind or not service:
        raise RehearsalError(f"--fault {text!r}: write KIND:SERVICE, e.g. oom:api")
    if kind not in FAULT_KINDS:
        raise RehearsalError(
            f"--fault {text!r}: unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
        )
    return Fault(kind, service)


def load_user_compose(path: Path) -> dict[str, Any]:
    """The user's compose file, parsed; missing, invalid or without services is a RehearsalError."""
    if not path.is_file():
        raise RehearsalError(f"{path}: no such compose file; pass --compose PATH/TO/docker-compose.yml")
    try:
        # read as Docker Compose reads it (YAML 1.2: `22:22` is text, not the number 1342)
        data = load_compose(path.read_text(encoding="utf-8"))
    except (ComposeFileError, UnicodeDecodeError) as exc:
        cause = exc.__cause__ or exc
        mark = getattr(cause, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(cause, "problem", None) or str(cause).strip().splitlines()[0]
        raise RehearsalError(
            f"{path}: not valid YAML ({where}{problem}); fix the file and run again"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) or not data["services"]:
        raise RehearsalError(f"{path}: no `services:` mapping; a compose file lists its services there")
    return data


def _absolute(source: str, base: Path) -> str:
    """A bind source or env file relative to the compose file's folder, made absolute."""
    if source.startswith("~"):
        return str(Path(source).expanduser())
    return source if source.startswith("/") else str((base / source).resolve())


def _isolated_mount(name: str, mount: Any, named: set[str], base: Path) -> Any:
    """One `volumes:` entry of a service: named volumes kept (they are made fresh at the top
    level), read-only host paths kept with an absolute path, read-write host paths refused."""
    if isinstance(mount, dict):
        source, read_only = str(mount.get("source") or ""), bool(mount.get("read_only"))
        if mount.get("type", "volume") != "bind":
            return mount
        if not read_only:
            raise RehearsalError(
                f"service {name} mounts host path {source} read-write; the copy must not write the "
                "running stack's files: set read_only: true or use a named volume"
            )
        return {**mount, "source": _absolute(source, base)}
    parts = str(mount).split(":")
    if len(parts) == 1 or parts[0] in named or not re.match(r"^[./~]", parts[0]):
        return mount  # an anonymous or named volume
    options = parts[2].split(",") if len(parts) > 2 else []
    if "ro" not in options:
        raise RehearsalError(
            f"service {name} mounts host path {parts[0]} read-write; the copy must not write the "
            f"running stack's files: mount it {parts[0]}:{parts[1]}:ro or use a named volume"
        )
    return ":".join([_absolute(parts[0], base), *parts[1:]])


def _ports_as_expose(ports: list[Any]) -> list[str]:
    """The container side of published ports (`8080:80`, `80/udp`, long syntax), as `expose`."""
    exposed = []
    for port in ports:
        if isinstance(port, dict):
            target, proto = port.get("target"), port.get("protocol", "tcp")
        else:
            text, _, proto = str(port).partition("/")
            target, proto = text.rsplit(":", 1)[-1], proto or "tcp"
        if target is not None:
            exposed.append(f"{target}/{proto}" if proto != "tcp" else str(target))
    return exposed


def isolated_compose(compose: dict[str, Any], base: Path) -> tuple[dict[str, Any], list[str]]:
    """A copy of `compose` that cannot touch the running stack, and what was changed (one line each).

    No top-level `name:`; no `container_name`; published ports become `expose` (the copy binds no
    host port); `traefik.*` labels dropped (the proxy would route real traffic to the copy); named
    and external volumes and networks become new ones of the copy's project; read-only host paths
    stay (made absolute), read-write ones and `network_mode: host` are refused; nothing is pulled."""
    copy = yaml.safe_load(yaml.safe_dump(compose))
    changes: list[str] = []
    if copy.pop("name", None) is not None:
        changes.append("the project name is the copy's own")
    named = set((copy.get("volumes") or {}).keys())
    for section in ("volumes", "networks"):
        for key, definition in list((copy.get(section) or {}).items()):
            if not isinstance(definition, dict):
                continue
            dropped = [field for field in ("external", "name") if definition.pop(field, None) is not None]
            if "device" in (definition.get("driver_opts") or {}):  # a host directory in disguise
                definition.pop("driver_opts")
                dropped.append("driver_opts device")
            if dropped:
                changes.append(f"{section[:-1]} {key}: a new one for the copy (was {'/'.join(dropped)})")
    for name, service in copy["services"].items():
        if not isinstance(service, dict):
            raise RehearsalError(
                f"service {name} is not a mapping; each service needs image: and its settings"
            )
        mode = str(service.get("network_mode") or "")
        if mode == "host" or mode.startswith("container:"):
            raise RehearsalError(
                f"service {name} uses network_mode: {mode}; the copy would share the running stack's "
                "network and ports: remove network_mode for the rehearsal"
            )
        if service.pop("container_name", None) is not None:
            changes.append(f"{name}: container_name removed")
        if ports := service.pop("ports", None):
            service["expose"] = [*(service.get("expose") or []), *_ports_as_expose(ports)]
            changes.append(f"{name}: host ports {', '.join(map(str, ports))} not published")
        labels = service.get("labels")
        if isinstance(labels, list):
            labels = dict(str(item).partition("=")[::2] for item in labels)
        if isinstance(labels, dict) and any(str(k).startswith("traefik.") for k in labels):
            service["labels"] = {k: v for k, v in labels.items() if not str(k).startswith("traefik.")}
            changes.append(f"{name}: traefik labels removed")
        if service.get("volumes"):
            service["volumes"] = [_isolated_mount(name, m, named, base) for m in service["volumes"]]
        env_files = service.get("env_file")
        if env_files:
            files = [env_files] if isinstance(env_files, str) else env_files
            service["env_file"] = [
                {**f, "path": _absolute(str(f["path"]), base)}
                if isinstance(f, dict)
                else _absolute(str(f), base)
                for f in files
            ]
        service.pop("build", None)
        service["pull_policy"] = "never"
    return copy, changes


def check_images(compose: dict[str, Any], engine: docker.DockerClient) -> dict[str, Any]:
    """service → its local image; a service without `image:` or with one not on this engine is refused."""
    images = {}
    for name, service in compose["services"].items():
        image = service.get("image")
        if not image:
            raise RehearsalError(
                f"service {name} has no image: (it is built); build it, set image: to its tag and run again"
            )
        try:
            images[name] = engine.images.get(str(image))
        except ImageNotFound:
            raise RehearsalError(
                f"service {name}: image {image} is not on this engine and the rehearsal never pulls; "
                f"run `docker pull {image}` first"
            ) from None
    return images


def probe_image(engine: docker.DockerClient, image: str, needs: str, fault: Fault) -> None:
    """Whether `image` has sh (and the commands in `needs`): a throwaway container with no network."""
    script = " && ".join(["true", *(f"command -v {cmd} >/dev/null" for cmd in needs.split())])
    # created, started and removed by hand: docker-py's run() leaves the container behind when
    # it cannot start (no sh)
    probe = engine.containers.create(
        image, entrypoint=["sh", "-c", script], command=[], user="0",
        network_disabled=True, labels={"ig.lab.probe": "1"},
    )  # fmt: skip
    try:
        probe.start()
        code = int(probe.wait(timeout=60).get("StatusCode", 1))
    except APIError:
        raise RehearsalError(
            f"{fault.kind}:{fault.service}: image {image} has no sh, which every fault needs "
            "(it runs inside the container); rehearse another service"
        ) from None
    finally:
        probe.remove(force=True)
    if code != 0:
        raise RehearsalError(
            f"{fault.kind}:{fault.service}: image {image} lacks {needs}, which the fault needs; "
            "rehearse another fault or service"
        )


def _health_test(service: dict[str, Any], image_attrs: dict[str, Any]) -> str | None:
    """The service's health check as one shell command (compose first, then the image's)."""
    check = service.get("healthcheck")
    if isinstance(check, dict) and check.get("disable"):
        return None
    test = check.get("test") if isinstance(check, dict) else None
    if test is None:
        test = ((image_attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test")
    if not test or test == ["NONE"]:
        return None
    if isinstance(test, str):
        return test
    if test[0] == "CMD-SHELL":
        return " ".join(test[1:])
    return shlex.join(test[1:] if test[0] == "CMD" else test)


def _probed_ports(service: dict[str, Any], image_attrs: dict[str, Any]) -> list[str]:
    """The TCP ports the server's own probe would try (expose + image ExposedPorts, minus skipped)."""
    ports = [str(p) for p in service.get("expose") or []]
    ports += list(((image_attrs.get("Config") or {}).get("ExposedPorts") or {}).keys())
    found = []
    for port in ports:
        number, _, proto = port.partition("/")
        if (proto or "tcp") == "tcp" and number.isdigit() and int(number) not in PROBE_SKIP_PORTS:
            found.append(number)
    return sorted(set(found))


def _apply_fault(service: dict[str, Any], fault: Fault, image_attrs: dict[str, Any]) -> list[str]:
    """The faulted service's settings for the fault; what was changed, one line each."""
    changes = [f"{fault.service}: runs under Docker's init so the fault can reach its main process"]
    service["init"] = True
    policy = str(service.get("restart") or "no")
    if fault.kind == "stop":
        service["restart"] = "no"
        changes.append(f"{fault.service}: restart policy no (it must stay down)")
    elif policy == "no":
        service["restart"] = "unless-stopped"
        changes.append(f"{fault.service}: restart policy unless-stopped (it had none)")
    if fault.kind == "hang":
        labels = service.get("labels") or {}
        if isinstance(labels, list):
            labels = dict(str(item).partition("=")[::2] for item in labels)
        service["labels"] = {**labels, "infraguardian.hung.after": HUNG_AFTER}
        changes.append(f"{fault.service}: labelled infraguardian.hung.after={HUNG_AFTER} (hung checks)")
    if fault.kind == "unhealthy":
        test = _health_test(service, image_attrs)
        if test is None:
            raise RehearsalError(
                f"unhealthy:{fault.service}: the service has no health check (neither in the compose "
                "file nor in its image); add a healthcheck: to it or rehearse another fault"
            )
        fail = f"if [ -e {UNHEALTHY_MARKER} ]; then echo 'ig-lab rehearsal: health check failing'; exit 1; fi"
        check = dict(service.get("healthcheck") or {})
        check.update(test=["CMD-SHELL", f"{fail}; {test}"], interval="2s")
        check["retries"] = min(int(check.get("retries") or 3), 3)
        service["healthcheck"] = check
        service["tmpfs"] = [*_as_list(service.get("tmpfs")), RUN_DIR]
        changes.append(f"{fault.service}: health check every 2 s, made to fail by a marker a restart clears")
    return changes


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def scenario_name(fault: Fault) -> str:
    """`rehearse-oom-api`: the scenario's (and its folder's) name, within the spec's pattern."""
    service = re.sub(r"[^a-z0-9-]+", "-", fault.service.lower()).strip("-") or "service"
    return f"rehearse-{fault.kind}-{service}"[:41].rstrip("-")


FAULT_PY = '''"""Fault injector of a rehearsal: {kind} on {service} (see agent_host/lab/faults.py)."""

from agent_host.lab.faults import main

main({kind!r}, {service!r})
'''


def rehearsal_scenario(compose_path: Path, fault: str, work_dir: Path) -> Scenario:
    """A scenario (written under `work_dir`) that rehearses `fault` (`KIND:SERVICE`) on an isolated
    copy of the compose file at `compose_path`; every refusal is a one-line RehearsalError."""
    wanted = parse_fault(fault)
    compose_path = Path(compose_path)
    compose = load_user_compose(compose_path)
    if wanted.service not in compose["services"]:
        raise RehearsalError(
            f"--fault {fault}: {compose_path.name} has no service {wanted.service!r}; "
            f"its services: {', '.join(compose['services'])}"
        )
    copy, changes = isolated_compose(compose, compose_path.resolve().parent)
    engine = docker.from_env()
    try:
        images = check_images(copy, engine)
        image = images[wanted.service]
        probe_image(
            engine,
            str(copy["services"][wanted.service]["image"]),
            "dd" if wanted.kind == "oom" else "",
            wanted,
        )
    finally:
        engine.close()
    service = copy["services"][wanted.service]
    changes += _apply_fault(service, wanted, image.attrs)
    probed = _probed_ports(service, image.attrs)
    spec = {"name": scenario_name(wanted)}
    spec.update(expectations(wanted.kind, wanted.service, list(copy["services"]), compose_path.name, probed))
    folder = Path(work_dir) / spec["name"]
    folder.mkdir(parents=True, exist_ok=True)
    header = "".join(f"# {line}\n" for line in [f"rehearsal copy of {compose_path}", *changes])
    (folder / "compose.yml").write_text(header + yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
    (folder / "fault.py").write_text(
        FAULT_PY.format(kind=wanted.kind, service=wanted.service), encoding="utf-8"
    )
    (folder / "scenario.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    try:
        return load_scenario(folder)
    except ScenarioError as exc:  # a bug here, not the user's: say so
        raise RehearsalError(f"the rehearsal scenario written to {folder} is invalid: {exc}") from None
