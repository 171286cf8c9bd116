"""`docker.*` procedures: read-mostly views of the real engine."""

from __future__ import annotations

from typing import Any

from .. import docker_views, swarm_tasks
from ..world import World
from .base import VOID, Input, procedure


@procedure("docker.getContainers")
async def get_containers(world: World, inp: Input) -> Any:
    return await world.in_thread(docker_views.get_containers, world)


@procedure("docker.getConfig")
async def get_config(world: World, inp: Input) -> Any:
    config = await world.in_thread(docker_views.inspect_container, world, inp["containerId"])
    return VOID if config is None else config  # unknown container: 200 with an empty body


@procedure("docker.restartContainer")
async def restart_container(world: World, inp: Input) -> Any:
    await world.in_thread(docker_views.restart_container, world, inp["containerId"])
    return VOID


@procedure("docker.getContainersByAppNameMatch")
async def by_app_name(world: World, inp: Input) -> Any:
    return await world.in_thread(
        docker_views.containers_by_app_name, world, inp["appName"], inp.get("appType")
    )


@procedure("docker.getContainersByAppLabel")
async def by_app_label(world: World, inp: Input) -> Any:
    return await world.in_thread(docker_views.containers_by_label, world, inp["appName"], inp["type"])


@procedure("docker.getServiceContainersByAppName")
async def service_containers(world: World, inp: Input) -> Any:
    return await world.in_thread(swarm_tasks.service_tasks, world, inp["appName"])


@procedure("docker.getStackContainersByAppName")
async def stack_containers(world: World, inp: Input) -> Any:
    return await world.in_thread(swarm_tasks.stack_tasks, world, inp["appName"])


@procedure("docker.getEvents")
async def get_events(world: World, inp: Input) -> Any:
    return await world.in_thread(docker_views.events, world)


@procedure("docker.getServerHealth")
async def get_server_health(world: World, inp: Input) -> Any:
    return await world.in_thread(docker_views.server_health, world, world.db)
