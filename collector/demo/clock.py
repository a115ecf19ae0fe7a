"""A simulated clock for the backfill: weeks of traffic with realistic latencies, generated in seconds.

Each trace runs on a `Timeline` that starts at a chosen moment in the past. The simulated world (model
provider, help center, order system) does not really wait: `sleep()` records how long it would have
taken, and `ShiftingExporter` moves every span (start, end, events, time to first token) onto the
timeline before handing it to the real OTLP exporter. So the spans come out of the ordinary SDK and
openai integration, nested and timed as if the calls had really taken that long on that day.

A trace finds its timeline through a `loupe.context` metadata key that the exporter strips again. A
live timeline (no start given) is real time, and its `sleep()` really sleeps.
"""

from __future__ import annotations

import bisect
import contextvars
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

METADATA_KEY = "demo_timeline"
ATTRIBUTE = f"loupe.metadata.{METADATA_KEY}"
TTFT = "gen_ai.response.time_to_first_chunk"
_CURRENT: contextvars.ContextVar[Timeline | None] = contextvars.ContextVar("demo_timeline", default=None)


class Timeline:
    def __init__(self, ident: str, start: datetime | None) -> None:
        self.id = ident
        self.live = start is None
        self.origin_real = time.time_ns()
        self.origin_virtual = self.origin_real if start is None else int(start.timestamp() * 1e9)
        self._at: list[int] = []  # real ns of each simulated wait, ascending
        self._total: list[int] = []  # simulated ns waited up to and including that wait
        self._chunks: list[int] = []  # real ns at which a streamed response released its first chunk
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.live:
            time.sleep(seconds)
            return
        with self._lock:
            self._at.append(time.time_ns())
            self._total.append((self._total[-1] if self._total else 0) + int(seconds * 1e9))

    def first_chunk(self) -> None:
        """A streamed response releases its first chunk now (see ShiftingExporter: time to first token)."""
        with self._lock:
            self._chunks.append(time.time_ns())

    def first_chunk_between(self, start_ns: int, end_ns: int) -> int | None:
        with self._lock:
            i = bisect.bisect_left(self._chunks, start_ns)
            return self._chunks[i] if i < len(self._chunks) and self._chunks[i] <= end_ns else None

    def map(self, real_ns: int) -> int:
        """Where a real instant lands on this timeline: real time elapsed plus the waits before it."""
        if self.live:
            return real_ns
        with self._lock:
            i = bisect.bisect_right(self._at, real_ns)
            waited = self._total[i - 1] if i else 0
        return self.origin_virtual + (real_ns - self.origin_real) + waited

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.map(time.time_ns()) / 1e9, UTC)


class Clock:
    """The timelines of traces in flight, by id (bounded: old ones are forgotten)."""

    def __init__(self, keep: int = 200_000) -> None:
        self._timelines: OrderedDict[str, Timeline] = OrderedDict()
        self._keep = keep
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def begin(self, start: datetime | None) -> Timeline:
        with self._lock:
            tl = Timeline(f"t{next(self._ids)}", start)
            self._timelines[tl.id] = tl
            while len(self._timelines) > self._keep:
                self._timelines.popitem(last=False)
        return tl

    def get(self, ident: str) -> Timeline | None:
        with self._lock:
            return self._timelines.get(ident)

    @contextmanager
    def use(self, tl: Timeline) -> Iterator[Timeline]:
        token = _CURRENT.set(tl)
        try:
            yield tl
        finally:
            _CURRENT.reset(token)

    def sleep(self, seconds: float) -> None:
        tl = _CURRENT.get()
        if tl is None:
            time.sleep(seconds)
        else:
            tl.sleep(seconds)

    def first_chunk(self) -> None:
        tl = _CURRENT.get()
        if tl is not None and not tl.live:
            tl.first_chunk()

    def today(self) -> date:
        tl = _CURRENT.get()
        return tl.now().date() if tl is not None else date.today()


class ShiftingExporter(SpanExporter):
    """Moves spans onto their trace's timeline, then exports them with `inner`."""

    def __init__(self, inner: SpanExporter, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._shift(s) for s in spans])

    def _shift(self, span: ReadableSpan) -> ReadableSpan:
        attrs = span.attributes or {}
        ident = attrs.get(ATTRIBUTE)
        if ident is None:
            return span
        attributes = {k: v for k, v in attrs.items() if k != ATTRIBUTE}
        tl = self._clock.get(str(ident))
        start, end, events = span.start_time, span.end_time, list(span.events)
        if tl is not None and not tl.live and start is not None and end is not None:
            ttft = attributes.get(TTFT)
            new_start = tl.map(start)
            if isinstance(ttft, int | float):
                # The instant the provider released the first chunk, where known: the SDK times it from just
                # after the span started, and on a busy machine that gap can put the simulated wait for the
                # first token after `start + ttft`, which would drop it.
                first = tl.first_chunk_between(start, end)
                attributes[TTFT] = (tl.map(first if first is not None else start + int(ttft * 1e9)) - new_start) / 1e9
            events = [Event(e.name, e.attributes, tl.map(e.timestamp)) for e in events]
            start, end = new_start, tl.map(end)
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=attributes, events=events, links=span.links, kind=span.kind, status=span.status,
            start_time=start, end_time=end, instrumentation_scope=span.instrumentation_scope)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
