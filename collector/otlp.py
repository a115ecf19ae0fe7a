"""OTLP decoding: request bodies (protobuf or JSON) into plain frozen records. No web or DB imports.

The OTLP/JSON mapping differs from protobuf's canonical JSON in one place that matters: trace and span
ids are hex strings, not base64. Everything else (lowerCamelCase keys, enum ints, int64 as strings)
is what `json_format` accepts, so JSON bodies are fixed up and parsed into the same messages.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

KIND_TRACES = 1
KIND_LOGS = 2

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
MAX_JSON_DEPTH = 64


class OTLPDecodeError(ValueError):
    """The body is not a valid OTLP export request; the message says why, for the client."""


@dataclass(frozen=True, slots=True)
class RawEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawSpan:
    """One span as sent, with AnyValues turned into Python values (str, bool, int, float, list, dict)."""

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    parent_span_id: str  # "" for a root
    name: str
    kind: str  # one of SPAN_KINDS
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    attributes: dict[str, Any]
    events: tuple[RawEvent, ...] = ()
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    scope_attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RawLog:
    trace_id: str  # "" when the record is not tied to a span
    span_id: str
    time_ns: int  # time_unix_nano, or the observed time when that is 0
    event_name: str
    severity: str
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = ""


def any_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


# --- bodies -> protobuf messages ---------------------------------------------------------------

_ID_KEYS = {"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"}


def _hex_ids_to_base64(node: Any, depth: int = 0) -> Any:
    """Rewrite OTLP/JSON hex ids as protobuf-JSON base64. An invalid id becomes empty (rejected later)."""
    if depth > MAX_JSON_DEPTH:
        raise OTLPDecodeError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                try:
                    value = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                except ValueError:
                    value = base64.b64encode(b"\x00").decode("ascii")  # wrong length: rejected as bad id
            else:
                value = _hex_ids_to_base64(value, depth + 1)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x, depth + 1) for x in node]
    return node


def parse_request(
    body: bytes, content_type: str, kind: int
) -> ExportTraceServiceRequest | ExportLogsServiceRequest:
    """Parse an export request body; raises OTLPDecodeError with a client-facing reason."""
    message = ExportTraceServiceRequest() if kind == KIND_TRACES else ExportLogsServiceRequest()
    if content_type == "application/json":
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise OTLPDecodeError(f"body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise OTLPDecodeError("OTLP/JSON body must be a JSON object")
        try:
            json_format.ParseDict(_hex_ids_to_base64(doc), message, ignore_unknown_fields=True)
        except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
            raise OTLPDecodeError(f"body is not an OTLP export request: {exc}") from None
    else:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise OTLPDecodeError(f"body is not a valid OTLP protobuf message: {exc}") from None
    return message


# --- messages -> records -----------------------------------------------------------------------


def _span_error(span: Any) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "invalid trace_id (must be 16 non-zero bytes)"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "invalid span_id (must be 8 non-zero bytes)"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "invalid parent_span_id (must be 8 bytes)"
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        return "end time before start time"
    return None


def count_invalid_spans(request: ExportTraceServiceRequest) -> tuple[int, int, str]:
    """(total spans, rejected spans, first rejection reason) — the answer's partial_success."""
    total = rejected = 0
    reason = ""
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                total += 1
                error = _span_error(span)
                if error:
                    rejected += 1
                    reason = reason or error
    return total, rejected, reason


def iter_spans(request: ExportTraceServiceRequest) -> Iterator[RawSpan]:
    """Valid spans only; invalid ones were counted and reported when the request was accepted."""
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope
            scope_attrs = attributes(scope.attributes) if scope.attributes else {}
            for span in ss.spans:
                if _span_error(span):
                    continue
                yield RawSpan(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    name=span.name,
                    kind=SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else "unspecified",
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano or span.start_time_unix_nano,
                    status_code=span.status.code,
                    status_message=span.status.message,
                    attributes=attributes(span.attributes),
                    events=tuple(
                        RawEvent(e.name, e.time_unix_nano, attributes(e.attributes)) for e in span.events
                    ),
                    resource=resource,
                    scope_name=scope.name,
                    scope_version=scope.version,
                    scope_attributes=scope_attrs,
                )


def count_logs(request: ExportLogsServiceRequest) -> int:
    return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)


def iter_logs(request: ExportLogsServiceRequest) -> Iterator[RawLog]:
    for rl in request.resource_logs:
        resource = attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                attrs = attributes(rec.attributes)
                yield RawLog(
                    trace_id=rec.trace_id.hex() if len(rec.trace_id) == 16 else "",
                    span_id=rec.span_id.hex() if len(rec.span_id) == 8 else "",
                    time_ns=rec.time_unix_nano or rec.observed_time_unix_nano,
                    # Older SDKs put the event name in an attribute instead of the field.
                    event_name=rec.event_name or str(attrs.get("event.name", "")),
                    severity=rec.severity_text,
                    body=any_value(rec.body),
                    attributes=attrs,
                    resource=resource,
                    scope_name=sl.scope.name,
                )


def is_hex_id(value: str, length: int) -> bool:
    if len(value) != length:
        return False
    try:
        binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        return False
    return True
