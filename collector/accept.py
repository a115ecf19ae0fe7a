"""Accepting one OTLP export, whatever the transport: validate, write to the WAL, build the response.

HTTP (collector/ingest.py) and gRPC (collector/grpc_server.py) differ only in how they read the body,
find the key and spell an error; the decision and the accounting live here once.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from collector.otlp import KIND_TRACES, count_invalid_spans, count_logs
from collector.wal import WALFull
from store.keys import ApiKey

RETRY_AFTER_S = 5


class Rejected(Exception):
    """The export is refused as a whole. status is HTTP's; the gRPC side maps it to its codes."""

    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


async def accept_export(state: Any, key: ApiKey, kind: int, message: Message, payload: bytes,
                        endpoint: str) -> Message:
    """Valid spans go to the WAL (fsynced before this returns); invalid ones are counted in partial_success."""
    metrics = state.metrics
    if kind == KIND_TRACES:
        total, rejected, reason = count_invalid_spans(message)
        metrics.spans_received.inc(total)
        if total and rejected == total:
            metrics.spans_rejected.inc(rejected)
            raise Rejected(400, f"all {total} spans rejected: {reason}")
    else:
        total, rejected, reason = count_logs(message), 0, ""
    if total - rejected > 0:
        try:
            await state.wal.append_async(kind, key.project, payload)
        except WALFull:
            raise Rejected(503, "collector is saturated (write-ahead log full); retry later", RETRY_AFTER_S) from None
    metrics.requests.labels(endpoint, "200").inc()
    if kind == KIND_TRACES:
        metrics.spans_accepted.inc(total - rejected)
        metrics.spans_rejected.inc(rejected)
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = f"{rejected} of {total} spans rejected: {reason}"
        return response
    metrics.logs_accepted.inc(total)
    return ExportLogsServiceResponse()


def discard_metrics(request: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse:
    """Metrics are accepted and dropped, and the response says so (clients keep working)."""
    points = sum(len(m.gauge.data_points) + len(m.sum.data_points) + len(m.histogram.data_points)
                 + len(m.exponential_histogram.data_points) + len(m.summary.data_points)
                 for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)
    response = ExportMetricsServiceResponse()
    if points:
        response.partial_success.rejected_data_points = points
        response.partial_success.error_message = "Loupe does not store metrics; send traces and logs"
    return response
