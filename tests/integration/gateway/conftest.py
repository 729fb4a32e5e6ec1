"""Fixtures for the gateway tests: real gateways on loopback (TLS), their logs, PostgreSQL schemas.

``gateway`` is one server shared by a test module (tests that do not disturb it); ``start_gateway``
starts private ones with settings overridden per test and stops them at the end. Both check that
the server stopped cleanly: the thread ended without an error and the log's last entry is the
``shutdown`` entry written on stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_harness import (
    RunningGateway,
    ServerLogs,
    capture_server_logs,
    gateway_settings,
    start_gateway,
    stop_cleanly,
)
from postgres_schema import temporary_schema


@pytest.fixture(scope="module")
def module_logs() -> Iterator[ServerLogs]:
    with capture_server_logs() as logs:
        yield logs


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, module_logs: ServerLogs) -> Iterator[RunningGateway]:
    """One gateway with the default settings, shared by the tests of a module."""
    running = start_gateway(gateway_settings(tmp_path_factory.mktemp("gateway")))
    yield running
    stop_cleanly(running)


@pytest.fixture
def server_logs() -> Iterator[ServerLogs]:
    with capture_server_logs() as logs:
        yield logs


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """``start(**settings)`` starts a private gateway (data dir under ``tmp_path`` unless given).

    At the end each one still running is stopped and must stop cleanly; a test that breaks its
    gateway on purpose stops it itself.
    """
    started: list[RunningGateway] = []

    def _start(**overrides: Any) -> RunningGateway:
        overrides.setdefault("data_dir", tmp_path / f"gw{len(started)}")
        running = start_gateway(gateway_settings(**overrides))
        started.append(running)
        return running

    yield _start
    for running in started:
        if running.running:
            stop_cleanly(running)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, selected through ``search_path``, dropped afterwards.

    Request it before ``start`` so the gateways stop (and write their shutdown entry) before their
    schema is dropped.
    """
    with temporary_schema("gateway_test") as url:
        yield url
