"""The trend pages of the dashboard through Streamlit's AppTest, against a real collector over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.analytics.conftest import days_ago, hour_now
from tests.analytics.synth import Mix, make_traffic

pytestmark = pytest.mark.timeout(180)
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py")
SHIFT = Mix(topics={"billing": 0.3, "shipping": 0.25, "account": 0.25, "plus": 0.2}, prompt=("support_answer", "v2"),
            graded={"groundedness": (3, 2, 5)}, scores={"pii_output": 0.08})


@pytest.fixture
def page(serve_with, store, monkeypatch):
    rule = {"name": "errors", "kind": "threshold", "metric": "error_rate", "value": 0.2, "window": "1h"}
    server = serve_with(alerts={"enabled": False, "rules": [rule]})
    make_traffic(store, "default", days_ago(2), days_ago(1), 300,
                 Mix(graded={"groundedness": (1, 2, 7)}, scores={"pii_output": 0.01}), seed=201)
    make_traffic(store, "default", days_ago(1), hour_now(), 300, SHIFT, seed=202)
    monkeypatch.setenv("LOUPE_URL", server.url)
    monkeypatch.setenv("LOUPE_PUBLIC_URL", "https://loupe.example.com")
    monkeypatch.delenv("LOUPE_DASHBOARD_KEY", raising=False)

    def open_page(path: str, key: str | None = None, **query: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.text_input[0].input(key or server.admin_key)
        at.button[0].click().run()
        for k, v in query.items():
            at.query_params[k] = v
        at.switch_page(path)
        at.run()
        assert not at.exception, at.exception
        return at

    open_page.server = server
    return open_page


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [m.label for m in at.metric]
    parts += [str(m.value) for m in at.metric] + [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_drift_page_ranks_features_and_shows_the_new_topic(page) -> None:
    at = page("app_pages/drift.py", days="1")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drifted"] == "yes" and float(metrics["Drift score"]) > 0
    assert at.dataframe and "input_text" in at.dataframe[0].value["feature"].tolist()
    assert any("plus" in e.label for e in at.expander)


def test_safety_regressions_alerts_and_report_pages(page) -> None:
    safety = page("app_pages/safety.py", days="1")
    assert "PII leaked in outputs" in [m.label for m in safety.metric]
    regress = page("app_pages/regressions.py", days="7")
    assert regress.dataframe and "groundedness (llm_judge)" in regress.dataframe[0].value["evaluator"].tolist()
    assert "regressed" in regress.dataframe[0].value["verdict"].tolist()
    alerts = page("app_pages/alerts.py")
    assert alerts.dataframe and alerts.dataframe[0].value["rule"].tolist() == ["errors"]
    assert {"Silence", "Test"} <= {b.label for b in alerts.button}
    report = page("app_pages/reports.py")
    assert "Weekly quality report" in _text(report) and len(report.get("download_button")) == 2


def test_reader_cannot_silence_from_the_alerts_page(page) -> None:
    reader = page.server.new_key("read")
    at = page("app_pages/alerts.py", key=reader)
    labels = [b.label for b in at.button]
    assert "Silence" not in labels and "Test" not in labels  # those forms are for admins
    assert "errors" in at.dataframe[0].value["rule"].tolist()
