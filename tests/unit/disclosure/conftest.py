"""Fixtures for the disclosure unit tests (the world itself lives in ``disclosure_world``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from disclosure_world import World, build_world

from disclosure import SuiteName


@pytest.fixture(params=list(SuiteName), ids=str)
def world(request: pytest.FixtureRequest) -> World:
    return build_world(request.param)


@pytest.fixture
def world_factory() -> Callable[..., World]:
    return build_world
