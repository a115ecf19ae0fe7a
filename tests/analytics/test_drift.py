"""Drift through the API on seeded traffic whose answer is known: a shift where it was injected, none elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest

from judges.local_model import LocalModel
from tests.analytics.conftest import days_ago, hour_now, iso
from tests.analytics.synth import Mix, make_traffic

pytestmark = pytest.mark.timeout(120)
SHIFT = Mix(topics={"billing": 0.3, "shipping": 0.25, "account": 0.25, "plus": 0.2}, output_tokens=170, spanish=0.15)


def test_drift_finds_the_injected_shift_with_examples(serve_with, store) -> None:
    server = serve_with()
    make_traffic(store, "default", days_ago(2), days_ago(1), 400, Mix(), seed=1)
    current = set(make_traffic(store, "default", days_ago(1), hour_now(), 400, SHIFT, seed=2))
    with server.client() as c:
        r = c.get("/api/drift", params={"start": iso(days_ago(1)), "end": iso(hour_now())})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["drifted"] and body["score"] > 0.1
    drifted = {comp["name"] for comp in body["components"] if comp["drifted"]}
    assert {"input_text", "output_tokens", "language"} <= drifted
    assert "model" not in drifted and "input_tokens" not in drifted  # unchanged features stay quiet
    assert body["components"][0]["drifted"]  # ranked: drifted first
    appeared = [c for c in body["clusters"]["input"] if c["appeared"]]
    assert appeared and appeared[0]["examples"]
    assert all(e["trace_id"] in current for e in appeared[0]["examples"])
    assert body["method"]["text_sample"] == 2000 and body["method"]["vectors"] == "tfidf"


def test_no_drift_when_nothing_changed(serve_with, store) -> None:
    server = serve_with()
    make_traffic(store, "default", days_ago(2), days_ago(1), 400, Mix(), seed=3)
    make_traffic(store, "default", days_ago(1), hour_now(), 400, Mix(), seed=4)
    with server.client() as c:
        body = c.get("/api/drift", params={"start": iso(days_ago(1)), "end": iso(hour_now())}).json()
    assert not body["drifted"] and body["score"] == 0.0
    assert 0.4 < body["input_auc"] < 0.6


def test_trend_flags_the_day_of_the_shift(serve_with, store) -> None:
    server = serve_with()
    end = hour_now().replace(hour=0)
    for day in range(6):  # days 0-3 as before, the shift from day 4 on
        make_traffic(store, "default", end - timedelta(days=6 - day), end - timedelta(days=5 - day), 150,
                     SHIFT if day >= 4 else Mix(), seed=10 + day)
    with server.client() as c:
        r = c.get("/api/drift/trend", params={"end": iso(end), "points": 5, "step": "day"})
    assert r.status_code == 200, r.text
    flags = [p["drifted"] for p in r.json()["data"]]
    assert flags == [False, False, False, True, False]  # day 4 vs day 3 only; day 5 vs day 4 is the same mix
    with server.client() as c:  # stored: the second read computes nothing new and gives the same points
        again = c.get("/api/drift/trend", params={"end": iso(end), "points": 5, "step": "day"}).json()["data"]
    assert [p["score"] for p in again] == [p["score"] for p in r.json()["data"]]


def test_pinned_baseline_is_the_reference_and_needs_admin(serve_with, store) -> None:
    server = serve_with()
    make_traffic(store, "default", days_ago(6), days_ago(5), 200, SHIFT, seed=5)  # the pinned period
    make_traffic(store, "default", days_ago(2), days_ago(1), 200, Mix(), seed=6)
    make_traffic(store, "default", days_ago(1), hour_now(), 200, SHIFT, seed=7)
    reader = server.new_key("read")
    body = {"segment": {"service": "support-bot"}, "start": iso(days_ago(6)), "end": iso(days_ago(5))}
    with server.client(reader) as c:
        assert c.put("/api/drift/baseline", json=body).status_code == 403
    with server.client() as c:
        assert c.put("/api/drift/baseline", json=body).status_code == 200
        params = {"start": iso(days_ago(1)), "end": iso(hour_now()), "service": "support-bot"}
        previous = c.get("/api/drift", params=params).json()
        pinned = c.get("/api/drift", params={**params, "reference": "baseline"}).json()
        assert c.get("/api/drift/baselines").json()["data"][0]["segment"] == {"service": "support-bot"}
        assert c.delete("/api/drift/baseline", params={"service": "support-bot"}).status_code == 200
        assert c.get("/api/drift", params={**params, "reference": "baseline"}).status_code == 404
    assert previous["drifted"] and previous["reference"]["kind"] == "previous"
    assert pinned["reference"]["kind"] == "baseline" and pinned["score"] < previous["score"]


def test_embeddings_endpoint_is_used_when_configured(serve_with, store) -> None:
    with LocalModel() as base_url:
        server = serve_with(alerts={"drift": {"embeddings": {"base_url": base_url, "model": "emb-test"},
                                              "permutations": 19}})
        make_traffic(store, "default", days_ago(2), days_ago(1), 100, Mix(), seed=8)
        make_traffic(store, "default", days_ago(1), hour_now(), 100, Mix(), seed=9)
        with server.client() as c:
            body = c.get("/api/drift", params={"start": iso(days_ago(1)), "end": iso(hour_now())}).json()
    assert body["method"]["vectors"] == "embeddings (emb-test)"
    assert body["components"] and body["input_auc"] is not None


def test_drift_needs_a_key_and_sees_only_its_project(serve_with, store) -> None:
    server = serve_with()
    make_traffic(store, "default", days_ago(1), hour_now(), 100, Mix(), seed=11)
    other = server.new_key("read", project="other")
    with server.client("nope") as c:
        assert c.get("/api/drift").status_code == 401
    with server.client(other) as c:
        body = c.get("/api/drift", params={"start": iso(days_ago(1)), "end": iso(hour_now())}).json()
    assert body["current"]["calls"] == 0 and not body["drifted"]
