"""Latency percentiles of hourly and daily series come from the rollups' log histograms (migration 0052):
within 2.2 % of the exact nearest-rank percentile, for spans sent over OTLP."""

from __future__ import annotations

import math
import random
import time

import httpx
import pytest

from analytics.latency import bucket_of, bucket_value, percentiles
from tests.support.otlp import new_trace_id, span, trace_request

PB = {"Content-Type": "application/x-protobuf"}


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_sql_and_python_agree_on_buckets_and_a_bucket_value_is_within_its_bounds(store):
    samples = [0.0, 0.0004, 0.001, 0.5, 1.0, 3.7, 99.99, 100.0, 1234.5, 60_000.0, 3.6e6]
    rows = store.query_rows(
        "SELECT toUInt16(greatest(0, floor((log2(greatest(v, 0.001)) + 10) * 16))) FROM "
        "(SELECT arrayJoin({v:Array(Float64)}) AS v)", {"v": samples})
    assert [r[0] for r in rows] == [bucket_of(v) for v in samples]
    for v in samples[3:]:
        assert abs(bucket_value(bucket_of(v)) - v) / v < 0.022
    assert percentiles({}) == [None, None, None]
    assert percentiles({bucket_of(10.0): 99, bucket_of(500.0): 1}, (0.5, 0.99, 1.0)) == [
        bucket_value(bucket_of(10.0)), bucket_value(bucket_of(10.0)), bucket_value(bucket_of(500.0))]


def test_series_percentiles_match_the_exact_ones(server):
    rng = random.Random(5)
    durations = [round(rng.lognormvariate(5.5, 0.8), 3) for _ in range(400)]  # ms, a long tail
    start = time.time_ns() - 2 * 3_600_000_000_000
    spans = [span(new_trace_id(), name="req", start_ns=start + i * 1_000_000, duration_ms=d)
             for i, d in enumerate(durations)]
    r = httpx.post(server.url + "/v1/traces", content=trace_request(spans).SerializeToString(),
                   headers={**PB, "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200
    server.wait_stored()
    with server.client() as c:
        hourly = [p for p in c.get("/api/series", params={"bucket": "hour"}).json()["data"] if p["spans"]]
        daily = [p for p in c.get("/api/series", params={"bucket": "day"}).json()["data"] if p["spans"]]
    assert len(hourly) == 1 and hourly[0]["spans"] == 400 and sum(p["spans"] for p in daily) == 400
    for point in (hourly[0], *([daily[0]] if len(daily) == 1 else [])):
        for key, q in (("latency_p50", 0.5), ("latency_p95", 0.95), ("latency_p99", 0.99)):
            assert point[key] == pytest.approx(exact(durations, q), rel=0.022), key
        assert point["ttft_p50"] is None  # no span streamed
