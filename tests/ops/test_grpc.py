"""OTLP/gRPC beside OTLP/HTTP: the real OTel gRPC exporter lands the same spans; keys, bad and oversized
messages and a full WAL get the gRPC status the OTLP specification asks for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace import Status as SpanStatus

from store.client import Store, StoreError
from tests.conftest import RunningServer, free_port, make_settings, start_server, stop_server
from tests.support.otlp import llm_span, log_request, new_span_id, new_trace_id, span, trace_request

pytestmark = pytest.mark.timeout(90)
VOLATILE = {"trace_id", "span_id", "parent_span_id", "start_time", "end_time", "duration_ms", "ingested_at"}


def _start(tmp_path: Path, store: Store, **overrides) -> tuple[RunningServer, str]:
    running = start_server(make_settings(tmp_path, grpc_port=free_port(), **overrides), store)
    return running, f"127.0.0.1:{running.app.state.grpc_port}"


@pytest.fixture
def grpc_server(tmp_path: Path, store: Store) -> Iterator[tuple[RunningServer, str]]:
    running, target = _start(tmp_path, store)
    yield running, target
    stop_server(running)


def _emit(exporter: SpanExporter, question: str) -> str:
    """One RAG-shaped trace through the real SDK; returns its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "rag-app", "service.version": "2.0"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my-app")
    with tracer.start_as_current_span("answer", attributes={"session.id": "s-1", "user.id": "u-1"}) as root:
        with tracer.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30, "custom.flag": "kept",
                "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text",
                                                                                 "content": question}]}])}):
            pass
        with tracer.start_as_current_span("search", attributes={"gen_ai.operation.name": "execute_tool",
                                                                "gen_ai.tool.name": "search"}) as tool:
            tool.set_status(SpanStatus(StatusCode.ERROR, "index offline"))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def _canonical(running: RunningServer, trace_id: str) -> dict[str, dict]:
    with running.client() as c:
        r = c.get(f"/api/traces/{trace_id}")
        assert r.status_code == 200, r.text
    return {s["name"]: {k: v for k, v in s.items() if k not in VOLATILE} for s in r.json()["spans"]}


def test_same_spans_land_over_grpc_as_over_http(grpc_server) -> None:
    running, target = grpc_server
    auth = {"authorization": f"Bearer {running.admin_key}"}
    over_http = _emit(HttpSpanExporter(endpoint=f"{running.url}/v1/traces", headers=auth), "What is Loupe?")
    over_grpc = _emit(GrpcSpanExporter(endpoint=target, insecure=True, headers=auth,
                                       compression=grpc.Compression.Gzip), "What is Loupe?")
    running.wait_stored()
    via_http, via_grpc = _canonical(running, over_http), _canonical(running, over_grpc)
    assert set(via_grpc) == {"answer", "chat", "search"}
    assert via_grpc == via_http
    assert via_grpc["chat"]["kind"] == "llm" and via_grpc["chat"]["input_tokens"] == 120
    assert via_grpc["search"]["status"] == "error"


def test_logs_and_the_x_loupe_api_key_header(grpc_server) -> None:
    running, target = grpc_server
    trace_id = new_trace_id()
    with grpc.insecure_channel(target) as channel:
        LogsServiceStub(channel).Export(
            log_request(trace_id, new_span_id(), "gen_ai.user.message", {"content": "hello"}),
            metadata=[("x-loupe-api-key", running.admin_key)], timeout=10)
    running.wait_stored()
    rows = running.state.store.query_rows("SELECT event_name FROM logs WHERE trace_id = {t:String}",
                                          {"t": trace_id})
    assert rows == [("gen_ai.user.message",)]


def _code(call, request, metadata) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(request, metadata=metadata, timeout=10)
    return info.value.code(), info.value.details()


