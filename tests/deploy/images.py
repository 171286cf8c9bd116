"""Local images for the self-deploy test: there is no registry to pull from here.

Stand-ins for the three public images the Dockerfile and deploy/docker-compose.yml name, made once
and reused (an image that exists is not made again):
- `ig/python-base:test` for `python:3.11-slim`: a Debian bookworm minbase root filesystem made
  by debootstrap, with Debian's python3 (3.11) and the host's CA bundle (PyPI is reached through
  a mirror whose certificate that bundle trusts), imported with `docker import`;
- `ig/uv:test` for `ghcr.io/astral-sh/uv`: only this machine's uv binary, at /uv;
- `ig/postgres:test` for `postgres:16-alpine`: Debian's PostgreSQL on the base above
  (tests/deploy/postgres/, honouring POSTGRES_USER/PASSWORD/DB like the official image).

The InfraGuardian images themselves are always built from the working tree (`build_app_images`),
through the real Dockerfile with the stand-ins as its base-image build args; Docker's layer cache
keeps that to the project layer when only the code changed.

`python -m tests.deploy.images` makes the three stand-ins (.ci/setup runs it; needs root for
debootstrap).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POSTGRES_CONTEXT = Path(__file__).resolve().parent / "postgres"

BASE_IMAGE = "ig/python-base:test"
UV_IMAGE = "ig/uv:test"
POSTGRES_IMAGE = "ig/postgres:test"
SERVER_IMAGE = "ig/infraguardian:test"
AGENT_IMAGE = "ig/infraguardian-agent:test"
# the Dockerfile's `project` stage (the wheel), tagged only so its previous build can be removed
PROJECT_STAGE_IMAGE = "ig/infraguardian-project-stage:test"

DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT_S = 1800  # a cold build downloads the agent's ~360 MB of wheels


class ImageError(RuntimeError):
    """An image could not be made; the message says which command failed and its output's tail."""


@dataclass(frozen=True)
class AppImages:
    server: str
    agent: str
    postgres: str


def run(argv: list[str], *, what: str, stdin: bytes | None = None, cwd: Path | None = None) -> str:
    """Run a command; ImageError with the last lines of its output when it fails."""
    result = subprocess.run(
        argv, input=stdin, cwd=cwd, capture_output=True, timeout=BUILD_TIMEOUT_S, check=False
    )
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise ImageError(f"{what} failed (exit {result.returncode}): {' '.join(argv[:4])} …\n{tail}")
    return output


def image_exists(tag: str) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0
    )


def uv_binary() -> Path:
    """The real uv executable on this machine (PATH may hold a pyenv shim script instead)."""
    found = shutil.which("uv")
    if found is None:
        raise ImageError("uv is not on PATH: install it (.ci/setup does)")
    if shutil.which("pyenv") is not None:
        shim = subprocess.run(["pyenv", "which", "uv"], capture_output=True, text=True, check=False)
        if shim.returncode == 0 and shim.stdout.strip():
            found = shim.stdout.strip()
    path = Path(found).resolve()
    if path.read_bytes()[:4] != b"\x7fELF":
        raise ImageError(f"{path} is not the uv executable (a wrapper script?); give the real binary")
    return path


def make_base_image(tag: str = BASE_IMAGE) -> None:
    """Debian bookworm minbase + python3 + CA certificates (the host's bundle) → `tag`."""
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is missing: apt-get install debootstrap (.ci/setup does)")
    with tempfile.TemporaryDirectory(prefix="ig-python-base-") as tmp:
        root = Path(tmp) / "rootfs"
        run(
            ["debootstrap", "--variant=minbase", "--include=python3,ca-certificates", "bookworm", str(root), DEBIAN_MIRROR],
            what="debootstrap of the python base image",
        )  # fmt: skip
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
        run(
            ["docker", "import",
             "-c", "ENV LANG=C.UTF-8",
             # uv (rustls) and Python both read it: the mirror's certificate is signed by this bundle
             "-c", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
             "-c", 'CMD ["python3"]', "-", tag],
            what="docker import of the python base image", stdin=tar,
        )  # fmt: skip


def make_uv_image(tag: str = UV_IMAGE) -> None:
    """An image holding only this machine's uv at /uv (what the Dockerfile copies from uv's image)."""
    with tempfile.TemporaryDirectory(prefix="ig-uv-") as tmp:
        shutil.copyfile(uv_binary(), Path(tmp) / "uv")
        os.chmod(Path(tmp) / "uv", 0o755)
        tar = subprocess.run(["tar", "-C", tmp, "-c", "uv"], capture_output=True, check=True).stdout
        run(["docker", "import", "-", tag], what="docker import of the uv image", stdin=tar)


def make_postgres_image(tag: str = POSTGRES_IMAGE, base: str = BASE_IMAGE) -> None:
    run(
        ["docker", "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, "."],
        what="docker build of the PostgreSQL stand-in",
        cwd=POSTGRES_CONTEXT,
    )


def ensure_base_images() -> None:
    """Make each stand-in base image that does not exist yet (the base first: Postgres needs it)."""
    if not image_exists(BASE_IMAGE):
        make_base_image()
    if not image_exists(UV_IMAGE):
        make_uv_image()
    if not image_exists(POSTGRES_IMAGE):
        make_postgres_image()


def image_id(tag: str) -> str | None:
    found = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", tag], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() if found.returncode == 0 else None


def build_app_images() -> AppImages:
    """Build the server and agent targets of the real Dockerfile from the working tree. The image a
    tag held before is removed when the build moved the tag (one per code change otherwise piles up;
    the dependency layers stay cached)."""
    ensure_base_images()
    for target, tag in (("project", PROJECT_STAGE_IMAGE), ("agent", AGENT_IMAGE), ("server", SERVER_IMAGE)):
        before = image_id(tag)
        run(
            ["docker", "build", "-q", "--network", "host",
             "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "--build-arg", f"UV_IMAGE={UV_IMAGE}",
             "--target", target, "-t", tag, "."],
            what=f"docker build --target {target}", cwd=REPO,
        )  # fmt: skip
        if before is not None and before != image_id(tag):
            # a container still using it keeps it (rmi refuses): that is fine, nothing is forced
            subprocess.run(["docker", "rmi", before], capture_output=True, check=False)
    return AppImages(server=SERVER_IMAGE, agent=AGENT_IMAGE, postgres=POSTGRES_IMAGE)


if __name__ == "__main__":
    try:
        ensure_base_images()
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"ready: {BASE_IMAGE}, {UV_IMAGE}, {POSTGRES_IMAGE}")
