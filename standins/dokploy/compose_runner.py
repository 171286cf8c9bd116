"""Compose deployments on the real Docker engine, as Dokploy v0.30.2 runs them.

Files live in `<base>/compose/<appName>/code/` (docker-compose.yml + .env) and the build runs
`env -i PATH=… HOME=… docker compose -p <appName> -f docker-compose.yml up -d --build --remove-orphans`
in that directory, its output appended to the deployment log. The log texts are the captured ones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from mcp_server.docker_ops.compose_binary import ComposeNotFoundError, compose_command

from .boxen import compose_summary_box
from .compose_files import ComposeFileError, convert_compose, env_file
from .errors import command_failed, spawn_enoent
from .ids import log_stamp, now_iso
from .queue import Job
from .state import Row
from .world import World

FAIL_TAIL = "\nError occurred ❌, check the logs for details.\n"
KEEP_DEPLOYMENTS = 10


class DeployFailed(Exception):
    """The build stopped; the reason is already in the log."""


def append_log(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def _clean_env() -> dict[str, str]:
    """`env -i PATH="$PATH" HOME="$HOME"` (DOCKER_HOST kept so a non-default engine still works)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
    }
    if os.environ.get("DOCKER_HOST"):
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


def _env_argv() -> list[str]:
    return ["env", "-i", *(f"{k}={v}" for k, v in _clean_env().items())]


async def _compose_argv(world: World) -> list[str]:
    return list(await world.in_thread(compose_command))


def _docker_cli() -> str | None:
    return shutil.which("docker")


async def run_to_log(
    argv: list[str], cwd: Path, log_path: Path, extra_env: dict[str, str] | None = None
) -> int:
    """Run a command with stdout+stderr appended to the log (like `2>&1 >> log`); its exit code."""
    env = {**_clean_env(), **(extra_env or {})}
    with log_path.open("ab") as fh:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=str(cwd), stdout=fh, stderr=asyncio.subprocess.STDOUT, env=env
            )
        except FileNotFoundError as exc:
            fh.write(f"{exc}\n".encode())
            return 127
        try:
            return await proc.wait()
        except asyncio.CancelledError:  # server shutting down: do not leave compose running
            proc.kill()
            await proc.wait()
            raise


