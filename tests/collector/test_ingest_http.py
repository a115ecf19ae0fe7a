"""OTLP/HTTP ingestion end to end: real OTel exporter → collector → embedded ClickHouse → read API."""

from __future__ import annotations

import gzip
import json
import time

import httpx
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.support.otlp import llm_span, log_request, new_span_id, new_trace_id, span, trace_request

PB = {"Content-Type": "application/x-protobuf"}


def post(server, body: bytes, headers: dict[str, str] | None = None, key: str | None = None,
         path: str = "/v1/traces") -> httpx.Response:
    h = {**PB, "Authorization": f"Bearer {key or server.admin_key}", **(headers or {})}
    return httpx.post(server.url + path, content=body, headers=h, timeout=30)


def get_trace(server, trace_id: str, key: str | None = None) -> dict:
    with server.client(key) as c:
        r = c.get(f"/api/traces/{trace_id}")
        assert r.status_code == 200, r.text
        return r.json()


def test_real_otel_exporter_lands_llm_span_with_canonical_fields(server):
    provider = TracerProvider(resource=Resource.create({"service.name": "rag-app", "service.version": "1.2.0",
                                                        "deployment.environment.name": "prod"}))
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces",
                                headers={"Authorization": f"Bearer {server.admin_key}"})
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my-app")
    with tracer.start_as_current_span("handle question", attributes={"session.id": "sess-1",
                                                                     "user.id": "user-7"}) as root:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 400, "gen_ai.request.temperature": 0.2,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi?"}]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop",
                                                   "parts": [{"type": "text", "content": "Hello!"}]}]),
            "gen_ai.prompt.name": "greeter", "custom.flag": "kept",
        }):
            pass
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    server.wait_stored()

    trace = get_trace(server, trace_id)
    assert trace["session_id"] == "sess-1" and trace["user_id"] == "user-7"
    llm = next(s for s in trace["spans"] if s["kind"] == "llm")
    assert llm["operation"] == "chat" and llm["provider"] == "openai"
    assert llm["request_model"] == "gpt-4o-mini" and llm["response_model"] == "gpt-4o-mini-2024-07-18"
    assert (llm["input_tokens"], llm["output_tokens"], llm["cached_input_tokens"]) == (1000, 200, 400)
    assert llm["total_tokens"] == 1200
    assert llm["service_name"] == "rag-app" and llm["environment"] == "prod"
    assert llm["input"][-1]["content"] == "Hi?" and llm["output"][0]["content"] == "Hello!"
    assert llm["finish_reasons"] == ["stop"] and llm["prompt_name"] == "greeter"
    assert llm["attributes"]["custom.flag"] == "kept"
    # gpt-4o-mini: $0.15/MTok input, $0.075/MTok cached input, $0.60/MTok output.
    assert llm["cost_source"] == "price-table"
    assert abs(llm["cost_usd"] - (600 * 0.15 + 400 * 0.075 + 200 * 0.6) / 1e6) < 1e-9
    assert llm["depth"] == 1

    with server.client() as c:
        listed = c.get("/api/traces", params={"session_id": "sess-1"}).json()
    assert [t["trace_id"] for t in listed["data"]] == [trace_id]
    assert listed["data"][0]["cost_usd"] > 0 and listed["data"][0]["span_count"] == 2


