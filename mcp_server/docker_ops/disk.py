"""Disk usage: the filesystem that holds Docker's data, and `docker system df`.

The filesystem numbers come from `shutil.disk_usage` on the engine's DockerRootDir when the engine
runs on this machine, else from `df` run in a short-lived helper container that mounts the root dir
read-only (the only way to reach a remote host's filesystem through the Docker API alone).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from .host import DockerHost, DockerOpsError

if TYPE_CHECKING:
    import docker  # the client comes from `DockerHost.run`; importing this module must not load it

HELPER_LABEL = "ig.helper"


class FilesystemUsage(BaseModel):
    """Space on the filesystem that holds `path`."""

    path: str
    total_bytes: int
    used_bytes: int
    free_bytes: int = Field(description="space an unprivileged process can still use")
    used_percent: float
    measured_by: Literal["local", "df_container"]


class KindUsage(BaseModel):
    """One line of `docker system df`."""

    kind: Literal["images", "containers", "volumes", "build_cache"]
    total_count: int
    active_count: int = Field(description="images/volumes used by a container, running containers, …")
    size_bytes: int
    reclaimable_bytes: int = Field(description="what a prune could free (an estimate for images)")


class VolumeUsage(BaseModel):
    name: str
    size_bytes: int | None = Field(description="None when the engine can't measure (non-local driver)")
    in_use_by_containers: int
    driver: str


class DiskReport(BaseModel):
    """Disk picture of one engine."""

    base_url: str
    docker_root_dir: str
    filesystem: FilesystemUsage | None
    kinds: list[KindUsage]
    largest_volumes: list[VolumeUsage]
    notes: list[str] = Field(default_factory=list)


def summarize_system_df(df: dict[str, Any]) -> tuple[list[KindUsage], list[VolumeUsage]]:
    """Summarise a raw `GET /system/df` answer the way `docker system df` prints it."""
    images = df.get("Images") or []
    used_by_active = sum(
        int(i.get("Size", 0)) - int(i.get("SharedSize", 0))
        for i in images
        if i.get("Containers", 0) and i.get("Size", -1) >= 0 and i.get("SharedSize", -1) >= 0
    )
    layers = int(df.get("LayersSize") or 0)
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    cache = df.get("BuildCache") or []
    volume_sizes = [max(int((v.get("UsageData") or {}).get("Size", -1)), -1) for v in volumes]
    volume_refs = [int((v.get("UsageData") or {}).get("RefCount", 0)) for v in volumes]
    kinds = [
        KindUsage(
            kind="images",
            total_count=len(images),
            active_count=sum(1 for i in images if i.get("Containers", 0) > 0),
            size_bytes=layers,
            reclaimable_bytes=max(layers - used_by_active, 0),
        ),
        KindUsage(
            kind="containers",
            total_count=len(containers),
            active_count=sum(1 for c in containers if c.get("State") == "running"),
            size_bytes=sum(int(c.get("SizeRw") or 0) for c in containers),
            reclaimable_bytes=sum(
                int(c.get("SizeRw") or 0) for c in containers if c.get("State") != "running"
            ),
        ),
        KindUsage(
            kind="volumes",
            total_count=len(volumes),
            active_count=sum(1 for r in volume_refs if r > 0),
            size_bytes=sum(s for s in volume_sizes if s > 0),
            reclaimable_bytes=sum(
                s for s, r in zip(volume_sizes, volume_refs, strict=True) if s > 0 and r == 0
            ),
        ),
        KindUsage(
            kind="build_cache",
            total_count=len(cache),
            active_count=sum(1 for b in cache if b.get("InUse")),
            size_bytes=sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared")),
            reclaimable_bytes=sum(
                int(b.get("Size") or 0) for b in cache if not b.get("InUse") and not b.get("Shared")
            ),
        ),
    ]
    largest = sorted(
        (
            VolumeUsage(
                name=v.get("Name", ""),
                size_bytes=size if size >= 0 else None,
                in_use_by_containers=refs,
                driver=v.get("Driver", ""),
            )
            for v, size, refs in zip(volumes, volume_sizes, volume_refs, strict=True)
        ),
        key=lambda v: v.size_bytes or 0,
        reverse=True,
    )
    return kinds, largest


def local_filesystem_usage(path: str) -> FilesystemUsage:
    """shutil.disk_usage of a path on this machine."""
    usage = shutil.disk_usage(path)
    return _fs(path, usage.total, usage.used, usage.free, "local")


def _fs(
    path: str, total: int, used: int, free: int, how: Literal["local", "df_container"]
) -> FilesystemUsage:
    # like df: used / (used + available), which accounts for blocks reserved for root
    percent = round(used / (used + free) * 100.0, 1) if used + free else 0.0
    return FilesystemUsage(
        path=path, total_bytes=total, used_bytes=used, free_bytes=free, used_percent=percent, measured_by=how
    )


def parse_df_output(text: str, path: str) -> FilesystemUsage:
    """Parse `df -P -k <path>` output (POSIX format, 1024-byte blocks)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        raise DockerOpsError(f"df printed no data for {path}: {text.strip()[:200]!r}")
    # a long device name can wrap onto its own line; the numbers are the last fields
    fields = " ".join(lines[1:]).split()
    try:
        total_k, used_k, free_k = (int(f) for f in fields[-5:-2])
    except (ValueError, IndexError):
        raise DockerOpsError(f"could not read df output for {path}: {text.strip()[:200]!r}") from None
    return _fs(path, total_k * 1024, used_k * 1024, free_k * 1024, "df_container")


