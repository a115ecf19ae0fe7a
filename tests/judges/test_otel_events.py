"""OTel `gen_ai.evaluation.result` events become `otel_event` scores at ingestion."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from judges.otel_events import evaluation_scores, scores_from_log, scores_from_span
from store.rows import LogRow, SpanRow, span_tuple
from tests.judges.support import score_rows
from tests.support.otlp import kvs, llm_span, log_request, new_span_id, new_trace_id, span, trace_request

pytestmark = pytest.mark.timeout(60)
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
EVAL = {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.8,
        "gen_ai.evaluation.score.label": "relevant", "gen_ai.evaluation.explanation": "On topic."}


def event(attrs: dict, name: str = "gen_ai.evaluation.result") -> dict:
    return {"name": name, "time": "2025-05-01T12:00:01+00:00", "attributes": attrs}


def test_events_on_a_span_score_that_span() -> None:
    row = SpanRow(project="p", trace_id="t" * 32, span_id="s" * 16, kind="llm", scope_name="my.evals",
                  ingested_at=NOW, events=json.dumps([event(EVAL), event({"x": 1}, "other"),
                                                      event({**EVAL, "gen_ai.evaluation.name": "tone",
                                                             "gen_ai.evaluation.score.value": "nan"})]))
    relevance, tone = scores_from_span(row)
    assert (relevance.target_type, relevance.target_id, relevance.trace_id) == ("span", "s" * 16, "t" * 32)
    assert (relevance.name, relevance.value, relevance.label, relevance.rationale) == (
        "relevance", 0.8, "relevant", "On topic.")
    assert (relevance.source, relevance.evaluator) == ("otel_event", "my.evals")
    assert relevance.created_at == datetime(2025, 5, 1, 12, 0, 1, tzinfo=UTC) and relevance.updated_at == NOW
    assert tone.name == "tone" and tone.value is None  # not a finite number: no fake value


def test_evaluator_spans_score_their_parent_and_errors_carry_no_value() -> None:
    row = SpanRow(project="p", trace_id="t" * 32, span_id="e" * 16, parent_span_id="a" * 16, kind="evaluator",
                  ingested_at=NOW, attributes={"gen_ai.evaluation.name": "hallucination",
                                               "gen_ai.evaluation.score.label": "factual"},
                  events=json.dumps([event({**EVAL, "error.type": "timeout"})]))
    failed, attr_score = scores_from_span(row)
    assert failed.target_id == "a" * 16 and failed.error == "timeout" and failed.value is None and not failed.label
    assert (attr_score.target_id, attr_score.name, attr_score.label) == ("a" * 16, "hallucination", "factual")
    assert scores_from_span(SpanRow(events=json.dumps([event({"gen_ai.evaluation.score.value": 1})]))) == []


def test_log_records_score_their_span_or_their_trace() -> None:
    log = LogRow(project="p", trace_id="t" * 32, span_id="s" * 16, time=NOW, ingested_at=NOW,
                 event_name="gen_ai.evaluation.result", service_name="app",
                 attributes={k: str(v) for k, v in EVAL.items()})
    [score] = scores_from_log(log)
    assert (score.target_type, score.target_id, score.value, score.evaluator) == ("span", "s" * 16, 0.8, "app")
    log.span_id = ""
    assert scores_from_log(log)[0].target_type == "trace"
    assert scores_from_log(LogRow(event_name="gen_ai.choice", trace_id="t" * 32)) == []


def test_replays_give_identical_rows() -> None:
    row = SpanRow(project="p", trace_id="t" * 32, span_id="s" * 16, ingested_at=NOW, events=json.dumps([event(EVAL)]))
    plain = SpanRow(project="p", span_id="x" * 16)
    first = evaluation_scores([span_tuple(row), span_tuple(plain)], [])
    second = evaluation_scores([span_tuple(row)], [])
    assert first == second and len(first) == 1


def post(server, body: bytes, path: str) -> None:
    r = httpx.post(server.url + path, content=body, timeout=30,
                   headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {server.admin_key}"})
    assert r.status_code == 200, r.text


def test_evaluation_events_become_scores_through_real_ingestion(server) -> None:
    tid = new_trace_id()
    answer = llm_span(tid)
    ev = Span.Event(name="gen_ai.evaluation.result", time_unix_nano=time.time_ns())
    ev.attributes.extend(kvs(EVAL))
    answer.events.append(ev)
    judge = span(tid, parent=answer.span_id.hex(), name="evaluate", attrs={
        "openinference.span.kind": "EVALUATOR", "gen_ai.evaluation.name": "toxicity",
        "gen_ai.evaluation.score.value": 0.0, "gen_ai.evaluation.score.label": "safe"})
    post(server, trace_request([answer, judge]).SerializeToString(), "/v1/traces")
    other = new_span_id()
    post(server, log_request(tid, other, "gen_ai.evaluation.result",
                             "", {**EVAL, "gen_ai.evaluation.name": "helpfulness"}).SerializeToString(), "/v1/logs")
    server.wait_stored()

    store = server.state.store
    rows = score_rows(store, source="otel_event")
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"relevance", "toxicity", "helpfulness"}
    assert by_name["relevance"]["target_id"] == answer.span_id.hex() and by_name["relevance"]["value"] == 0.8
    assert by_name["toxicity"]["target_id"] == answer.span_id.hex()  # the evaluator span scores its parent
    assert by_name["helpfulness"]["target_id"] == other
    with server.client() as c:
        trace = c.get(f"/api/traces/{tid}").json()
    [answered] = [s for s in trace["spans"] if s["span_id"] == answer.span_id.hex()]
    assert sorted(x["name"] for x in answered["scores"]) == ["relevance", "toxicity"]
