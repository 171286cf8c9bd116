"""pytest plugin: the `dokploy_standin` fixture.

Use it from any test folder with `pytest_plugins = ["standins.dokploy.pytest_plugin"]` in the
top-level `tests/conftest.py` (pytest only honours `pytest_plugins` there), or import the fixture
into a folder's conftest. Each test gets a fresh stand-in; at teardown the test FAILS if a request
was one real Dokploy would reject (unknown path, wrong method, bad content type, invalid input...),
if a procedure the stand-in does not implement was called, or if the stand-in crashed.
Tests that send bad requests on purpose call `dokploy_standin.expect_rejections()` or carry the
`@pytest.mark.dokploy_rejections` marker.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import StandIn

MARKER = "dokploy_rejections"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: the test sends requests real Dokploy rejects, on purpose")


@pytest.fixture
def dokploy_standin(request: pytest.FixtureRequest) -> Iterator[StandIn]:
    """A running Dokploy v0.30.2 stand-in (`.url`, `.headers`, `.api_key`), torn down after the test."""
    standin = StandIn(service_labels={"ig.test": "dokploy-standin"})
    if request.node.get_closest_marker(MARKER) is not None:
        standin.expect_rejections()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
        standin.teardown()
    problems = standin.problems()
    if problems:
        pytest.fail("Dokploy stand-in: " + "\n  ".join(["unexpected requests:", *problems]), pytrace=False)
