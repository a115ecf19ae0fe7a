"""Build OTLP requests by hand, for the wire-level tests (the happy paths use the real OTel exporter)."""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        v = AnyValue()
        v.array_value.values.extend(any_value(x) for x in value)
        return v
    if isinstance(value, dict):
        v = AnyValue()
        v.kvlist_value.values.extend(KeyValue(key=k, value=any_value(x)) for k, x in value.items())
        return v
    return AnyValue(string_value=str(value))


def kvs(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def span(trace_id: str, span_id: str | None = None, parent: str = "", name: str = "span",
         attrs: dict[str, Any] | None = None, start_ns: int | None = None, duration_ms: float = 10,
         error: bool = False) -> Span:
    start_ns = start_ns or time.time_ns()
    s = Span(trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(span_id or new_span_id()),
             parent_span_id=bytes.fromhex(parent) if parent else b"", name=name, kind=Span.SPAN_KIND_CLIENT,
             start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + int(duration_ms * 1e6))
    s.attributes.extend(kvs(attrs or {}))
    if error:
        s.status.code = 2
        s.status.message = "boom"
    return s


def trace_request(spans: list[Span], service: str = "test-app", resource: dict[str, Any] | None = None,
                  scope: str = "tests") -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(kvs({"service.name": service, **(resource or {})}))
    ss = rs.scope_spans.add()
    ss.scope.name = scope
    ss.spans.extend(spans)
    return req


def llm_span(trace_id: str, parent: str = "", **attrs: Any) -> Span:
    base = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"What is Loupe?"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"An LLM observability '
                                  'backend."}],"finish_reason":"stop"}]',
    }
    base.update(attrs)
    return span(trace_id, parent=parent, name="chat gpt-4o-mini", attrs=base)


def log_request(trace_id: str, span_id: str, event_name: str, body: Any,
                attrs: dict[str, Any] | None = None) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(kvs({"service.name": "test-app"}))
    sl = rl.scope_logs.add()
    rec = LogRecord(trace_id=bytes.fromhex(trace_id), span_id=bytes.fromhex(span_id),
                    observed_time_unix_nano=time.time_ns(), event_name=event_name)
    rec.body.CopyFrom(any_value(body))
    rec.attributes.extend(kvs(attrs or {}))
    sl.log_records.append(rec)
    return req