def test_keys_bad_messages_and_partial_success(grpc_server) -> None:
    running, target = grpc_server
    request = trace_request([llm_span(new_trace_id())])
    with grpc.insecure_channel(target) as channel:
        export = TraceServiceStub(channel).Export
        assert _code(export, request, [])[0] == grpc.StatusCode.UNAUTHENTICATED
        assert _code(export, request, [("authorization", "Bearer lp_wrong_key_000000000000")])[0] == \
            grpc.StatusCode.UNAUTHENTICATED
        code, detail = _code(export, request, [("authorization", f"Bearer {running.new_key('read')}")])
        assert code == grpc.StatusCode.PERMISSION_DENIED and "ingest" in detail
        ok = [("authorization", f"Bearer {running.admin_key}")]
        raw = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        assert _code(raw, b"\xff\xff\xff not protobuf", ok)[0] == grpc.StatusCode.INVALID_ARGUMENT
        bad = span(new_trace_id())
        bad.trace_id = b"\x00" * 16  # an all-zero trace id is invalid
        code, detail = _code(export, trace_request([bad]), ok)
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "rejected" in detail
        mixed = export(trace_request([bad, llm_span(new_trace_id())]), metadata=ok, timeout=10)
        assert isinstance(mixed, ExportTraceServiceResponse)
        assert mixed.partial_success.rejected_spans == 1
    # The real exporter gives up at once on a refused key (not retryable) and reports failure.
    exporter = GrpcSpanExporter(endpoint=target, insecure=True, headers={"authorization": "Bearer nope"}, timeout=5)
    provider = TracerProvider()
    spans: list = []

    class Keep(SpanExporter):
        def export(self, batch):
            spans.extend(batch)
            return SpanExportResult.SUCCESS

    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    with provider.get_tracer("t").start_as_current_span("x"):
        pass
    assert exporter.export(spans) == SpanExportResult.FAILURE


def test_oversized_messages_are_refused(tmp_path: Path, store: Store) -> None:
    limit = 64 * 1024
    running, target = _start(tmp_path, store, limits={"max_decompressed_bytes": limit})
    try:
        ok = [("authorization", f"Bearer {running.admin_key}")]
        big = trace_request([llm_span(new_trace_id(), **{"gen_ai.input.messages": "x" * (limit + 1)})])
        with grpc.insecure_channel(target) as channel:
            export = TraceServiceStub(channel).Export
            code, detail = _code(export, big, ok)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in detail
        # Compressed below the limit but larger once inflated: refused too (no gzip bombs).
        with grpc.insecure_channel(target, compression=grpc.Compression.Gzip) as channel:
            assert _code(TraceServiceStub(channel).Export, big, ok)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
            small = TraceServiceStub(channel).Export(trace_request([llm_span(new_trace_id())]), metadata=ok,
                                                     timeout=10)
            assert small.partial_success.rejected_spans == 0
    finally:
        stop_server(running)


def test_full_wal_answers_resource_exhausted_with_retry_info(tmp_path: Path, store: Store) -> None:
    def store_down(*_args):
        raise StoreError("store is down")

    running = start_server(make_settings(tmp_path, grpc_port=free_port(), wal={
        "dir": str(tmp_path / "wal"), "max_bytes": 64 * 1024, "flush_interval_s": 0.02}), store, insert=store_down)
    try:
        ok = [("authorization", f"Bearer {running.admin_key}")]
        with grpc.insecure_channel(f"127.0.0.1:{running.app.state.grpc_port}") as channel:
            export = TraceServiceStub(channel).Export
            for _ in range(200):
                try:
                    export(trace_request([llm_span(new_trace_id()) for _ in range(5)]), metadata=ok, timeout=10)
                except grpc.RpcError as exc:
                    error = exc
                    break
            else:
                pytest.fail("the WAL never filled up")
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(error.trailing_metadata())
        status = Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        info = RetryInfo()
        assert status.details[0].Unpack(info) and info.retry_delay.seconds == 5
        assert RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay.seconds == 5
    finally:
        running.state.writer.insert = lambda *a: None  # let shutdown drain quickly
        stop_server(running)
