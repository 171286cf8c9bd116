"""Dokploy's compose files on this host, read without ever leaving Dokploy's directory.

Dokploy writes each compose stack to `<base>/compose/<appName>/code/`: the compose file (its
`composePath`, by default `docker-compose.yml`) and a `.env` next to it. `<base>` is `/etc/dokploy`
unless INFRAGUARDIAN_DOKPLOY_BASE_DIR says otherwise.

A container label such as Compose's `com.docker.compose.project.config_files` is written by
whoever started the container, so it may name any path: `/etc/shadow`, `/proc/self/environ`, or a
symlink that a git repository planted in the code directory. So a file is read only when its path,
with every symlink resolved, lies inside the code directory of the app asked about; and it is then
opened one path component at a time without following symlinks (O_NOFOLLOW), so a link swapped in
between the check and the read cannot lead out either. Anything else is refused with one line that
says where compose files are read from.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from mcp_server.dokploy.models import Compose

CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
DEFAULT_COMPOSE_FILE = "docker-compose.yml"
MAX_FILE_BYTES = 4 * 1024 * 1024  # a compose file or .env larger than this is not one Dokploy wrote
_APP_NAME = re.compile(r"^[A-Za-z0-9._-]{1,63}$")  # Dokploy's own appName rule
_SHOWN = 200  # characters of an untrusted path quoted back in an error


class HostFileError(Exception):
    """A Dokploy file could not be read; the message is one line that says what to do."""


class OutsideDokployError(HostFileError):
    """The path leads outside the app's code directory (directly, by `..` or by a symlink)."""


@dataclass(frozen=True)
class ComposeText:
    """A compose file's text, the `.env` that goes with it, and where both came from."""

    text: str
    env: str | None
    source: str


def code_dir(base_dir: Path, app_name: str) -> Path:
    """`<base>/compose/<appName>/code`, with the base's own symlinks resolved."""
    if not _APP_NAME.fullmatch(app_name) or app_name in (".", ".."):
        raise HostFileError(
            f"{app_name[:_SHOWN]!r} is not a Dokploy appName (1-63 letters, digits, '.', '_' or '-')"
        )
    return Path(base_dir).resolve() / "compose" / app_name / "code"


def _refused(shown: str, what: str, reason: str, root: Path) -> OutsideDokployError:
    return OutsideDokployError(
        f"refused to read {shown[:_SHOWN]!r} ({what}): {reason}. Compose files are read only from "
        f"Dokploy's API or from under {root} (Dokploy's directory is INFRAGUARDIAN_DOKPLOY_BASE_DIR)"
    )


def resolve_inside(candidate: str | Path, root: Path, what: str) -> Path:
    """`candidate` (absolute, or relative to `root`) with symlinks resolved; refused unless the
    result is inside `root`. `what` says where the path came from, for the error."""
    shown = str(candidate)[:_SHOWN]
    path = Path(candidate)
    if not path.is_absolute():
        path = root / path
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise _refused(shown, what, "its symlinks loop", root) from None
    if not real.is_relative_to(root):
        reason = "it is outside the app's code directory"
        if real != path:  # by `..` or a symlink: say where it really leads
            reason = f"it resolves to {str(real)[:_SHOWN]}, outside the app's code directory"
        raise _refused(shown, what, reason, root)
    return real


def read_inside(root: Path, path: Path, what: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of `path` (from resolve_inside), opened component by component from the base
    directory (`root` is code_dir()'s answer) without following any symlink. Blocking: call it in
    a worker thread."""
    base = root.parents[2]
    parts = path.relative_to(base).parts
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(base, flags | os.O_DIRECTORY)
    except OSError as exc:
        raise HostFileError(f"cannot open Dokploy's directory {base}: {exc.strerror}") from None
    try:
        for part in parts[:-1]:
            step = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = step
        leaf = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refused(str(path), what, "a symlink appeared in its path", root) from None
        if exc.errno == errno.ENOENT:
            raise HostFileError(
                f"no file {path} on this host: deploy the app through Dokploy first, or configure "
                "DOKPLOY_URL and DOKPLOY_API_KEY so the file comes from Dokploy's API"
            ) from None
        raise HostFileError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    with os.fdopen(leaf, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _refused(str(path), what, "it is not a regular file", root)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HostFileError(f"{path} is larger than {max_bytes // 1024} KiB; that is not a compose file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HostFileError(f"{path} is not UTF-8 text; that is not a compose file") from None


def read_code_dir_compose(
    base_dir: Path, app_name: str, named: str | None, *, what: str, env: str | None = None
) -> ComposeText:
    """The compose file of `app_name` from its code directory: `named` (a path from a label or
    Dokploy's composePath; only the first of a comma-separated list) or docker-compose.yml; and
    the `.env` next to it unless `env` is given. Blocking: call it in a worker thread."""
    root = code_dir(base_dir, app_name)
    first = (named or "").split(",")[0].strip() or DEFAULT_COMPOSE_FILE
    path = resolve_inside(first, root, what)
    text = read_inside(root, path, what)
    if env is None:
        env_path = path.parent / ".env"
        if os.path.lexists(env_path):  # a dangling or outward symlink is refused, not skipped
            env_what = "the .env next to the compose file"
            env = read_inside(root, resolve_inside(env_path, root, env_what), env_what)
    return ComposeText(text=text, env=env, source=f"deployed file {path}")


def dokploy_compose_text(compose: Compose, base_dir: Path) -> ComposeText:
    """What Dokploy has for a compose: its stored file (raw source), else (git sources store none)
    the file Dokploy checked out under its code directory, at composePath. Blocking when it reads
    the disk: call it in a worker thread."""
    if compose.compose_file.strip():
        return ComposeText(text=compose.compose_file, env=compose.env, source="dokploy")
    found = read_code_dir_compose(
        base_dir, compose.app_name, compose.compose_path, what="Dokploy's composePath", env=compose.env or ""
    )
    return ComposeText(text=found.text, env=compose.env, source=f"dokploy, {found.source}")
