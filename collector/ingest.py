"""OTLP/HTTP receiver: /v1/traces, /v1/logs, /v1/metrics and the Langfuse-compatible path.

The contract is the OTLP/HTTP specification: protobuf or JSON bodies, optional gzip, the response in
the request's encoding, `partial_success` for rejected spans, 400/413/415 for bad requests, and
429/503 with Retry-After when the collector wants the exporter to retry.
"""

from __future__ import annotations

import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from collector.accept import Rejected, accept_export, discard_metrics
from collector.auth import AuthError
from collector.otlp import (
    KIND_LOGS,
    KIND_TRACES,
    OTLPDecodeError,
    parse_request,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class OTLPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def media_type(request: Request) -> str:
    value = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if value in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if value == JSON:
        return JSON
    raise OTLPError(415, f"unsupported content type {value or '(none)'!r}: use {PROTOBUF} or {JSON}")


async def read_body(request: Request, max_bytes: int, max_decompressed: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise OTLPError(413, f"body of {declared} bytes exceeds the limit of {max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise OTLPError(413, f"body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise OTLPError(415, f"unsupported content encoding {encoding!r}: use gzip or none")
    # Decompress with a ceiling so a gzip bomb costs at most max_decompressed bytes of memory.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_decompressed + 1)
    except zlib.error as exc:
        raise OTLPError(400, f"body is not valid gzip: {exc}") from None
    if len(out) > max_decompressed or inflater.unconsumed_tail:
        raise OTLPError(413, f"decompressed body exceeds the limit of {max_decompressed} bytes")
    if not inflater.eof:
        raise OTLPError(400, "gzip body is truncated")
    return out


def encode(message: Message, content_type: str, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    if content_type == JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body = message.SerializeToString()
    return Response(body, status_code=status, media_type=content_type, headers=headers)


def error_response(exc: OTLPError | AuthError, content_type: str) -> Response:
    """OTLP asks for a google.rpc.Status body on errors; its JSON form is {"code", "message"}."""
    from google.rpc.status_pb2 import Status  # ships with googleapis-common-protos via opentelemetry-proto

    status = exc.status
    message = exc.message if isinstance(exc, OTLPError) else exc.detail
    headers = exc.headers if isinstance(exc, OTLPError) else {}
    return encode(Status(code=status, message=message), content_type, status, headers)


def build_router(app_state: Any) -> APIRouter:
    router = APIRouter(tags=["otlp"])

    async def export(request: Request, kind: int, allow_basic: bool, endpoint: str) -> Response:
        state = app_state
        content_type = JSON if request.headers.get("content-type", "").startswith(JSON) else PROTOBUF
        try:
            key = state.auth.authenticate(request, "ingest", allow_basic=allow_basic)
            content_type = media_type(request)
            limits = state.settings.limits
            body = await read_body(request, limits.max_body_bytes, limits.max_decompressed_bytes)
            try:
                message = parse_request(body, content_type, kind)
            except OTLPDecodeError as exc:
                raise OTLPError(400, str(exc)) from None
            payload = body if content_type == PROTOBUF else message.SerializeToString()
            try:
                response = await accept_export(state, key, kind, message, payload, endpoint)
            except Rejected as exc:
                retry = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
                raise OTLPError(exc.status, exc.message, retry) from None
            return encode(response, content_type)
        except (OTLPError, AuthError) as exc:
            state.metrics.requests.labels(endpoint, str(exc.status)).inc()
            return error_response(exc, content_type)

    @router.post("/v1/traces", summary="OTLP/HTTP trace export")
    async def traces(request: Request) -> Response:
        return await export(request, KIND_TRACES, False, "traces")

    @router.post("/api/public/otel/v1/traces", summary="Langfuse-compatible OTLP trace export (Basic auth)")
    async def langfuse_traces(request: Request) -> Response:
        return await export(request, KIND_TRACES, True, "langfuse")

    @router.post("/v1/logs", summary="OTLP/HTTP log export (GenAI content events)")
    async def logs(request: Request) -> Response:
        return await export(request, KIND_LOGS, False, "logs")

    @router.post("/v1/metrics", summary="OTLP/HTTP metrics: accepted and discarded, said so in partial_success")
    async def metrics(request: Request) -> Response:
        content_type = JSON if request.headers.get("content-type", "").startswith(JSON) else PROTOBUF
        try:
            app_state.auth.authenticate(request, "ingest")
            content_type = media_type(request)
            limits = app_state.settings.limits
            body = await read_body(request, limits.max_body_bytes, limits.max_decompressed_bytes)
            message = ExportMetricsServiceRequest()
            try:
                if content_type == JSON:
                    json_format.Parse(body, message, ignore_unknown_fields=True)
                else:
                    message.ParseFromString(body)
            except Exception as exc:  # noqa: BLE001 - any parse failure is the client's bad body
                raise OTLPError(400, f"body is not an OTLP metrics request: {exc}") from None
            response = discard_metrics(message)
            return encode(response, content_type)
        except (OTLPError, AuthError) as exc:
            return error_response(exc, content_type)

    return router

