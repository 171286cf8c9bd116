"""Fixtures of the metric rule tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import MetricServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def metric_server() -> Iterator[MetricServer]:
    with MetricServer().running() as server:
        yield server
