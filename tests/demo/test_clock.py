"""The simulated clock: spans of a backfilled trace land at their past time with simulated durations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from collector.demo.clock import ATTRIBUTE, TTFT, Clock, ShiftingExporter

PAST = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


def spans_on(start: datetime | None) -> tuple[Clock, list]:
    clock, memory = Clock(), InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ShiftingExporter(memory, clock)))
    tracer = provider.get_tracer("t")
    tl = clock.begin(start)
    with clock.use(tl):
        with tracer.start_as_current_span("request", attributes={ATTRIBUTE: tl.id}):
            clock.sleep(0.05)  # a retrieval
            with tracer.start_as_current_span("llm", attributes={ATTRIBUTE: tl.id}) as llm:
                clock.sleep(0.4)  # first token
                llm.set_attribute(TTFT, (time.time_ns() - llm.start_time) / 1e9)  # as the SDK measures it
                clock.sleep(1.6)  # the rest of the answer
                llm.add_event("exception")
        with tracer.start_as_current_span("untouched"):
            pass
    return clock, {s.name: s for s in memory.get_finished_spans()}


def test_backfilled_trace_is_moved_to_its_time_with_simulated_durations() -> None:
    clock, spans = spans_on(PAST)
    root, llm = spans["request"], spans["llm"]
    start = datetime.fromtimestamp(root.start_time / 1e9, UTC)
    assert PAST <= start < PAST + timedelta(seconds=1)
    assert 2.05 <= (root.end_time - root.start_time) / 1e9 < 2.5
    assert 2.0 <= (llm.end_time - llm.start_time) / 1e9 < 2.4
    assert root.start_time <= llm.start_time and llm.end_time <= root.end_time
    assert llm.start_time - root.start_time >= 0.05e9
    assert llm.attributes[TTFT] >= 0.4 - 1e-6 and llm.attributes[TTFT] < 0.5  # waits before the first chunk
    assert llm.start_time <= llm.events[0].timestamp <= llm.end_time
    assert ATTRIBUTE not in root.attributes  # the clock's key never leaves the app
    assert abs(spans["untouched"].start_time / 1e9 - datetime.now(UTC).timestamp()) < 60


def test_live_timeline_is_real_time() -> None:
    _, spans = spans_on(None)
    now = datetime.now(UTC).timestamp()
    assert abs(spans["request"].start_time / 1e9 - now) < 60
    assert (spans["llm"].end_time - spans["llm"].start_time) / 1e9 >= 2.0  # really slept
    assert ATTRIBUTE not in spans["llm"].attributes
