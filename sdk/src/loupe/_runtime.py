"""`init()`, `shutdown()`, `flush()`, `stats()` and `feedback()`: the SDK's lifecycle.

Built on the OpenTelemetry SDK rather than beside it: a TracerProvider with two processors, one
stamping the loupe.context onto new spans and one exporting through the stock OTLP/HTTP exporter.
When the app already runs an SDK TracerProvider, both processors are added to it instead.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased

from loupe import _state
from loupe import attributes as A
from loupe._context import ContextProcessor
from loupe._export import ExportPipeline
from loupe._feedback import FeedbackSender, payload
from loupe._span import current_trace_id
from loupe._version import __version__
from loupe.config import Redactor, Settings, resolve

DEFAULT_SHUTDOWN_TIMEOUT_S = 5.0

# Providers we created: on a second init() the global provider may be one of ours (already shut
# down), which must not be mistaken for the app's own.
_owned: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
_forwarding: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
_lock = threading.Lock()
_atexit_registered = False


@dataclass(frozen=True, slots=True)
class Stats:
    """Counters since the last `init()`; spans are counted when they end."""

    exported: int = 0  # spans the collector accepted
    failed: int = 0  # spans whose export failed (collector down, rejected, shut down)
    dropped: int = 0  # spans dropped because the queue was full
    queued: int = 0  # spans waiting for export
    feedback_sent: int = 0
    feedback_failed: int = 0
    feedback_dropped: int = 0


class _Runtime:
    def __init__(self, settings: Settings, provider: TracerProvider | None, owned: bool) -> None:
        self.settings = settings
        self.provider = provider
        self.owned = owned
        self.context_processor: ContextProcessor | None = None
        self.pipeline: ExportPipeline | None = None
        self.feedback = FeedbackSender(settings.scores_url, settings.api_key, settings.export_timeout_s)

    def stats(self) -> Stats:
        p, f = self.pipeline, self.feedback
        if p is None:
            return Stats(feedback_sent=f.sent, feedback_failed=f.failed, feedback_dropped=f.dropped)
        return Stats(p.exported, p.failed, p.dropped, p.pending, f.sent, f.failed, f.dropped)

    def shutdown(self, timeout_s: float) -> None:
        if self.context_processor is not None:
            self.context_processor.shutdown()
        if self.pipeline is not None:
            self.pipeline.shutdown(timeout_s)
        self.feedback.shutdown(timeout_s)
        if self.owned and self.provider is not None:
            self.provider.shutdown()


_runtime: _Runtime | None = None
_last: _Runtime | None = None


class _Forward(SpanProcessor):
    """Hands the spans of a provider from an earlier `init()` to the *current* set-up.

    A provider that became global stays global for the life of the process (OpenTelemetry allows
    one), so after `shutdown()` and a new `init()` the spans other instrumentations still create
    through it must reach the new pipeline rather than the dead one.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        rt = _runtime
        if rt is not None and rt.context_processor is not None:
            rt.context_processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        rt = _runtime
        if rt is not None and rt.pipeline is not None:
            rt.pipeline.on_end(span)

    def shutdown(self) -> None:
        pass  # the set-up's processors are shut down by `shutdown()`, not by the provider

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _resource(s: Settings) -> Resource:
    attrs: dict[str, Any] = {}
    for key, value in (
        (A.SERVICE_NAME, s.service),
        (A.SERVICE_VERSION, s.service_version),
        (A.DEPLOYMENT_ENVIRONMENT, s.environment),
        (A.RELEASE, s.release),
    ):
        if value:
            attrs[key] = value
    # Resource.create merges OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME; explicit values win.
    return Resource.create(attrs)


def _exporter(s: Settings) -> SpanExporter:
    headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
    return OTLPSpanExporter(
        endpoint=s.traces_url, headers=headers, timeout=s.export_timeout_s, compression=Compression.Gzip
    )