def test_json_and_gzip_bodies_land_the_same(server):
    tid_json, tid_gzip = new_trace_id(), new_trace_id()
    req = trace_request([llm_span(tid_json)])
    doc = json.loads(json_format.MessageToJson(req))
    # OTLP/JSON carries ids as hex, not protobuf-JSON base64.
    s = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    s["traceId"], s["spanId"] = tid_json, new_span_id()
    r = post(server, json.dumps(doc).encode(), {"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")

    r = post(server, gzip.compress(trace_request([llm_span(tid_gzip)]).SerializeToString()),
             {"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    server.wait_stored()
    for tid in (tid_json, tid_gzip):
        llm = get_trace(server, tid)["spans"][0]
        assert llm["kind"] == "llm" and llm["input_tokens"] == 120 and llm["response_model"].startswith("gpt-4o")


def test_partial_success_rejects_bad_spans_and_keeps_good_ones(server):
    tid = new_trace_id()
    good = llm_span(tid)
    bad = span(tid, name="bad")
    bad.span_id = b"\x01\x02"  # not 8 bytes
    r = post(server, trace_request([good, bad]).SerializeToString())
    assert r.status_code == 200
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 1
    assert "span_id" in resp.partial_success.error_message
    server.wait_stored()
    assert [s["name"] for s in get_trace(server, tid)["spans"]] == ["chat gpt-4o-mini"]


def test_trace_facts_resolve_when_parent_arrives_later(server):
    tid, root_id = new_trace_id(), new_span_id()
    child = llm_span(tid, parent=root_id)
    assert post(server, trace_request([child]).SerializeToString()).status_code == 200
    server.wait_stored()
    time.sleep(0.05)
    root = span(tid, span_id=root_id, name="agent run",
                attrs={"session.id": "late-session", "user.id": "late-user", "loupe.tags": ["beta"]})
    assert post(server, trace_request([root]).SerializeToString()).status_code == 200
    server.wait_stored()
    with server.client() as c:
        by_session = c.get("/api/traces", params={"session_id": "late-session"}).json()
        by_user = c.get("/api/traces", params={"user_id": "late-user"}).json()
        by_tag = c.get("/api/traces", params={"tag": "beta"}).json()
    for page in (by_session, by_user, by_tag):
        assert [t["trace_id"] for t in page["data"]] == [tid]
        assert page["data"][0]["name"] == "agent run" and page["data"][0]["span_count"] == 2


def test_content_from_log_records_joins_its_span(server):
    tid, sid = new_trace_id(), new_span_id()
    s = span(tid, span_id=sid, name="chat gpt-4o-mini", attrs={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"})
    assert post(server, trace_request([s]).SerializeToString()).status_code == 200
    body = {"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "from a log"}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "answer"}],
                                        "finish_reason": "stop"}]}
    logs = log_request(tid, sid, "gen_ai.client.inference.operation.details", {}, attrs=body)
    r = post(server, logs.SerializeToString(), path="/v1/logs")
    assert r.status_code == 200, r.text
    server.wait_stored()
    llm = get_trace(server, tid)["spans"][0]
    assert llm["log_events"] and llm["input"][-1]["content"] == "from a log"
    assert llm["output"][0]["content"] == "answer"


def test_pagination_and_filters(server):
    ids = []
    base = time.time_ns() - 3_600_000_000_000
    for i in range(7):
        tid = new_trace_id()
        ids.append(tid)
        attrs = {"gen_ai.request.model": "gpt-4o" if i % 2 else "gpt-4o-mini"}
        root = span(tid, name=f"req {i}", start_ns=base + i * 1_000_000_000, error=(i == 3), attrs={
            "session.id": f"s{i % 3}", **attrs, "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai"})
        assert post(server, trace_request([root]).SerializeToString()).status_code == 200
    server.wait_stored()
    seen, cursor = [], None
    with server.client() as c:
        for _ in range(5):
            page = c.get("/api/traces", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
            assert page["total"] == 7
            seen += [t["trace_id"] for t in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == list(reversed(ids))  # newest first, each once
        assert [t["trace_id"] for t in c.get("/api/traces", params={"status": "error"}).json()["data"]] == [ids[3]]
        assert c.get("/api/traces", params={"model": "gpt-4o"}).json()["total"] == 3
        assert c.get("/api/traces", params={"session_id": "s0"}).json()["total"] == 3
        assert c.get("/api/traces", params={"service": "nope"}).json() == {"data": [], "total": 0,
                                                                           "next_cursor": None}
        spans = c.get("/api/spans", params={"kind": "llm", "limit": 2}).json()
        assert spans["total"] == 7 and len(spans["data"]) == 2 and spans["next_cursor"]
        assert c.get("/api/traces", params={"cursor": "garbage!"}).status_code == 400


def test_text_search_in_content(server):
    tid = new_trace_id()
    s = llm_span(tid, **{"gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text",'
                                                  '"content":"where is the ZANZIBAR office"}]}]'})
    post(server, trace_request([s, llm_span(new_trace_id())]).SerializeToString())
    server.wait_stored()
    with server.client() as c:
        found = c.get("/api/traces", params={"q": "zanzibar"}).json()
    assert [t["trace_id"] for t in found["data"]] == [tid]


def test_health_and_metrics(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").status_code == 200
    post(server, trace_request([llm_span(new_trace_id())]).SerializeToString())
    server.wait_stored()
    text = httpx.get(server.url + "/metrics").text
    assert "loupe_spans_accepted_total 1.0" in text and "loupe_spans_stored_total 1.0" in text
    assert "loupe_wal_pending_bytes" in text and "loupe_insert_seconds_bucket" in text


def test_metrics_endpoint_says_metrics_are_not_stored(server):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add()
    m.name = "gen_ai.client.token.usage"
    m.sum.data_points.add().as_int = 5
    r = post(server, req.SerializeToString(), path="/v1/metrics")
    assert r.status_code == 200
    assert ExportMetricsServiceResponse.FromString(r.content).partial_success.rejected_data_points == 1
