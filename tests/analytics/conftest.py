"""Fixtures for the trends tests: a real collector whose settings a test chooses, times relative to now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collector.settings import Settings
from store.client import Store
from tests.conftest import RunningServer, make_settings, start_server, stop_server

PUBLIC_URL = "http://dash.example:8501"


def hour_now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def serve_with(tmp_path: Path, store: Store) -> Iterator[Callable[..., RunningServer]]:
    """Start a real collector over the test's store with extra settings (e.g. `alerts=`)."""
    started: list[RunningServer] = []

    def start(**overrides) -> RunningServer:
        settings: Settings = make_settings(tmp_path, public_url=PUBLIC_URL, **overrides)
        running = start_server(settings, store)
        started.append(running)
        return running

    yield start
    for running in started:
        stop_server(running)


def iso(t: datetime) -> str:
    return t.isoformat()


def days_ago(n: float, base: datetime | None = None) -> datetime:
    return (base or hour_now()) - timedelta(days=n)
