"""The weekly report from seeded traffic: its numbers against the API, the CLI's files, the real browser."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.report.data import last_full_week, week_window
from collector.cli import main as loupe
from store.rows import ScoreRow
from store.scores import insert_scores
from tests.analytics.synth import Mix, make_traffic
from tests.conftest import ADMIN_KEY, ROOT

pytestmark = pytest.mark.timeout(240)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"


def _seed(store) -> str:
    week = last_full_week(datetime.now(UTC))
    w = week_window(week)
    prev = w.previous()
    make_traffic(store, "default", prev.start, prev.end, 500, Mix(
        prompt=("support_answer", "v1"), graded={"groundedness": (1, 2, 7), "task_completion": (1, 1, 8)},
        scores={"pii_output": 0.02, "prompt_injection": 0.01}), seed=101)
    make_traffic(store, "default", w.start, w.end, 600, Mix(
        prompt=("support_answer", "v2"), graded={"groundedness": (3, 2, 5), "task_completion": (1, 1, 8)},
        topics={"billing": 0.3, "shipping": 0.25, "account": 0.25, "plus": 0.2}, errors=0.05,
        scores={"pii_output": 0.06, "prompt_injection": 0.01}), seed=102)
    judged = store.query("SELECT target_id, trace_id, value, label, created_at FROM scores "
                         "WHERE name = 'groundedness' ORDER BY target_id LIMIT 40")
    insert_scores(store, [ScoreRow(project="default", target_type="span", target_id=r["target_id"],
                                   trace_id=r["trace_id"], name="groundedness", source="human", author="rev",
                                   value=r["value"], label=r["label"], created_at=r["created_at"],
                                   updated_at=r["created_at"]) for r in judged])
    return week


def test_report_numbers_match_the_api_and_render_in_the_browser(serve_with, store, tmp_path) -> None:
    week = _seed(store)
    server = serve_with()
    w = week_window(week)
    window = {"start": w.start.isoformat(), "end": w.end.isoformat()}
    with server.client() as c:
        r = c.get("/api/reports/weekly", params={"week": week, "format": "json"})
        assert r.status_code == 200, r.text
        report = r.json()
        daily = c.get("/api/series", params={**window, "bucket": "day", "root": "true"}).json()["data"]
        spend = c.get("/api/series", params={**window, "bucket": "day"}).json()["data"]
        measures = {m["key"]: m for m in c.get("/api/measures", params={"end": w.end.isoformat(), "days": 7})
                    .json()["measures"]}
        summary = {(s["name"], s["source"]): s for s in c.get("/api/scores/summary", params=window).json()["data"]}
        safety = c.get("/api/safety/summary", params=window).json()
        periods = c.get("/api/regressions/periods", params=window).json()
        assert c.get("/api/reports/weekly", params={"week": week, "project": "other"}).status_code == 403
        assert c.get("/api/reports/weekly", params={"week": "2026-W99"}).status_code == 400
    with server.client("no-such-key") as c:
        assert c.get("/api/reports/weekly", params={"week": week}).status_code == 401

    assert report["volume"]["requests"] == sum(p["requests"] for p in daily) == 600
    assert report["volume"]["previous_requests"] == 500
    assert report["cost"]["total"] == pytest.approx(sum(p["cost_usd"] for p in spend))
    ours = {m["key"]: m for m in report["measures"]}
    for key in ("cost_per_request", "latency_p50", "error_rate", "task_completion_rate", "grounded_answer_quality",
                "safety_incident_rate"):
        assert ours[key]["value"] == pytest.approx(measures[key]["value"]), key
        assert ours[key]["previous"] == pytest.approx(measures[key]["previous"]), key
    assert ours["grounded_answer_quality"]["significant"] and not ours["grounded_answer_quality"]["improved"]
    assert not ours["task_completion_rate"]["significant"]
    for row in report["evaluators"]:
        assert row["mean_b"] == pytest.approx(summary[(row["name"], row["source"])]["mean"]), row["name"]
    assert [c["incidents"] for c in report["safety"]["categories"]] == [c["incidents"] for c in safety["categories"]]
    assert [r["name"] for r in report["regressions"]["week_over_week"]] == [r["name"] for r in periods["regressions"]]
    assert "groundedness" in {r["name"] for r in periods["regressions"]}
    assert report["drift"]["drifted"] and report["calibration"]
    assert all(t["link"].startswith("http://dash.example:8501/traces?trace=") for t in report["worst_traces"])

    out = tmp_path / "out"
    assert loupe(["report", "--week", week, "--project", "default", "--out", str(out), "--url", server.url,
                  "--api-key", ADMIN_KEY]) == 0
    html = out / f"loupe-report-default-{week}.html"
    md = (out / f"loupe-report-default-{week}.md").read_text()
    assert f"# Weekly quality report — default, {week}" in md and "| Requests | 600 | 500 |" in md
    assert "No human scores yet." not in md and "groundedness" in md
    with server.client() as c:  # deterministic: the same file whoever asks
        assert c.get("/api/reports/weekly", params={"week": week}).text == html.read_text()
    _browser(html)


def _browser(html: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "weekly-report.png"
    shot.unlink(missing_ok=True)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--hide-scrollbars", f"--user-data-dir={html.parent / 'chromium'}"]
    dom = subprocess.run([*flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") >= 4 and "Weekly quality report" in dom.stdout
    subprocess.run([*flags, "--window-size=1100,5200", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=90, check=True)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_week_parsing() -> None:
    w = week_window("2026-W48")
    assert w.start == datetime(2026, 11, 23, tzinfo=UTC) and w.length == timedelta(days=7)
    assert last_full_week(datetime(2026, 11, 27, tzinfo=UTC)) == "2026-W47"
    with pytest.raises(ValueError):
        week_window("2026-48")
