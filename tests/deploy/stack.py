"""Helpers of the self-deploy test: the Dokploy stand-in's API as a Dokploy user drives it (project,
raw compose, environment, deploy), and the engine's view of a deployed compose project (containers
per service, health, addresses).

The test process runs on the host and reaches the containers by their addresses on the project's
own bridge network (`<appName>_default`): what Traefik and the other services reach, without
publishing a port the real compose does not publish.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
from docker.models.containers import Container

from standins.dokploy.server import StandIn

POLL_S = 1.0


def bridge_gateway(engine: docker.DockerClient) -> str:
    """The default bridge's gateway: the host address `host.docker.internal:host-gateway` names.
    dockerd leaves Gateway out of the bridge's IPAM config when it adopts a docker0 that already
    existed (a daemon restart on the same machine): the interface's own IPv4 address is the same
    address, which host-gateway resolves to by default."""
    network = engine.networks.get("bridge").attrs
    gateway = next((c["Gateway"] for c in network["IPAM"]["Config"] or [] if c.get("Gateway")), None)
    if gateway is not None:
        return str(gateway)
    interface = (network.get("Options") or {}).get("com.docker.network.bridge.name") or "docker0"
    try:
        return interface_ipv4(interface)
    except OSError as exc:
        raise RuntimeError(
            f"the default bridge has no gateway address and {interface} has no IPv4 address ({exc}); "
            "is dockerd's bridge off?"
        ) from exc


def interface_ipv4(name: str) -> str:
    """A network interface's IPv4 address (Linux SIOCGIFADDR); OSError when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name.encode()[:15])
        answer = fcntl.ioctl(probe.fileno(), 0x8915, request)  # SIOCGIFADDR
    return socket.inet_ntoa(answer[20:24])


def dotenv(values: dict[str, str]) -> str:
    """A Dokploy Environment tab's text (KEY=value lines)."""
    return "\n".join(f"{key}={value}" for key, value in values.items())


class DokployUser:
    """What a Dokploy user does through the panel, as API calls to the stand-in."""

    def __init__(self, standin: StandIn, project: str) -> None:
        self.standin = standin
        self.http = httpx.Client(base_url=standin.url, headers=standin.headers, timeout=120)
        self.environment_id = self._post("project.create", {"name": project})["environment"]["environmentId"]

    def close(self) -> None:
        self.http.close()

    def _post(self, op: str, body: dict[str, Any]) -> Any:
        response = self.http.post(f"/api/{op}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def _get(self, op: str, **params: Any) -> Any:
        response = self.http.get(f"/api/{op}", params=params)
        response.raise_for_status()
        return response.json() if response.content else None

    def compose(self, name: str, text: str, env: dict[str, str]) -> tuple[str, str]:
        """Create a raw compose and save its environment; (composeId, appName)."""
        row = self._post(
            "compose.create",
            {
                "name": name,
                "appName": name,
                "environmentId": self.environment_id,
                "sourceType": "raw",
                "composeType": "docker-compose",
                "composeFile": text,
            },
        )
        # the Environment tab's save (the stand-in implements it as compose.update's env)
        self._post("compose.update", {"composeId": row["composeId"], "env": dotenv(env)})
        return row["composeId"], row["appName"]

    def deploy(self, compose_id: str, timeout_s: float = 600) -> None:
        """Deploy and wait for the deployment to end; AssertionError with the log's tail if it failed."""
        self._post("compose.deploy", {"composeId": compose_id})
        self.standin.wait_idle(timeout_s)
        [newest, *_] = self._get("deployment.allByCompose", composeId=compose_id)
        if newest["status"] != "done":
            log = Path(newest["logPath"]).read_text(encoding="utf-8", errors="replace")
            raise AssertionError(f"deployment {newest['status']}:\n" + "\n".join(log.splitlines()[-40:]))


@dataclass
class Project:
    """A deployed compose project on the engine."""

    engine: docker.DockerClient
    app_name: str

    def containers(self) -> dict[str, Container]:
        """service name → its (first) container, running or not."""
        found = self.engine.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.app_name}"}
        )
        return {c.labels["com.docker.compose.service"]: c for c in found}

    def container(self, service: str) -> Container:
        try:
            return self.containers()[service]
        except KeyError:
            raise AssertionError(f"{self.app_name} has no container for service {service!r}") from None

    def health(self) -> dict[str, str]:
        """service → Docker's health status (`healthy`, `starting`, `unhealthy`, or the state)."""
        out = {}
        for service, container in self.containers().items():
            container.reload()
            state = container.attrs["State"]
            out[service] = state.get("Health", {}).get("Status") or state["Status"]
        return out

    def wait_healthy(self, services: set[str], timeout_s: float) -> None:
        """Until every one of `services` is healthy; AssertionError naming the others and their logs."""
        deadline = time.monotonic() + timeout_s
        health: dict[str, str] = {}
        while time.monotonic() < deadline:
            health = self.health()
            if all(health.get(s) == "healthy" for s in services):
                return
            if any(health.get(s) == "unhealthy" for s in services):
                break
            time.sleep(POLL_S)
        raise AssertionError(f"{self.app_name} is not healthy: {health}\n{self.describe_problems(services)}")

    def describe_problems(self, services: set[str]) -> str:
        """The last health-check outputs and log lines of each service that is not healthy."""
        parts = []
        for service, container in self.containers().items():
            if service not in services:
                continue
            state = container.attrs["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                continue
            probes = [p.get("Output", "").strip() for p in state.get("Health", {}).get("Log", [])[-2:]]
            logs = container.logs(tail=25).decode("utf-8", "replace")
            parts.append(f"--- {service} ({state['Status']}): probes {probes}\n{logs}")
        return "\n".join(parts)

    def address(self, service: str) -> str:
        """The service's address on the project's own network."""
        container = self.container(service)
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        own = networks.get(f"{self.app_name}_default")
        if not own or not own.get("IPAddress"):
            raise AssertionError(f"{service} is not on {self.app_name}_default: {sorted(networks)}")
        return str(own["IPAddress"])


def wait_for(what: str, check: Any, timeout_s: float, poll_s: float = 2.0) -> Any:
    """Call `check()` until it returns something truthy; AssertionError naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")
