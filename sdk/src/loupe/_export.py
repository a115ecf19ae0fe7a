"""Background export: the stock BatchSpanProcessor behind a gate that bounds and counts.

The gate keeps its own count of spans handed over and not yet taken by the exporter, so a full
queue drops the *new* span with one warning and a counter (the stock processor would silently
evict from its deque and log on every drop). Flush and shutdown are bounded in time even when
the collector is unreachable: the app never waits on the network for longer than asked.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from loupe import _state

SCHEDULE_DELAY_MS = 1000
MAX_EXPORT_BATCH = 512


class _CountingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, gate: ExportPipeline) -> None:
        self._inner = inner
        self._gate = gate
        self.deadline: float | None = None  # monotonic; past it, batches are failed without sending
        self._inner_closed = False
        self._close_lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        n = len(spans)
        self._gate.taken(n)
        if self.deadline is not None and time.monotonic() > self.deadline:
            self._gate.count(failed=n)
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception:
            _state.log_once("export-raised", "the span exporter raised")
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self._gate.count(exported=n)
        else:
            self._gate.count(failed=n)
            _state.log_once("export-failed", "could not export spans to the collector", exc_info=False)
        return result

    def close_inner(self) -> None:
        with self._close_lock:
            if self._inner_closed:
                return
            self._inner_closed = True
        try:
            self._inner.shutdown()  # also interrupts a retry back-off in progress
        except Exception:
            _state.log_once("exporter-shutdown", "the span exporter failed to shut down")

    def shutdown(self) -> None:
        self.close_inner()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class ExportPipeline(SpanProcessor):
    """Bounded, counted hand-off of ended spans to a BatchSpanProcessor."""

    def __init__(self, exporter: SpanExporter, *, max_queue_size: int, sample_rate: float = 1.0) -> None:
        self._max = max_queue_size
        self._lock = threading.Lock()
        self.pending = 0
        self.exported = 0
        self.failed = 0
        self.dropped = 0
        self.active = True
        # Only used when spans come from the app's own provider (whose sampler we cannot set):
        # keep a trace when the low 64 bits of its id fall under the bound, the same rule as
        # TraceIdRatioBased, so a trace is kept or dropped whole.
        self._keep_below = int(sample_rate * (1 << 64)) if sample_rate < 1.0 else None
        self._exporter = _CountingExporter(exporter, self)
        self._batch = BatchSpanProcessor(
            self._exporter,
            max_queue_size=max_queue_size,
            schedule_delay_millis=SCHEDULE_DELAY_MS,
            max_export_batch_size=min(MAX_EXPORT_BATCH, max_queue_size),
        )
        if hasattr(os, "register_at_fork"):
            # The batch processor empties its queue in a forked child; our count must follow.
            reset = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (m := reset()) and m())

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self.pending = 0

    def taken(self, n: int) -> None:
        with self._lock:
            self.pending = max(0, self.pending - n)

    def count(self, *, exported: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.exported += exported
            self.failed += failed

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not self.active:
            return
        ctx = span.context
        if ctx is None or not ctx.trace_flags.sampled:
            return
        if self._keep_below is not None and (ctx.trace_id & 0xFFFFFFFFFFFFFFFF) >= self._keep_below:
            return
        with self._lock:
            full = self.pending >= self._max
            if full:
                self.dropped += 1
            else:
                self.pending += 1
        if full:
            _state.log_once(
                "queue-full",
                "span queue full (%d spans), dropping new spans; see loupe.stats()",
                self._max,
                exc_info=False,
            )
            return
        try:
            self._batch.on_end(span)
        except Exception:
            self.taken(1)
            _state.log_once("enqueue", "could not queue a span for export")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # The stock force_flush exports in the caller's thread and ignores its timeout: run it in
        # a helper thread and wait at most `timeout_millis` for it.
        if not self.active:
            return False
        done = threading.Event()

        def run() -> None:
            try:
                self._batch.force_flush()
            except Exception:
                _state.log_once("flush", "flushing spans failed")
            finally:
                done.set()

        threading.Thread(target=run, name="loupe-flush", daemon=True).start()
        return done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if not self.active:
            return
        self.active = False
        self._exporter.deadline = time.monotonic() + timeout_s
        timer = threading.Timer(timeout_s, self._exporter.close_inner)
        timer.daemon = True
        timer.start()
        try:
            self._batch.shutdown()
        except Exception:
            _state.log_once("shutdown", "span processor shutdown failed")
        finally:
            timer.cancel()
            self._exporter.close_inner()
