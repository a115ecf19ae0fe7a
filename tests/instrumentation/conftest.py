"""Real instrumentation packages, each in its own subprocess, exporting to an OTLP capture server.

`otlp_endpoint` is the one seam: it is the capture server's URL here; a variant that overrides it with a
running `loupe serve` sends the same clients through the real collector. The clients find the
endpoint, an API key and the local model in their environment (see clients/_scenario.py).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from collector.normalize import normalize_log, normalize_span
from collector.otlp import KIND_LOGS, KIND_TRACES, iter_logs, iter_spans, parse_request
from judges.local_model import LocalModel
from store.rows import LogRow, SpanRow

CLIENTS = Path(__file__).parent / "clients"
CLIENT_TIMEOUT_S = 90
API_KEY = "loupe-test-key"
TRACE_PATHS = ("/v1/traces", "/api/public/otel/v1/traces")


@dataclass
class Captured:
    path: str
    content_type: str
    headers: dict[str, str]
    body: bytes  # decompressed


class CaptureServer:
    """Accepts OTLP/HTTP exports on the paths real clients use and keeps the raw bodies."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                with capture._lock:
                    capture.requests.append(Captured(self.path.split("?")[0], content_type,
                                                     {k.lower(): v for k, v in self.headers.items()}, body))
                answer = b"{}" if content_type == "application/json" else b""  # an empty Export*Response
                self.send_response(200)
                self.send_header("Content-Type", content_type or "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:  # SDKs that probe the server get an empty JSON answer
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, paths: tuple[str, ...]) -> list[Captured]:
        with self._lock:
            return [r for r in self.requests if r.path in paths]


@dataclass
class Collected:
    """What one client run produced, decoded and normalised as the collector will."""

    manifest: dict[str, Any]
    spans: list[SpanRow] = field(default_factory=list)
    logs: list[LogRow] = field(default_factory=list)
    requests: list[Captured] = field(default_factory=list)
    stderr: str = ""


def decode(capture: CaptureServer, project: str = "test") -> tuple[list[SpanRow], list[LogRow]]:
    now = datetime.now(UTC)
    spans = [normalize_span(raw, project, now) for r in capture.bodies(TRACE_PATHS)
             for raw in iter_spans(parse_request(r.body, r.content_type, KIND_TRACES))]
    logs = [normalize_log(raw, project, now) for r in capture.bodies(("/v1/logs",))
            for raw in iter_logs(parse_request(r.body, r.content_type, KIND_LOGS))]
    return spans, logs


def client_env(endpoint: str, model_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACELOOP_", "LANGFUSE_"))}
    env.update({
        "LOUPE_TEST_OTLP_ENDPOINT": endpoint, "LOUPE_TEST_API_KEY": API_KEY, "LOUPE_TEST_MODEL_URL": model_url,
        # Everything stays on this machine: no telemetry, no proxies, no metrics exporters elsewhere.
        "TRACELOOP_TELEMETRY": "false", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "OPENAI_API_KEY": "sk-test",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def run_client(name: str, endpoint: str, model_url: str, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run clients/client_<name>.py in its own interpreter; returns its manifest (fails on a bad exit)."""
    proc = subprocess.run([sys.executable, str(CLIENTS / f"client_{name}.py")], capture_output=True, text=True,
                          timeout=CLIENT_TIMEOUT_S, env=client_env(endpoint, model_url, extra_env), cwd=CLIENTS)
    assert proc.returncode == 0, f"client {name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("MANIFEST ")]
    assert lines, f"client {name} printed no manifest:\n{proc.stdout[-3000:]}"
    return json.loads(lines[-1][len("MANIFEST "):])


@pytest.fixture(scope="session")
def local_model() -> Iterator[str]:
    model = LocalModel(cache_threshold=256)  # the scenario's system prompt is just above it
    yield model.start()
    model.stop()


@pytest.fixture()
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.stop()


@pytest.fixture()
def otlp_endpoint(capture: CaptureServer) -> str:
    """Where the clients export. Override this fixture to point them at a running collector."""
    return capture.url


@pytest.fixture()
def collect(capture: CaptureServer, otlp_endpoint: str, local_model: str):
    """`collect("openinference")` runs that client and returns what arrived, normalised."""

    def _collect(name: str, extra_env: dict[str, str] | None = None) -> Collected:
        manifest = run_client(name, otlp_endpoint, local_model, extra_env)
        spans, logs = decode(capture)
        return Collected(manifest, spans, logs, list(capture.requests))

    return _collect