async def run_captured(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run a command for a synchronous procedure; exit code and combined output."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=_clean_env(),
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace")


def box_command(compose: Row) -> str:
    """The command as Dokploy prints it in the log box (without `docker `)."""
    custom = " ".join((compose["command"] or "").split())
    if custom:
        return custom
    if compose["composeType"] == "stack":
        return f"stack deploy -c docker-compose.yml {compose['appName']} --prune --with-registry-auth"
    return f"compose -p {compose['appName']} -f docker-compose.yml up -d --build --remove-orphans"


async def _build_argv(world: World, compose: Row) -> list[str]:
    words = box_command(compose).split(" ")
    if words[0] == "compose":
        return [*await _compose_argv(world), *words[1:]]
    cli = _docker_cli()
    if cli is None:
        raise FileNotFoundError("docker CLI not found (needed for `docker stack` and custom commands)")
    return [cli, *words]


def create_deployment(world: World, service: Row, job: Job, id_key: str) -> Row:
    """Prune to the newest deployments, start the log file, insert the `running` row."""
    db = world.db
    owned = (
        db.deployments_of(compose_id=service[id_key])
        if id_key == "composeId"
        else db.deployments_of(application_id=service[id_key])
    )
    for old in owned[: max(0, len(owned) - (KEEP_DEPLOYMENTS - 1))]:
        del db.deployments[old["deploymentId"]]
        if not any(d["logPath"] == old["logPath"] for d in db.deployments.values()):
            Path(old["logPath"]).unlink(missing_ok=True)
    logs = world.logs_dir(service["appName"])
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{service['appName']}-{log_stamp()}.log"
    append_log(log_path, "Initializing deployment\n")
    kwargs = {"compose_id": service[id_key]} if id_key == "composeId" else {"application_id": service[id_key]}
    return db.add_deployment(title=job.title, description=job.description, log_path=str(log_path), **kwargs)


async def run_compose_job(world: World, job: Job) -> None:
    """The queue worker's compose job: deploy/redeploy, then done/error with finishedAt."""
    compose = world.db.compose.get(job.service_id)
    if compose is None:
        return
    compose["composeStatus"] = "running"
    deployment = create_deployment(world, compose, job, "composeId")
    log_path = Path(deployment["logPath"])
    ok = False
    try:
        await _build(world, compose, log_path)
        ok = True
    except DeployFailed:
        pass
    except Exception as exc:  # an unexpected failure still ends the deployment like Dokploy does
        append_log(log_path, f"❌ Has occurred an error: {exc}\n")
    if not ok:
        append_log(log_path, FAIL_TAIL)
    deployment["status"] = "done" if ok else "error"
    deployment["finishedAt"] = now_iso()
    compose["composeStatus"] = "done" if ok else "error"


async def _build(world: World, compose: Row, log_path: Path) -> None:
    app_name = compose["appName"]
    code = world.code_dir(app_name)
    if compose["sourceType"] != "raw":
        append_log(
            log_path,
            f"❌ Has occurred an error: the Dokploy stand-in cannot fetch '{compose['sourceType']}' "
            "sources (offline); use sourceType raw\n",
        )
        raise DeployFailed
    code.mkdir(parents=True, exist_ok=True)
    compose_file = code / "docker-compose.yml"
    compose_file.write_text(compose["composeFile"] or "", encoding="utf-8")
    append_log(log_path, "File 'docker-compose.yml' created: ✅\n")
    append_log(
        log_path,
        compose_summary_box(app_name, box_command(compose), compose["sourceType"], compose["composeType"])
        + "\n",
    )
    try:
        converted = convert_compose(compose, world.db.domains_of(compose_id=compose["composeId"]))
    except ComposeFileError as exc:
        append_log(log_path, f"❌ Has occurred an error: {exc}\n")
        raise DeployFailed from exc
    compose_file.write_text(converted, encoding="utf-8")
    if compose["createEnvFile"]:
        docker_config = os.path.join(os.environ.get("HOME", "/root"), ".docker")
        (code / ".env").write_text(env_file(compose, docker_config), encoding="utf-8")
    if compose["isolatedDeployment"]:
        await world.in_thread(_ensure_network, world, app_name, compose["composeType"] == "stack")
    world.compose_projects.add(app_name)
    extra_env = _env_lines(compose["env"]) if compose["composeType"] == "stack" else None
    try:
        argv = await _build_argv(world, compose)
    except (FileNotFoundError, ComposeNotFoundError) as exc:
        append_log(log_path, f"{exc}\nError: ❌ Docker command failed\n")
        raise DeployFailed from exc
    code_rc = await run_to_log(argv, code, log_path, extra_env)
    if code_rc != 0:
        append_log(log_path, "Error: ❌ Docker command failed\n")
        raise DeployFailed
    append_log(log_path, "Docker Compose Deployed: ✅\n")


def _env_lines(env: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (env or "").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip().strip('"')
    return out


def _ensure_network(world: World, name: str, overlay: bool) -> None:
    client = world.docker()
    if not client.networks.list(names=[name]):
        client.networks.create(name, driver="overlay" if overlay else "bridge", attachable=True)


# -- synchronous procedures (compose.stop / start / delete) --------------------------------------
async def stop_compose(world: World, compose: Row) -> None:
    app_name = compose["appName"]
    if compose["composeType"] == "stack":
        await world.in_thread(remove_stack, world, app_name)
        return
    cwd = world.compose_dir(app_name)
    if not cwd.is_dir():
        raise spawn_enoent()
    argv = [*_env_argv(), *await _compose_argv(world), "-p", app_name, "stop"]
    rc, out = await run_captured(argv, cwd)
    if rc != 0:
        raise command_failed(f'env -i PATH="$PATH" docker compose -p {app_name} stop', out)


async def start_compose(world: World, compose: Row) -> None:
    app_name = compose["appName"]
    if compose["composeType"] == "stack":
        return  # Dokploy's start is a no-op for stacks
    cwd = world.code_dir(app_name)
    if not cwd.is_dir():
        raise spawn_enoent()
    argv = [*_env_argv(), *await _compose_argv(world), "-p", app_name, "-f", "docker-compose.yml", "up", "-d"]
    rc, out = await run_captured(argv, cwd)
    if rc != 0:
        raise command_failed(
            f'env -i PATH="$PATH" docker compose -p {app_name} -f docker-compose.yml up -d', out
        )


async def remove_compose(
    world: World, compose: Row, delete_volumes: bool, stop_timeout: int | None = None
) -> None:
    """compose.delete's Docker part: `down [--volumes]`, then the compose directory is removed."""
    app_name = compose["appName"]
    if compose["composeType"] == "stack":
        await world.in_thread(remove_stack, world, app_name)
    else:
        await down_project(world, app_name, delete_volumes, stop_timeout)
    await world.in_thread(shutil.rmtree, world.compose_dir(app_name), True)


async def down_project(world: World, app_name: str, volumes: bool, stop_timeout: int | None) -> None:
    cwd = world.compose_dir(app_name) if world.compose_dir(app_name).is_dir() else world.config.base_dir
    argv = [*_env_argv(), *await _compose_argv(world), "-p", app_name, "down", "--remove-orphans"]
    if volumes:
        argv.append("--volumes")
    if stop_timeout is not None:
        argv += ["-t", str(stop_timeout)]
    await run_captured(argv, cwd)


def remove_stack(world: World, namespace: str) -> None:
    """`docker stack rm`: services, then networks, of one stack namespace."""
    client = world.docker()
    label = f"com.docker.stack.namespace={namespace}"
    for service in client.services.list(filters={"label": label}):
        service.remove()
    for network in client.networks.list(filters={"label": label}):
        try:
            network.remove()
        except Exception as exc:  # still in use while tasks shut down; Dokploy ignores it too
            if "not found" not in str(exc).lower() and "in use" not in str(exc).lower():
                raise
