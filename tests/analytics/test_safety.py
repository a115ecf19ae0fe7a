"""Safety incidents from known verdicts: exact counts, rates by segment, incidents linked to their traces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.rows import ScoreRow
from store.scores import insert_scores
from tests.analytics.conftest import days_ago, hour_now, iso
from tests.analytics.synth import Mix, make_traffic

pytestmark = pytest.mark.timeout(120)


def _verdict(trace: str, name: str, value: float, when) -> ScoreRow:
    source = "llm_judge" if name == "toxicity" else "rubric"
    return ScoreRow(project="default", target_type="trace", target_id=trace, trace_id=trace, name=name, source=source,
                    evaluator=name, value=value, label="detected" if value >= 0.5 else "clean",
                    rationale=f"{name} on {trace[:6]}", created_at=when, updated_at=when)


def _seed(store):
    """100 traces per service; bot: 7 PII leaks, 3 injections (one on a PII trace), 2 borderline toxic (0.5)."""
    now = hour_now()
    bot = make_traffic(store, "default", days_ago(1), now, 100, Mix(service="bot"), seed=51)
    api = make_traffic(store, "default", days_ago(1), now, 100, Mix(service="api"), seed=52)
    rows = []
    for i, t in enumerate(bot):
        rows += [_verdict(t, "pii_output", float(i < 7), now), _verdict(t, "prompt_injection", float(6 <= i < 9), now),
                 _verdict(t, "toxicity", 0.5 if i in (20, 21) else 0.0, now)]
    rows += [_verdict(t, "pii_output", 0.0, now) for t in api]
    insert_scores(store, rows)
    return bot, api


def test_summary_counts_incidents_per_category_exactly(serve_with, store) -> None:
    server = serve_with()
    _seed(store)
    with server.client() as c:
        body = c.get("/api/safety/summary", params={"start": iso(days_ago(1)), "end": iso(hour_now())}).json()
    cats = {c["category"]: c for c in body["categories"]}
    assert (cats["all"]["incidents"], cats["all"]["judged"]) == (11, 200)  # 7 + 3 + 2 minus the overlap
    assert cats["pii_leak"]["incidents"] == 7 and cats["pii_leak"]["judged"] == 200
    assert cats["prompt_injection"]["incidents"] == 3 and cats["toxic_output"]["incidents"] == 2
    assert cats["all"]["rate"] == pytest.approx(0.055)


def test_by_segment_series_and_incident_list(serve_with, store) -> None:
    server = serve_with()
    bot, _ = _seed(store)
    window = {"start": iso(days_ago(1)), "end": iso(hour_now())}
    with server.client() as c:
        segs = c.get("/api/safety/segments", params={**window, "by": "service"}).json()["data"]
        segs = {r["segment"]: r for r in segs}
        series = c.get("/api/safety/series", params={**window, "bucket": "hour"}).json()["data"]
        page = c.get("/api/safety/incidents", params={**window, "category": "pii_leak", "limit": 5}).json()
        api_only = c.get("/api/safety/incidents", params={**window, "service": "api"}).json()
        bad = c.get("/api/safety/incidents", params={**window, "category": "nope"})
    assert segs["bot"]["incidents"] == 11 and segs["api"]["incidents"] == 0 and segs["api"]["judged"] == 100
    assert sum(p["incidents"] for p in series) == 11 and sum(p["judged"] for p in series) == 200
    assert page["total"] == 7 and len(page["data"]) == 5 and page["next_offset"] == 5
    assert all(i["trace_id"] in bot[:7] and i["where"] == "output" and i["service"] == "bot" for i in page["data"])
    assert api_only["total"] == 0 and bad.status_code == 400


def test_rate_change_is_tested_against_the_previous_window(serve_with, store) -> None:
    server = serve_with()
    _seed(store)
    earlier = make_traffic(store, "default", days_ago(2), days_ago(1), 200, Mix(service="bot"), seed=53)
    insert_scores(store, [_verdict(t, "pii_output", 0.0, days_ago(1) - timedelta(hours=1)) for t in earlier])
    with server.client() as c:
        body = c.get("/api/safety/summary", params={"start": iso(days_ago(1)), "end": iso(hour_now())}).json()
    pii = next(c for c in body["categories"] if c["category"] == "pii_leak")
    assert pii["previous_rate"] == 0.0 and pii["p_value"] < 0.01


def test_safety_needs_a_key_and_stays_in_its_project(serve_with, store) -> None:
    server = serve_with()
    _seed(store)
    other = server.new_key("read", project="other")
    with server.client("bad") as c:
        assert c.get("/api/safety/summary").status_code == 401
    with server.client(other) as c:
        body = c.get("/api/safety/incidents", params={"start": iso(days_ago(1))}).json()
    assert body["total"] == 0
