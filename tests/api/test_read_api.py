"""The dashboard's read API against a collector seeded with two weeks of traffic over real OTLP."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

ENDPOINTS = [
    ("/api/series", {"bucket": "day"}), ("/api/scores/series", {}), ("/api/scores/summary", {}),
    ("/api/quality/segments", {}), ("/api/measures", {}), ("/api/sessions", {}), ("/api/sessions/sess-001", {}),
    ("/api/users", {}), ("/api/models/unpriced", {}), ("/api/facets", {}), ("/api/traces/slowest", {}),
    ("/api/traces/worst", {"evaluator": "groundedness"}), ("/api/traces/export", {}),
]


@pytest.mark.parametrize(("path", "params"), ENDPOINTS)
def test_every_endpoint_needs_a_read_key(seeded, path, params):
    assert httpx.get(seeded.url + path, params=params).status_code == 401
    bad = httpx.get(seeded.url + path, params=params, headers={"Authorization": "Bearer lp_nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    with seeded.client(seeded.ingest_key) as c:
        r = c.get(path, params=params)
    assert r.status_code == 403 and r.json() == {"error": "forbidden", "detail": "API key lacks the 'read' scope"}


def test_another_projects_key_sees_only_its_own_data(seeded):
    with seeded.client(seeded.other_key) as other, seeded.client() as mine:
        ever = {"start": "2000-01-01T00:00:00"}
        theirs = other.get("/api/sessions", params=ever).json()
        assert theirs["total"] == 3 and mine.get("/api/sessions", params=ever).json()["total"] > 3
        assert other.get("/api/sessions/sess-005").status_code == 404  # exists only in the seeded project
        assert other.get("/api/users").json()["total"] < mine.get("/api/users").json()["total"]
        spans_theirs = sum(p["spans"] for p in other.get("/api/series", params={"bucket": "day"}).json()["data"])
        spans_mine = sum(p["spans"] for p in mine.get("/api/series", params={"bucket": "day"}).json()["data"])
        assert 0 < spans_theirs < spans_mine
        tid = seeded.info.trace_ids[0]
        assert other.get("/api/traces", params={"score": "groundedness>=0"}).json()["total"] < \
            mine.get("/api/traces", params={"score": "groundedness>=0"}).json()["total"]
        exported = other.get("/api/traces/export").text
        assert tid not in exported and exported.count("\n") == other.get("/api/traces").json()["total"]


def test_series_totals_match_the_trace_list(seeded):
    with seeded.client() as c:
        traces = c.get("/api/traces", params={"limit": 500}).json()
        series = c.get("/api/series", params={"bucket": "day"}).json()
        by_model = c.get("/api/series", params={"bucket": "week", "breakdown": "model"}).json()
    assert traces["total"] == len(seeded.info.trace_ids)
    assert sum(p["requests"] for p in series["data"]) == traces["total"]
    assert sum(p["spans"] for p in series["data"]) == sum(t["span_count"] for t in traces["data"])
    assert sum(p["cost_usd"] for p in series["data"]) == pytest.approx(sum(t["cost_usd"] for t in traces["data"]))
    assert sum(p["cost_usd"] for p in by_model["data"]) == pytest.approx(sum(t["cost_usd"] for t in traces["data"]))
    assert {"gpt-4o-mini", "gpt-4o", "llama-local-unpriced"} <= set(by_model["groups"])
    point = next(p for p in series["data"] if p["spans"])
    assert point["latency_p50"] <= point["latency_p95"] <= point["latency_p99"]
    assert series["bucket"] == "day" and len({p["time"] for p in series["data"]}) <= 31


def test_series_filters_buckets_and_breakdowns(seeded):
    with seeded.client() as c:
        llm = c.get("/api/series", params={"bucket": "day", "kind": "llm"}).json()["data"]
        assert all(p["requests"] == 0 for p in llm) and any(p["ttft_p50"] for p in llm)
        roots = c.get("/api/series", params={"bucket": "day", "root": "true"}).json()["data"]
        assert all(p["ttft_p50"] is None and p["requests"] == p["spans"] for p in roots)
        top1 = c.get("/api/series", params={"bucket": "week", "breakdown": "service", "top": 1}).json()
        assert len(top1["groups"]) == 1 and {p["group"] for p in top1["data"]} == {top1["groups"][0], "(other)"}
        users = c.get("/api/series", params={"bucket": "day", "breakdown": "user"}).json()
        assert sum(p["requests"] for p in users["data"]) == len(seeded.info.trace_ids)
        since = {"start": "2000-01-01T00:00:00"}
        top3 = c.get("/api/series", params={"bucket": "week", "breakdown": "user", "top": 3, **since}).json()
        listed = c.get("/api/users", params={"sort": "traces", "limit": 100, **since}).json()["data"]
        by_traces = sorted(listed, key=lambda u: (-u["traces"], u["user_id"]))
        assert top3["groups"] == [u["user_id"] for u in by_traces[:3]]
        for u in by_traces[:3]:
            assert sum(p["requests"] for p in top3["data"] if p["group"] == u["user_id"]) == u["traces"]
        # Unfiltered hours come from the rollup without dimensions (spans_hourly_total), broken-down ones
        # from spans_hourly: both count the same spans, requests, errors and cost every hour.
        hourly = c.get("/api/series", params={"bucket": "hour", **since}).json()["data"]
        split = c.get("/api/series", params={"bucket": "hour", "breakdown": "service", "top": 50, **since}).json()
        summed: dict[str, list[float]] = {}
        for p in split["data"]:
            acc = summed.setdefault(p["time"], [0, 0, 0, 0.0])
            for i, k in enumerate(("spans", "requests", "errors", "cost_usd")):
                acc[i] += p[k]
        assert len(hourly) == len(summed) > 1
        for p in hourly:
            assert [p["spans"], p["requests"], p["errors"]] == summed[p["time"]][:3]
            assert p["cost_usd"] == pytest.approx(summed[p["time"]][3])
        prompts = c.get("/api/series", params={"bucket": "day", "breakdown": "prompt_version", "kind": "llm"}).json()
        assert set(prompts["groups"]) == {"support_answer:v1", "support_answer:v2"}
        recent = c.get("/api/series", params={"bucket": "minute", "start": seeded.info.now.isoformat()}).json()
        assert recent["bucket"] == "minute"
        assert c.get("/api/series", params={"bucket": "minute"}).status_code == 400  # 30 days of minutes
        assert c.get("/api/series", params={"breakdown": "colour"}).status_code == 422
        assert c.get("/api/series", params={"start": "2030-01-02T00:00:00", "end": "2030-01-01T00:00:00"}
                     ).status_code == 400
        empty = c.get("/api/series", params={"bucket": "day", "service": "nope"}).json()
        assert empty["data"] == [] and empty["groups"] == []


def test_scores_series_summary_and_segments(seeded):
    scored = seeded.info.scored
    with seeded.client() as c:
        summary = {s["name"]: s for s in c.get("/api/scores/summary").json()["data"]}
        series = c.get("/api/scores/series", params={"bucket": "week", "name": "groundedness"}).json()["data"]
        segments = c.get("/api/quality/segments", params={"by": "prompt_version", "name": "task_completion"}).json()
    assert summary["groundedness"]["n"] == len(scored)
    expected = sum(v["groundedness"] for v in scored.values()) / len(scored)
    assert summary["groundedness"]["mean"] == pytest.approx(expected)
    assert sum(d["count"] for d in summary["groundedness"]["distribution"]) == len(scored)
    assert summary["toxicity"]["higher_is_better"] is False and summary["thumbs"]["source"] == "user_feedback"
    assert {s["name"] for s in series} == {"groundedness"} and sum(s["n"] for s in series) == len(scored)
    means = {row["segment"]: row["mean"] for row in segments["data"]}
    assert means["support_answer:v2"] < means["support_answer:v1"]  # the seed's worse prompt shows


def test_measures_week_over_week(seeded):
    with seeded.client() as c:
        body = c.get("/api/measures").json()
        week = c.get("/api/series", params={"start": body["start"], "end": body["end"], "bucket": "hour",
                                             "root": "true"}).json()
    measures = {m["key"]: m for m in body["measures"]}
    assert set(measures) >= {"cost_per_request", "latency_p95", "task_completion_rate", "grounded_answer_quality",
                             "retrieval_relevance", "prompt_regression_rate", "safety_incident_rate",
                             "user_satisfaction", "escalation_rate"}
    assert measures["latency_p50"]["n"] == sum(p["requests"] for p in week["data"])
    for m in measures.values():
        if m["value"] is not None and m["previous"] is not None:
            assert m["change"] == pytest.approx(m["value"] - m["previous"])
    assert 0 <= measures["user_satisfaction"]["value"] <= 1
    assert body["prompt_versions"] and all("regressed" in v for v in body["prompt_versions"])


def test_sessions_pagination_and_one_session(seeded):
    sessions = seeded.info.sessions
    seen, cursor = [], None
    with seeded.client() as c:
        for _ in range(20):
            page = c.get("/api/sessions", params={"limit": 7, "start": "2000-01-01T00:00:00",
                                                  **({"cursor": cursor} if cursor else {})}).json()
            assert page["total"] == len(sessions)
            seen += [s["session_id"] for s in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(sessions)
        one = c.get("/api/sessions/sess-003").json()
        assert [t["trace_id"] for t in one["traces"]] == sessions["sess-003"]  # in conversation order
        assert one["user_id"] and one["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in one["traces"]))
        assert c.get("/api/sessions/no-such-session").status_code == 404
        by_user = c.get("/api/sessions", params={"user_id": one["user_id"], "start": "2000-01-01T00:00:00"}).json()
        assert "sess-003" in {s["session_id"] for s in by_user["data"]}
        assert c.get("/api/sessions", params={"cursor": "garbage!"}).status_code == 400


def test_users_sorting_feedback_and_paging(seeded):
    with seeded.client() as c:
        first = c.get("/api/users", params={"limit": 5, "start": "2000-01-01T00:00:00"}).json()
        second = c.get("/api/users", params={"limit": 5, "start": "2000-01-01T00:00:00",
                                             "cursor": first["next_cursor"]}).json()
        by_traces = c.get("/api/users", params={"sort": "traces", "start": "2000-01-01T00:00:00"}).json()["data"]
        found = c.get("/api/users", params={"q": "USER-0", "start": "2000-01-01T00:00:00"}).json()
        none = c.get("/api/users", params={"q": "nobody"}).json()
    assert first["total"] == len(seeded.info.users)
    costs = [u["cost_usd"] for u in first["data"] + second["data"]]
    assert costs == sorted(costs, reverse=True)
    assert not {u["user_id"] for u in first["data"]} & {u["user_id"] for u in second["data"]}
    assert [u["traces"] for u in by_traces] == sorted((u["traces"] for u in by_traces), reverse=True)
    assert sum(u["traces"] for u in by_traces) == len(seeded.info.trace_ids)
    assert any(u["feedback_n"] for u in by_traces)
    assert all(0 <= u["feedback_mean"] <= 1 for u in by_traces if u["feedback_n"])
    assert all(u["user_id"].startswith("user-0") for u in found["data"]) and found["total"] >= 1
    assert none == {"data": [], "total": 0, "next_cursor": None}


def test_trace_search_by_score_kind_and_sort(seeded):
    scored = seeded.info.scored
    low = {t for t, v in scored.items() if v["groundedness"] < 0.5}
    with seeded.client() as c:
        found = c.get("/api/traces", params={"score": "groundedness<0.5", "limit": 500}).json()
        both = c.get("/api/traces", params={"score": ["groundedness<0.5", "toxicity>=1"], "limit": 500}).json()
        tools = c.get("/api/traces", params={"kind": "tool", "limit": 500}).json()
        slow = c.get("/api/traces", params={"sort": "duration", "limit": 5}).json()
        page2 = c.get("/api/traces", params={"sort": "duration", "limit": 5, "cursor": slow["next_cursor"]}).json()
        assert c.get("/api/traces", params={"score": "groundedness lt 1"}).status_code == 400
        assert c.get("/api/traces", params={"sort": "random"}).status_code == 422
    assert {t["trace_id"] for t in found["data"]} == low
    assert {t["trace_id"] for t in both["data"]} == {t for t in low if scored[t]["toxicity"] >= 1}
    assert tools["total"] and all(t["span_count"] == 4 for t in tools["data"])
    durations = [t["duration_ms"] for t in slow["data"] + page2["data"]]
    assert durations == sorted(durations, reverse=True) and len(set(t["trace_id"] for t in page2["data"])) == 5


def test_slowest_worst_and_unpriced(seeded):
    with seeded.client() as c:
        slowest = c.get("/api/traces/slowest", params={"limit": 3, "start": "2000-01-01T00:00:00"}).json()["data"]
        by_duration = c.get("/api/traces", params={"sort": "duration", "limit": 3}).json()["data"]
        worst = c.get("/api/traces/worst", params={"evaluator": "groundedness", "limit": 5,
                                                   "start": "2000-01-01T00:00:00"}).json()
        toxic = c.get("/api/traces/worst", params={"evaluator": "toxicity", "limit": 3,
                                                   "start": "2000-01-01T00:00:00"}).json()
        unknown = c.get("/api/traces/worst", params={"evaluator": "no_such_judge"}).json()
        unpriced = c.get("/api/models/unpriced").json()["data"]
        facets = c.get("/api/facets").json()
    assert [t["trace_id"] for t in slowest] == [t["trace_id"] for t in by_duration]
    assert [w["score"]["value"] for w in worst["data"]] == sorted(w["score"]["value"] for w in worst["data"])
    assert worst["data"][0]["score"]["value"] == 0.0 and "not in docs" in worst["data"][0]["score"]["rationale"]
    assert toxic["data"][0]["score"]["value"] == 1.0  # lower is better: the worst is the highest
    assert unknown == {"evaluator": "no_such_judge", "data": []}
    assert [m["model"] for m in unpriced] == ["llama-local-unpriced"] and unpriced[0]["spans"] > 0
    assert facets["models"] == ["gpt-4o", "gpt-4o-mini", "llama-local-unpriced"]
    assert "groundedness" in facets["score_names"] and facets["prompts"] == ["support_answer:v1", "support_answer:v2"]


def test_export_jsonl_and_csv_follow_the_filters(seeded):
    with seeded.client() as c:
        listed = c.get("/api/traces", params={"status": "error", "limit": 500}).json()
        with c.stream("GET", "/api/traces/export", params={"status": "error", "format": "jsonl"}) as r:
            assert r.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in r.iter_lines() if line]
        text = c.get("/api/traces/export", params={"format": "csv", "model": "gpt-4o"}).text
        capped = c.get("/api/traces/export", params={"max_rows": 3}).text
        empty = c.get("/api/traces/export", params={"service": "nope", "format": "csv"}).text
        assert c.get("/api/traces/export", params={"score": "bad"}).status_code == 400
    assert [x["trace_id"] for x in lines] == [t["trace_id"] for t in listed["data"]]
    assert {x["trace_id"] for x in lines} == seeded.info.errors
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all("gpt-4o" in json.loads(r["models"]) for r in rows)
    assert capped.count("\n") == 3 and empty.strip().startswith("trace_id,") and empty.count("\n") == 1


def test_openapi_documents_the_read_endpoints(seeded):
    paths = httpx.get(seeded.url + "/openapi.json").json()["paths"]
    for path, _ in ENDPOINTS:
        template = path.replace("sess-001", "{session_id}")
        assert template in paths and paths[template]["get"]["summary"]
