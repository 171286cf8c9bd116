"""pytest plugin: the `ollama_standin` fixture.

Registered in the top-level `tests/conftest.py` (`pytest_plugins`, which pytest only honours there).
Each test gets a fresh, started stand-in with the default models (gpt-oss:20b, nomic-embed-text)
and an empty script: queue turns with `ollama_standin.script([...])`. At teardown the test FAILS
if the stand-in found a script problem (a request with no turn left and no rule matching, a reply
that does not fit the request's `format`) or crashed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ..fixtures import serve_for_one_test

if TYPE_CHECKING:
    from .server import OllamaStandIn


@pytest.fixture
def ollama_standin() -> Iterator[OllamaStandIn]:
    """A running Ollama stand-in (`.url`, `.script(...)`, `.chats`, `.down()`, `.up()`)."""
    from .server import OllamaStandIn  # imported here: test sessions that never use it skip uvicorn & co

    yield from serve_for_one_test(OllamaStandIn(), "Ollama stand-in: script problems:")
