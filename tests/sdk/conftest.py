"""Fixtures for the SDK tests: a capture collector on 127.0.0.1 and the local OpenAI-compatible model.

`collector` is the seam: tests only use `endpoint`, `api_key`, `spans()`, `wait_for()` and `scores`,
so the capture server can later be swapped for a real `loupe serve` behind the same interface.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

import loupe

API_KEY = "lp_sdk_test_key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def any_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which) if which else None


@dataclass
class CapturedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    duration_ns: int = 0

    def json(self, key: str) -> Any:
        return json.loads(self.attributes[key])


class CaptureCollector:
    """Receives OTLP/HTTP protobuf (gzip or not) on /v1/traces and JSON scores on /api/scores."""

    def __init__(self) -> None:
        self.api_key = API_KEY
        self.delay_s = 0.0  # set by tests that need a slow collector
        self.requests: list[dict[str, str]] = []  # headers (lower-cased names) of each export
        self.scores: list[dict[str, Any]] = []
        self._spans: list[CapturedSpan] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="capture-collector", daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                if self.path == "/v1/traces":
                    outer._receive({k.lower(): v for k, v in self.headers.items()}, body)
                    reply, ctype = b"", "application/x-protobuf"
                elif self.path == "/api/scores":
                    with outer._lock:
                        outer.scores.append(
                            {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": json.loads(body)}
                        )
                    reply, ctype = b"{}", "application/json"
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        return Handler

    def _receive(self, headers: dict[str, str], body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for rs in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(
                        CapturedSpan(
                            name=s.name,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            kind=s.kind,
                            attributes={kv.key: any_value(kv.value) for kv in s.attributes},
                            resource=resource,
                            scope=ss.scope.name,
                            status_code=s.status.code,
                            status_message=s.status.message,
                            events=[(e.name, {kv.key: any_value(kv.value) for kv in e.attributes}) for e in s.events],
                            duration_ns=s.end_time_unix_nano - s.start_time_unix_nano,
                        )
                    )
        with self._lock:
            self.requests.append(headers)
            self._spans.extend(spans)

    def spans(self, name: str | None = None) -> list[CapturedSpan]:
        with self._lock:
            return [s for s in self._spans if name is None or s.name == name]

    def span(self, name: str) -> CapturedSpan:
        found = self.spans(name)
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def wait_for(self, predicate: Callable[[list[CapturedSpan]], bool], timeout: float = 10) -> list[CapturedSpan]:
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; spans so far: {[s.name for s in spans]}")
            time.sleep(0.02)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.requests.clear()
            self.scores.clear()
        self.delay_s = 0.0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def _capture() -> Iterator[CaptureCollector]:
    c = CaptureCollector()
    yield c
    c.close()


@pytest.fixture
def collector(_capture: CaptureCollector) -> Iterator[CaptureCollector]:
    _capture.clear()
    yield _capture
    _capture.clear()


@pytest.fixture
def sdk(collector: CaptureCollector) -> Iterator[CaptureCollector]:
    """The SDK initialised against the collector; yields the collector. Flush with `loupe.flush()`."""
    loupe.init(
        endpoint=collector.endpoint,
        api_key=collector.api_key,
        service="sdk-tests",
        environment="test",
        release="r-test",
        export_timeout=2,
    )
    yield collector
    loupe.shutdown(timeout=2)


def flushed(collector: CaptureCollector) -> list[CapturedSpan]:
    assert loupe.flush(timeout=10)
    return collector.spans()


@pytest.fixture(scope="session")
def local_model() -> Iterator[str]:
    """Base URL (ending in /v1) of the project's OpenAI-compatible test model."""
    from judges.local_model import LocalModel

    model = LocalModel(cache_threshold=32)  # low, so ordinary prompts report cached tokens
    yield model.start()
    model.stop()
