"""Compose files are read from the host only inside `<base>/compose/<appName>/code` of the app
asked about, symlinks resolved, and opened without following links (issue 12, item 4)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mcp_server.dokploy.host_files import (
    HostFileError,
    OutsideDokployError,
    code_dir,
    dokploy_compose_text,
    read_code_dir_compose,
    read_inside,
    resolve_inside,
)
from mcp_server.dokploy.models import Compose

APP = "shop-a1b2c3"
LEGIT = "services:\n  web:\n    image: nginx\n"
PLANTED = "services:\n  x:\n    image: busybox\n    environment:\n      CANARY: planted-canary-5e1f\n"
WHAT = "named by a label"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A Dokploy directory with one deployed app, and a planted file outside it."""
    base = tmp_path / "dokploy"
    code = base / "compose" / APP / "code"
    code.mkdir(parents=True)
    (code / "docker-compose.yml").write_text(LEGIT)
    (code / ".env").write_text("APP_NAME=shop\n")
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "docker-compose.yml").write_text(PLANTED)
    (planted / ".env").write_text("CANARY=planted-env-canary-77a1\n")
    return base


def where(base: Path) -> str:
    return f"read only from Dokploy's API or from under {base.resolve() / 'compose' / APP / 'code'}"


def test_the_deployed_file_and_its_env_are_read(base: Path) -> None:
    code = base / "compose" / APP / "code"
    for named in (None, str(code / "docker-compose.yml"), f"{code}/docker-compose.yml,{code}/override.yml"):
        found = read_code_dir_compose(base, APP, named, what=WHAT)
        assert (found.text, found.env) == (LEGIT, "APP_NAME=shop\n")
        assert found.source == f"deployed file {code.resolve() / 'docker-compose.yml'}"
    # a symlink that stays inside the code directory is fine (a repo may link its compose file)
    (code / "compose.yml").symlink_to("docker-compose.yml")
    assert read_code_dir_compose(base, APP, str(code / "compose.yml"), what=WHAT).text == LEGIT


@pytest.mark.parametrize(
    "named",
    [
        "{tmp}/planted/docker-compose.yml",
        "/etc/shadow",
        "/proc/self/environ",
        "{code}/../../../../planted/docker-compose.yml",  # `..` out of the base
        "{code}/../../other-app/code/docker-compose.yml",  # another app's directory
        "../../other-app/code/docker-compose.yml",  # relative, as a composePath could be
    ],
)
def test_paths_outside_the_apps_code_directory_are_refused(base: Path, named: str) -> None:
    code = base / "compose" / APP / "code"
    other = base / "compose" / "other-app" / "code"
    other.mkdir(parents=True)
    (other / "docker-compose.yml").write_text(PLANTED)
    path = named.format(tmp=base.parent, code=code)
    with pytest.raises(OutsideDokployError) as err:
        read_code_dir_compose(base, APP, path, what=WHAT)
    message = str(err.value)
    assert message.startswith(f"refused to read {path!r} ({WHAT}): ") and where(base) in message
    assert "\n" not in message and "planted-canary" not in message


def test_symlinks_out_of_the_code_directory_are_refused(base: Path) -> None:
    code = base / "compose" / APP / "code"
    planted = base.parent / "planted"
    (code / "linked.yml").symlink_to(planted / "docker-compose.yml")
    with pytest.raises(OutsideDokployError, match="outside the app's code directory"):
        read_code_dir_compose(base, APP, str(code / "linked.yml"), what=WHAT)
    # the .env next to a good compose file is checked too: a link out is refused, not skipped
    (code / ".env").unlink()
    (code / ".env").symlink_to("/proc/self/environ")
    with pytest.raises(OutsideDokployError, match=r"\(the \.env next to the compose file\)"):
        read_code_dir_compose(base, APP, None, what=WHAT)
    # the code directory itself being a link out
    os.rename(code, base / "moved")
    code.symlink_to(planted, target_is_directory=True)
    with pytest.raises(OutsideDokployError):
        read_code_dir_compose(base, APP, None, what=WHAT)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(base: Path) -> None:
    """resolve_inside checked the path; then a directory on it became a link out: the read, which
    walks the path without following links, refuses instead of reading the planted file."""
    code = base / "compose" / APP / "code"
    (code / "sub").mkdir()
    (code / "sub" / "docker-compose.yml").write_text(LEGIT)
    root = code_dir(base, APP)
    checked = resolve_inside(code / "sub" / "docker-compose.yml", root, WHAT)
    (code / "sub" / "docker-compose.yml").unlink()
    (code / "sub").rmdir()
    (code / "sub").symlink_to(base.parent / "planted", target_is_directory=True)
    with pytest.raises(OutsideDokployError, match="a symlink appeared in its path"):
        read_inside(root, checked, WHAT)


def test_only_regular_small_utf8_files_are_read(base: Path) -> None:
    code = base / "compose" / APP / "code"
    os.mkfifo(code / "pipe.yml")
    done = threading.Event()

    def read_fifo() -> None:
        with pytest.raises(OutsideDokployError, match="not a regular file"):
            read_code_dir_compose(base, APP, "pipe.yml", what=WHAT)
        done.set()

    worker = threading.Thread(target=read_fifo, daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert done.is_set(), "reading a FIFO blocked"
    (code / "big.yml").write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    with pytest.raises(HostFileError, match="larger than 4096 KiB"):
        read_code_dir_compose(base, APP, "big.yml", what=WHAT)
    (code / "bin.yml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HostFileError, match="not UTF-8"):
        read_code_dir_compose(base, APP, "bin.yml", what=WHAT)
    with pytest.raises(HostFileError, match=r"no file .* deploy the app through Dokploy first"):
        read_code_dir_compose(base, APP, "missing.yml", what=WHAT)


@pytest.mark.parametrize("app_name", ["..", ".", "../planted", "a/b", "", "x" * 64])
def test_an_app_name_cannot_steer_the_directory(base: Path, app_name: str) -> None:
    with pytest.raises(HostFileError, match="is not a Dokploy appName"):
        read_code_dir_compose(base, app_name, None, what=WHAT)


def test_dokploy_stored_file_first_then_its_checkout_under_the_base(base: Path) -> None:
    raw = Compose(compose_id="c1", name="shop", app_name=APP, compose_file=LEGIT, env="A=1")
    found = dokploy_compose_text(raw, base)
    assert (found.text, found.env, found.source) == (LEGIT, "A=1", "dokploy")
    # a git source stores no file: Dokploy's checkout at composePath, env from Dokploy
    code = base / "compose" / APP / "code"
    (code / "deploy").mkdir()
    (code / "deploy" / "stack.yml").write_text(LEGIT + "  db:\n    image: postgres\n")
    git = Compose(
        compose_id="c1",
        name="shop",
        app_name=APP,
        compose_file="",
        compose_path="./deploy/stack.yml",
        env="B=2",
    )
    found = dokploy_compose_text(git, base)
    assert found.text.endswith("image: postgres\n") and found.env == "B=2"
    assert found.source == f"dokploy, deployed file {code.resolve() / 'deploy' / 'stack.yml'}"
    hostile = git.model_copy(update={"compose_path": "../../../../planted/docker-compose.yml"})
    with pytest.raises(OutsideDokployError, match=r"\(Dokploy's composePath\)"):
        dokploy_compose_text(hostile, base)
