"""`standins.background.BackgroundServer` and `standins.fixtures.serve_for_one_test`, on a tiny app of
their own (the Ollama and Telegram stand-in tests cover the same code through the real stand-ins)."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from typing import Any

import click
import pytest
from click.testing import CliRunner

from standins.background import ASGIApp, BackgroundServer
from standins.fixtures import serve_for_one_test
from standins.ollama.cli import standin as ollama_command
from standins.telegram.cli import standin as telegram_command
from tests.standins.independence import STANDINS, forbidden_imports


class TinyStandIn(BackgroundServer):
    """Answers every request "ok"; counts loops of its beside-coroutine until told to stop."""

    standin_name = "tiny"

    def __init__(self) -> None:
        self.stopping = False
        self.beside_rounds = 0
        self.beside_finished = 0
        self.found: list[str] = []
        super().__init__(host="127.0.0.1", port=0)

    def problems(self) -> list[str]:
        return list(self.found)

    def _set_stopping(self, stopping: bool) -> None:
        self.stopping = stopping

    def _asgi_app(self) -> ASGIApp:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        return app

    async def _beside(self) -> None:
        while not self.stopping:
            self.beside_rounds += 1
            await asyncio.sleep(0.01)
        self.beside_finished += 1

    def _beside_server(self) -> Any:
        return self._beside()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


def wait_until(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_serves_goes_down_comes_back_on_the_same_port_and_runs_the_coroutine_beside() -> None:
    standin = TinyStandIn()
    port = standin.port
    assert port > 0 and standin.url == f"http://127.0.0.1:{port}"
    with standin:
        assert get(standin.url) == "ok"
        wait_until(lambda: standin.beside_rounds > 0)
        standin.down()
        assert standin.beside_finished == 1  # told to stop, it ended instead of being cancelled
        with pytest.raises(urllib.error.URLError):
            get(standin.url)
        standin.up()
        assert standin.port == port and get(standin.url) == "ok"
        assert standin.stopping is False
    assert standin.beside_finished == 2
    with pytest.raises(urllib.error.URLError):
        get(standin.url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_with_serves_from_its_own_thread() -> None:
    async with TinyStandIn() as standin:
        assert await asyncio.to_thread(get, standin.url) == "ok"


def test_fixture_body_fails_the_test_on_problems_after_stopping_the_standin() -> None:
    standin = TinyStandIn()
    body = serve_for_one_test(standin, "Tiny stand-in: problems:")
    assert next(body) is standin and get(standin.url) == "ok"
    standin.found = ["first thing", "second thing"]
    with pytest.raises(pytest.fail.Exception) as failed:
        next(body)
    assert str(failed.value) == "Tiny stand-in: problems:\n  first thing\n  second thing"
    with pytest.raises(urllib.error.URLError):
        get(standin.url)


def test_fixture_body_ends_quietly_without_problems() -> None:
    body = serve_for_one_test(TinyStandIn(), "Tiny stand-in: problems:")
    next(body)
    with pytest.raises(StopIteration):
        next(body)


def test_shared_modules_import_no_product_code_and_no_imitated_library() -> None:
    shared = [STANDINS / "background.py", STANDINS / "fixtures.py", STANDINS / "command_line.py"]
    assert all(path.is_file() for path in shared)
    assert forbidden_imports(shared, ("mcp_server", "agent_host", "ollama", "telegram")) == []


@pytest.mark.parametrize("command", [ollama_command, telegram_command], ids=["ollama", "telegram"])
def test_commands_say_in_one_line_that_a_taken_port_cannot_be_listened_on(command: click.Command) -> None:
    with TinyStandIn() as taken:  # holds its port for the whole test
        result = CliRunner().invoke(command, ["--port", str(taken.port)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{taken.port}: ")
    assert result.output.count("\n") == 1
