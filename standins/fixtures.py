"""What the stand-ins' pytest fixtures share: serve for one test, then fail it on the stand-in's problems.

Imported only by the `pytest_plugin` modules (it imports pytest; the command lines never load it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from .background import BackgroundServer

StandIn = TypeVar("StandIn", bound="BackgroundServer")


def serve_for_one_test(standin: StandIn, problems_heading: str) -> Iterator[StandIn]:
    """Start `standin`, yield it to the test, stop it; then FAIL the test if `standin.problems()`
    is not empty, listing them under `problems_heading` (e.g. "Ollama stand-in: script problems:").

    Use as the body of a generator fixture: `yield from serve_for_one_test(OllamaStandIn(), "...")`.
    """
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
    problems = standin.problems()
    if problems:
        pytest.fail("\n  ".join([problems_heading, *problems]), pytrace=False)
