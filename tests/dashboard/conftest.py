from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.seeded import seeded_server

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")


@pytest.fixture(scope="package")
def seeded(engine_dsn, tmp_path_factory):
    yield from seeded_server(engine_dsn, tmp_path_factory.mktemp("seeded-dash"))


@pytest.fixture
def app(seeded, monkeypatch):
    """The dashboard script in-process (AppTest); its HTTP client talks to the seeded collector."""
    monkeypatch.setenv("LOUPE_URL", seeded.url)
    monkeypatch.setenv("LOUPE_PUBLIC_URL", "https://loupe.example.com")
    monkeypatch.delenv("LOUPE_DASHBOARD_KEY", raising=False)

    def make(key: str | None = None, page: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if key:
            at.run()
            at.text_input[0].input(key)
            at.button[0].click().run()
        for k, v in query.items():
            at.query_params[k] = v
        if page:
            at.switch_page(page)
        at.run()
        return at

    assert os.environ["LOUPE_URL"] == seeded.url
    return make