def _df_in_container(client: docker.DockerClient, image: str, root: str) -> FilesystemUsage:
    output = client.containers.run(
        image,
        ["df", "-P", "-k", root],
        volumes={root: {"bind": root, "mode": "ro"}},
        network_mode="none",
        labels={HELPER_LABEL: "disk-usage"},
        remove=True,
        stdout=True,
        stderr=True,
    )
    return parse_df_output(output.decode("utf-8", "replace"), root)


async def disk_usage(
    host: DockerHost,
    *,
    measure: Literal["auto", "local", "df_container"] = "auto",
    df_image: str | None = None,
    largest_volumes: int = 10,
) -> DiskReport:
    """Filesystem usage of the Docker root dir plus the `docker system df` summary.

    Args:
        measure: "auto" uses shutil.disk_usage when the engine is on this machine (unix socket and
            the root dir exists here), else runs `df` in a helper container; or force one of them.
        df_image: image with a `df` binary for the helper container (must already be on that host;
            nothing is pulled). Without it, a remote host's filesystem is reported as unknown.
        largest_volumes: how many of the biggest volumes to list.
    """
    info = await host.info()
    root = str(info.get("DockerRootDir") or "/var/lib/docker")
    notes: list[str] = []
    filesystem: FilesystemUsage | None = None
    local_ok = host.is_local_socket and await anyio.Path(root).is_dir()
    if measure == "local" or (measure == "auto" and local_ok):
        filesystem = await anyio.to_thread.run_sync(local_filesystem_usage, root)
    elif df_image:
        image = df_image
        filesystem = await host.run(
            lambda c: _df_in_container(c, image, root), what=f"run df in a helper container ({image})"
        )
    else:
        notes.append(
            f"filesystem usage of {root} unknown: the engine is not on this machine; pass df_image="
            "<an image on that host with df, e.g. busybox> to measure it with a helper container"
        )
    raw_df = await host.run(lambda c: c.df(), what="docker system df")
    kinds, largest = summarize_system_df(raw_df)
    return DiskReport(
        base_url=host.base_url,
        docker_root_dir=root,
        filesystem=filesystem,
        kinds=kinds,
        largest_volumes=largest[: max(largest_volumes, 0)],
        notes=notes,
    )
