"""Fixtures of the judges tests: the LocalModel judge server, and a collector with judges configured."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from judges.local_model import LocalModel
from tests.conftest import RunningServer, make_settings, start_server, stop_server

VERDICT = {"rationale": "kb-returns says 14 days.", "label": "grounded"}


def judges_section(base_url: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "enabled": False, "concurrency": 4, "overlap_s": 60, "quiet_s": 30, "poll_interval_s": 0.1,
        "endpoint": {"base_url": base_url, "model": "gpt-4o-mini", "max_attempts": 2, "backoff_s": 0.01},
        "evaluators": [{"name": "groundedness", "type": "llm", "template": "groundedness"},
                       {"name": "refusal", "type": "rubric", "rubric": {"type": "refusal"}}],
        "sampling": [{"evaluators": ["refusal"], "kind": "llm", "rate": 1.0}],
    }
    base.update(over)
    return base


@pytest.fixture
def model() -> Iterator[LocalModel]:
    m = LocalModel(judge=lambda body: VERDICT)
    m.start()
    yield m
    m.stop()


@pytest.fixture
def judge_server(tmp_path: Path, store, model: LocalModel) -> Iterator[Callable[..., RunningServer]]:
    """A real collector whose `judges:` section points at the LocalModel (the worker off unless asked)."""
    started: list[RunningServer] = []

    def start(**over: Any) -> RunningServer:
        running = start_server(make_settings(tmp_path, judges=judges_section(model.base_url, **over)), store)
        started.append(running)
        return running

    yield start
    for running in started:
        stop_server(running)
