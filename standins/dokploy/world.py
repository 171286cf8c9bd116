"""Everything one stand-in instance holds: configuration, the in-memory database, the deployment
queue, the Docker connection, the OpenAPI operation table and the log of rejected requests."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread

from mcp_server.dokploy.openapi import OperationTable

from .state import Database

if TYPE_CHECKING:
    import docker

T = TypeVar("T")

DOKPLOY_VERSION = "v0.30.2"
# Dokploy's document is not shipped with the project (it belongs to Dokploy and must match the
# version being imitated): DOKPLOY_STANDIN_OPENAPI, else the `shared/` folder beside a checkout.
DEFAULT_OPENAPI_PATH = Path(
    os.environ.get("DOKPLOY_STANDIN_OPENAPI")
    or Path(__file__).resolve().parents[2].parent / "shared" / "dokploy" / "openapi.json"
)


@dataclass
class StandInConfig:
    """How to run a stand-in. `service_labels` is test-only: extra labels on swarm services it creates."""

    api_key: str
    base_dir: Path
    openapi_path: Path = DEFAULT_OPENAPI_PATH
    version: str = DOKPLOY_VERSION
    public_url: str = "http://127.0.0.1:3000"
    service_labels: dict[str, str] = field(default_factory=dict)
    body_limit_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class Rejection:
    """One request real Dokploy would refuse before running any procedure (bad client usage)."""

    method: str
    path: str
    status: int
    reason: str
    detail: Any = None

    def describe(self) -> str:
        extra = f" {json.dumps(self.detail, ensure_ascii=False)}" if self.detail is not None else ""
        return f"{self.method} {self.path} -> {self.status} {self.reason}{extra}"


# Where the captured server accepts input its own OpenAPI document calls invalid (the capture wins):
# (procedure, field that is `required` in the document but optional in practice, evidence)


def _mtime(path: Path) -> int:
    return Path(path).stat().st_mtime_ns


@functools.lru_cache(maxsize=4)
def _load_openapi(path: str, mtime_ns: int) -> tuple[str, OperationTable]:
    """The document text and its operation table (with KNOWN_INPUT_CORRECTIONS); cached per file version."""
    text = Path(path).read_text(encoding="utf-8")
    return text, OperationTable.from_document(json.loads(text))


class World:
    """State shared by the HTTP app, the procedures and the deployment worker of one stand-in."""

    def __init__(self, config: StandInConfig) -> None:
        self.config = config
        self._document_text, self.table = _load_openapi(str(config.openapi_path), _mtime(config.openapi_path))
        self.db = Database()
        self.rejections: list[Rejection] = []
        self.unimplemented: list[str] = []
        self.procedure_errors: list[str] = []
        # Docker objects this instance created, so a test teardown can remove them all
        self.compose_projects: set[str] = set()
        self.swarm_services: set[str] = set()
        self._docker: docker.DockerClient | None = None
        self._docker_lock = threading.Lock()
        self.queue: Any = None  # DeploymentQueue, attached by the app (needs the event loop)

    # -- OpenAPI document as the live server serves it -----------------------------------
    def openapi_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self._document_text)
        doc["info"] = {
            "title": "Dokploy API",
            "description": "Endpoints for dokploy",
            "version": self.config.version,
        }
        doc["servers"] = [{"url": f"{self.config.public_url.rstrip('/')}/api"}]
        return doc

    # -- Docker ----------------------------------------------------------------------------
    def docker(self) -> docker.DockerClient:
        """The Docker client, connected on first use (so API-only use needs no engine)."""
        with self._docker_lock:
            if self._docker is None:
                import docker  # lazily: the SDK is slow to import and API-only use never needs it

                self._docker = docker.from_env(timeout=120)
            return self._docker

    async def in_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (Docker SDK, file system) off the event loop."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        with self._docker_lock:
            if self._docker is not None:
                self._docker.close()
                self._docker = None

    # -- file layout (Dokploy's paths(): /etc/dokploy in production) --------------------------
    def compose_dir(self, app_name: str) -> Path:
        return self.config.base_dir / "compose" / app_name

    def code_dir(self, app_name: str) -> Path:
        return self.compose_dir(app_name) / "code"

    def logs_dir(self, app_name: str) -> Path:
        return self.config.base_dir / "logs" / app_name
