"""OTLP/gRPC receiver (port 4317 by default), beside OTLP/HTTP and with the same contract.

The same key (metadata `authorization: Bearer …` or `x-loupe-api-key`), the same decoding and
validation, `partial_success` for rejected spans, and the same WAL: a request is answered only once
its payload is fsynced. Status codes follow the OTLP specification: UNAUTHENTICATED / PERMISSION_DENIED
for keys, INVALID_ARGUMENT for bad data (not retryable), RESOURCE_EXHAUSTED with a RetryInfo when the
WAL is full (retryable), and gRPC's own RESOURCE_EXHAUSTED past `max_receive_message_length`.

Handlers take the raw request bytes (no deserializer): the WAL stores exactly what arrived, and the
request is parsed once, by the same `parse_request` the HTTP path uses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from grpc import aio
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from collector.accept import Rejected, accept_export, discard_metrics
from collector.auth import AuthError
from collector.otlp import KIND_LOGS, KIND_TRACES, OTLPDecodeError, parse_request

log = logging.getLogger(__name__)
PROTOBUF = "application/x-protobuf"
# Service names come from the opentelemetry-proto definitions, so they match every exporter.
TRACE_SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
LOGS_SERVICE = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name
METRICS_SERVICE = metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name


class _Metadata:
    """Just enough of a request for Authenticator: lower-cased text metadata as `headers`."""

    def __init__(self, metadata: Any) -> None:
        self.headers = {k.lower(): v for k, v in (metadata or ()) if isinstance(v, str)}


def retry_trailers(seconds: int, code: grpc.StatusCode, message: str) -> tuple[tuple[str, bytes], ...]:
    """RetryInfo two ways: in the standard `grpc-status-details-bin` google.rpc.Status (Go, Java,
    the OTel Collector), and bare under `google.rpc.retryinfo-bin`, which the Python exporter reads."""
    info = RetryInfo(retry_delay=Duration(seconds=seconds))
    detail = AnyProto()
    detail.Pack(info)
    status = Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", info.SerializeToString()))


def _abort_code(exc: AuthError) -> grpc.StatusCode:
    return grpc.StatusCode.UNAUTHENTICATED if exc.status == 401 else grpc.StatusCode.PERMISSION_DENIED


def build_handlers(state: Any) -> list[grpc.GenericRpcHandler]:
    async def export(kind: int, endpoint: str, body: bytes, context: aio.ServicerContext) -> bytes:
        try:
            key = state.auth.authenticate(_Metadata(context.invocation_metadata()), "ingest")
        except AuthError as exc:
            state.metrics.requests.labels(endpoint, str(exc.status)).inc()
            await context.abort(_abort_code(exc), exc.detail)
        try:
            message = parse_request(body, PROTOBUF, kind)
        except OTLPDecodeError as exc:
            state.metrics.requests.labels(endpoint, "400").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            response = await accept_export(state, key, kind, message, body, endpoint)
        except Rejected as exc:
            state.metrics.requests.labels(endpoint, str(exc.status)).inc()
            if exc.retry_after_s:
                code = grpc.StatusCode.RESOURCE_EXHAUSTED
                await context.abort(code, exc.message, retry_trailers(exc.retry_after_s, code, exc.message))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        return response.SerializeToString()

    async def metrics(body: bytes, context: aio.ServicerContext) -> bytes:
        # Accepted and discarded, said so in partial_success (as on /v1/metrics).
        try:
            state.auth.authenticate(_Metadata(context.invocation_metadata()), "ingest")
        except AuthError as exc:
            await context.abort(_abort_code(exc), exc.detail)
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        try:
            request.ParseFromString(body)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the client's bad message
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP metrics request: {exc}")
        response = discard_metrics(request)
        return response.SerializeToString()

    # Coroutine functions (not lambdas returning coroutines): grpc.aio awaits only what is declared async.
    async def traces(body: bytes, context: aio.ServicerContext) -> bytes:
        return await export(KIND_TRACES, "grpc_traces", body, context)

    async def logs(body: bytes, context: aio.ServicerContext) -> bytes:
        return await export(KIND_LOGS, "grpc_logs", body, context)

    def unary(fn: Callable[[bytes, aio.ServicerContext], Awaitable[bytes]]) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(fn)  # no (de)serializers: bytes in, bytes out

    return [grpc.method_handlers_generic_handler(name, {"Export": unary(fn)})
            for name, fn in ((TRACE_SERVICE, traces), (LOGS_SERVICE, logs), (METRICS_SERVICE, metrics))]


async def start(state: Any, host: str, port: int, max_message_bytes: int) -> tuple[aio.Server, int]:
    """Start the receiver on the running event loop; returns the server and the bound port."""
    server = aio.server(options=[
        # Checked on the wire and again after decompression, so a gzip bomb stops here too.
        ("grpc.max_receive_message_length", max_message_bytes),
        # gRPC sets SO_REUSEPORT by default: a second collector on the same port would silently share
        # the traffic instead of failing to start.
        ("grpc.so_reuseport", 0),
    ])
    server.add_generic_rpc_handlers(build_handlers(state))
    bound = server.add_insecure_port(f"{host}:{port}")  # raises RuntimeError when the port is taken
    await server.start()
    log.info("OTLP/gRPC receiver on %s:%d", host, bound)
    return server, bound
