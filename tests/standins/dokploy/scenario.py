"""The recorded capture session, rebuilt on a stand-in: setup steps between replayed captures.

`Ctx` owns one stand-in and a Replayer whose id map translates the real server's ids (as they appear
in the captures) into the stand-in's. Compose files from the captures get `init: true` and the
`ig.test` label so busybox containers stop at once (busybox ignores SIGTERM).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import docker
import httpx

from standins.dokploy.server import StandIn

from .replay import Replayer, load_capture

TEST_LABEL = "dokploy-standin"


def fast(compose_text: str) -> str:
    """A captured compose file with `init: true` and the test label added to every service."""
    return re.sub(
        r"(?m)^(    image: .*)$",
        rf"\1\n    init: true\n    labels:\n      ig.test: {TEST_LABEL}",
        compose_text,
    )


def captured_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = load_capture(name)["request"]["body"]
    return dict(body)


def fast_body(name: str) -> dict[str, Any]:
    """The capture's request body with its composeFile made fast to stop."""
    body = captured_body(name)
    body["composeFile"] = fast(body["composeFile"])
    return body


CAPHOOK_FILE = fast(
    'services:\n  web:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n'
    "    volumes:\n      - data:/data\nvolumes:\n  data: {}\n"
)


def slow_file(seconds: int, marker: str) -> str:
    """db becomes healthy `seconds` after it starts; api waits for it (the `capslow` compose)."""
    return fast(
        "services:\n  db:\n    image: ig/busybox:test\n"
        f'    command: sh -c "sleep {seconds}; touch /ready-{marker}; sleep 3600"\n'
        f'    healthcheck:\n      test: ["CMD-SHELL", "test -f /ready-{marker}"]\n'
        "      interval: 1s\n      timeout: 1s\n      retries: 60\n"
        '  api:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n'
        "    depends_on:\n      db:\n        condition: service_healthy\n"
    )


UNHEALTHY_FILE = fast(
    'services:\n  db:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n'
    '    healthcheck:\n      test: ["CMD-SHELL", "false"]\n'
    "      interval: 1s\n      timeout: 1s\n      retries: 1\n"
    '  api:\n    image: ig/busybox:test\n    command: sh -c "sleep 3600"\n'
    "    depends_on:\n      db:\n        condition: service_healthy\n"
)


@dataclass
class Ctx:
    """One stand-in plus the capture-id → stand-in-id map and setup helpers."""

    standin: StandIn
    http: httpx.Client
    replayer: Replayer

    @classmethod
    def start(cls) -> Ctx:
        standin = StandIn(service_labels={"ig.test": TEST_LABEL}).start()
        standin.expect_rejections()  # the replay sends the captured bad requests on purpose
        http = httpx.Client(base_url=standin.url, headers=standin.headers, timeout=180)
        return cls(standin, http, Replayer(standin.url, standin.api_key))

    def close(self) -> None:
        self.http.close()
        self.standin.stop()
        self.standin.teardown()

    # -- ids --------------------------------------------------------------------------
    @property
    def ids(self) -> dict[str, str]:
        return self.replayer.ids

    def real(self, capture_id: str) -> str:
        return self.ids[capture_id]

    def learn(self, expected: Any, actual: Any) -> None:
        """Map ids found at the same place in a capture body and in the stand-in's answer."""
        if isinstance(expected, dict) and isinstance(actual, dict):
            for key, value in expected.items():
                if key not in actual:
                    continue
                if (
                    (key.endswith("Id") or key == "appName")
                    and isinstance(value, str)
                    and isinstance(actual[key], str)
                ):
                    self.ids.setdefault(value, actual[key])
                else:
                    self.learn(value, actual[key])
        elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
            for exp, act in zip(expected, actual, strict=True):
                self.learn(exp, act)

    # -- API helpers (setup steps: plain calls, not compared) ---------------------------------
    def call(self, method: str, proc: str, **data: Any) -> Any:
        if method == "GET":
            response = self.http.get(f"/api/{proc}", params=data)
        else:
            response = self.http.post(f"/api/{proc}", json=data)
        assert response.status_code == 200, f"{proc}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None

    def project(
        self, capture_project: str, capture_env: str, name: str, description: str | None = None
    ) -> None:
        created = self.call("POST", "project.create", name=name, description=description)
        self.ids[capture_project] = created["project"]["projectId"]
        self.ids[capture_env] = created["environment"]["environmentId"]

    def compose(
        self, capture_id: str, capture_app: str, env: str, name: str, compose_file: str
    ) -> dict[str, Any]:
        row: dict[str, Any] = self.call(
            "POST",
            "compose.create",
            name=name,
            appName=name,
            environmentId=self.real(env),
            sourceType="raw",
            composeFile=compose_file,
        )
        self.ids[capture_id] = row["composeId"]
        self.ids[capture_app] = row["appName"]
        return row

    def deploy(self, compose: str, redeploy: bool = False, wait: bool = True, **extra: Any) -> None:
        self.call(
            "POST",
            "compose.redeploy" if redeploy else "compose.deploy",
            composeId=self.real(compose),
            **extra,
        )
        if wait:
            self.standin.wait_idle()

    def wait(self) -> None:
        self.standin.wait_idle()

    def map_latest_deployment(
        self, capture_deployment: str, compose: str | None = None, application: str | None = None
    ) -> None:
        if compose:
            rows = self.call("GET", "deployment.allByCompose", composeId=self.real(compose))
        else:
            rows = self.call("GET", "deployment.all", applicationId=self.real(application or ""))
        self.ids[capture_deployment] = rows[0]["deploymentId"]

    def map_container(self, capture_container: str, capture_app: str, service: str | None = None) -> None:
        """Map a captured short container id to the stand-in's container of the same service."""
        labels = [f"com.docker.compose.project={self.real(capture_app)}"]
        if service:
            labels.append(f"com.docker.compose.service={service}")
        client = docker.from_env()
        try:
            found = client.containers.list(all=True, filters={"label": labels})
        finally:
            client.close()
        assert found, f"no container for {capture_app}/{service}"
        self.ids[capture_container] = found[0].id[:12]

    def wait_for_task_container(self, capture_app: str, timeout: float = 60) -> None:
        """Until the swarm service has a running container (a deployment precondition, not a timing check)."""
        client = docker.from_env()
        try:
            deadline = time.monotonic() + timeout
            label = f"com.docker.swarm.service.name={self.real(capture_app)}"
            while not client.containers.list(filters={"label": label, "status": "running"}):
                assert time.monotonic() < deadline, f"service {capture_app} never started a container"
                time.sleep(0.2)
        finally:
            client.close()

    def wait_for_queue(self, predicate: Any, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.call("GET", "deployment.queueList")):
            assert time.monotonic() < deadline, "queue never reached the expected state"
            time.sleep(0.05)