def _start(s: Settings, tracer_provider: Any, exporter: SpanExporter | None) -> _Runtime:
    existing = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if isinstance(existing, TracerProvider) and existing not in _owned:
        rt = _Runtime(s, existing, owned=False)
        # The app's resource and sampler stay; environment and release it lacks travel on each span.
        have = existing.resource.attributes
        extra = {}
        if s.environment and A.DEPLOYMENT_ENVIRONMENT not in have:
            extra[A.ENVIRONMENT] = s.environment
        if s.release and A.RELEASE not in have:
            extra[A.RELEASE] = s.release
        rt.context_processor = ContextProcessor(extra)
        rt.pipeline = ExportPipeline(
            exporter or _exporter(s), max_queue_size=s.max_queue_size, sample_rate=s.sample_rate
        )
    else:
        sampler = ParentBased(TraceIdRatioBased(s.sample_rate)) if s.sample_rate < 1.0 else ParentBased(ALWAYS_ON)
        provider = TracerProvider(resource=_resource(s), sampler=sampler, shutdown_on_exit=False)
        _owned.add(provider)
        rt = _Runtime(s, provider, owned=True)
        rt.context_processor = ContextProcessor()
        rt.pipeline = ExportPipeline(exporter or _exporter(s), max_queue_size=s.max_queue_size)
        if isinstance(existing, trace.ProxyTracerProvider):
            # Nobody set one: become the global provider so other OTel instrumentation joins in.
            trace.set_tracer_provider(provider)
        elif isinstance(existing, TracerProvider) and existing not in _forwarding:
            _forwarding.add(existing)  # our provider from an earlier init() is still the global one
            existing.add_span_processor(_Forward())
        existing = provider
    existing.add_span_processor(rt.context_processor)
    existing.add_span_processor(rt.pipeline)
    return rt


def init(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    sample_rate: float | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    enabled: bool | None = None,
    service_version: str | None = None,
    max_queue_size: int | None = None,
    export_timeout: float | None = None,
    max_content_chars: int | None = None,
    tracer_provider: Any = None,
    exporter: SpanExporter | None = None,
) -> None:
    """Start sending spans to Loupe. Every argument falls back to its `LOUPE_*` environment
    variable, then to its default (see `loupe.config`). Calling it again replaces the previous set-up.

    `tracer_provider`: an SDK TracerProvider to add Loupe's processors to (default: the global one
    if the app set an SDK provider, else a new one). `exporter`: replaces the OTLP exporter (tests,
    benchmarks, or an exporter of your own).
    """
    global _runtime, _last, _atexit_registered
    try:
        settings = resolve(
            endpoint=endpoint,
            api_key=api_key,
            service=service,
            service_version=service_version,
            environment=environment,
            release=release,
            sample_rate=sample_rate,
            capture_content=capture_content,
            redact=redact,
            enabled=enabled,
            max_queue_size=max_queue_size,
            export_timeout_s=export_timeout,
            max_content_chars=max_content_chars,
        )
        with _lock:
            if _runtime is not None:
                _runtime.shutdown(DEFAULT_SHUTDOWN_TIMEOUT_S)
                _runtime = None
            if not settings.enabled:
                _state.current = _state.Active(enabled=False, tracer=trace.NoOpTracer())
                return
            rt = _start(settings, tracer_provider, exporter)
            assert rt.provider is not None
            _state.current = _state.Active(
                enabled=True,
                tracer=rt.provider.get_tracer(_state.SCOPE, __version__),
                capture_content=settings.capture_content,
                redact=settings.redact,
                max_chars=settings.max_content_chars,
            )
            _runtime = _last = rt
            if not _atexit_registered:
                atexit.register(_at_exit)
                _atexit_registered = True
    except Exception:
        _state.log_once("init", "init failed; tracing is disabled")
        _state.current = _state.Active(enabled=False, tracer=trace.NoOpTracer())


def _at_exit() -> None:
    shutdown()


def shutdown(timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> None:
    """Flush what is queued (waiting at most `timeout` seconds) and stop. Tracing is off afterwards."""
    global _runtime
    try:
        with _lock:
            rt, _runtime = _runtime, None
            _state.current = _state.Active(enabled=False, tracer=trace.NoOpTracer())
        if rt is not None:
            rt.shutdown(timeout)
    except Exception:
        _state.log_once("shutdown", "shutdown failed")


def flush(timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S) -> bool:
    """Export queued spans and send pending feedback now; False if `timeout` seconds were not enough."""
    rt = _runtime
    if rt is None:
        return True
    try:
        ok = rt.pipeline.force_flush(int(timeout * 1000)) if rt.pipeline is not None else True
        return rt.feedback.flush(timeout) and ok
    except Exception:
        _state.log_once("flush", "flush failed")
        return False


def stats() -> Stats:
    """Exported, failed, dropped and queued span counts (and feedback counts) of the current or last set-up."""
    rt = _runtime or _last
    return rt.stats() if rt is not None else Stats()


def feedback(
    *,
    trace_id: str | None = None,
    name: str,
    value: Any,
    comment: str | None = None,
    user_id: str | None = None,
) -> bool:
    """Queue an end-user score for a trace (default: the current one). Returns whether it was queued."""
    try:
        rt = _runtime
        if rt is None:
            return False
        target = trace_id or current_trace_id()
        if not target:
            _state.log_once("feedback-no-trace", "feedback without a trace id is ignored", exc_info=False)
            return False
        return rt.feedback.submit(payload(target, name, value, comment, user_id))
    except Exception:
        _state.log_once("feedback", "could not queue feedback")
        return False
