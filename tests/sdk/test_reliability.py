"""The SDK never breaks or slows the app: collector down, full queue, disabled mode, broken parts."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import loupe
from loupe import config
from tests.sdk.conftest import CaptureCollector, flushed, free_port


@loupe.observe
def work(x: int) -> dict:
    with loupe.span("inner", kind="llm") as s:
        s.set_llm(request_model="m", input_messages=[{"role": "user", "content": "hi " * 50}], output_messages="ok")
    return {"x": x}


def test_collector_down_costs_the_app_nothing() -> None:
    loupe.init(endpoint=f"http://127.0.0.1:{free_port()}", export_timeout=1)
    try:
        started = time.perf_counter()
        for i in range(300):
            assert work(i) == {"x": i}
        per_call = (time.perf_counter() - started) / 300
        assert per_call < 0.002, f"{per_call * 1e6:.0f} µs per call with the collector down"
        loupe.feedback(trace_id="0" * 32, name="thumbs", value=1)
        loupe.flush(timeout=3)
        stats = loupe.stats()
        assert stats.failed > 0 and stats.exported == 0
    finally:
        started = time.perf_counter()
        loupe.shutdown(timeout=1)
        assert time.perf_counter() - started < 4  # bounded even with retries pending
    assert loupe.stats().feedback_failed == 1


def test_full_queue_drops_new_spans_and_counts_them(collector: CaptureCollector, caplog) -> None:
    collector.delay_s = 0.5  # a slow collector: the first batch holds the exporter
    loupe.init(endpoint=collector.endpoint, max_queue_size=4, export_timeout=5)
    try:
        with caplog.at_level(logging.WARNING, logger="loupe"):
            for i in range(60):
                with loupe.span(f"s{i}"):
                    pass
        assert loupe.flush(timeout=10)
        stats = loupe.stats()
    finally:
        loupe.shutdown(timeout=5)
    assert stats.dropped > 0
    assert stats.dropped + stats.exported == 60 and stats.queued == 0
    assert len(collector.spans()) == stats.exported
    assert len([r for r in caplog.records if "queue full" in r.getMessage()]) <= 1  # warned once at most


def test_disabled_does_nothing(collector: CaptureCollector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.LOUPE_ENABLED, "false")
    before = set(threading.enumerate())
    loupe.init(endpoint=collector.endpoint)
    try:

        @loupe.observe
        def double(x: int) -> int:
            return 2 * x

        @loupe.observe
        def gen():
            yield from (1, 2)

        assert double(4) == 8 and list(gen()) == [1, 2]
        with loupe.span("x", kind="llm") as s:
            s.set_llm(request_model="m", input_messages="hi")
            assert not s.is_recording() and s.trace_id is None
        with loupe.context(session_id="s"), loupe.prompt("p", 1):
            double(1)
        assert loupe.current_trace_id() is None
        assert loupe.feedback(trace_id="0" * 32, name="n", value=1) is False
        assert loupe.flush()
        assert set(threading.enumerate()) == before  # no exporter or feedback thread
    finally:
        loupe.shutdown()
    time.sleep(0.2)
    assert collector.spans() == [] and collector.scores == []


def test_argument_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.LOUPE_ENDPOINT, "http://env:4318/")
    monkeypatch.setenv(config.LOUPE_SAMPLE_RATE, "0.25")
    monkeypatch.setenv(config.LOUPE_CAPTURE_CONTENT, "no")
    monkeypatch.setenv(config.LOUPE_MAX_QUEUE_SIZE, "not-a-number")
    monkeypatch.setenv(config.LOUPE_REDACT, "json:dumps")
    s = config.resolve(endpoint="http://arg:1")
    assert s.endpoint == "http://arg:1" and s.traces_url == "http://arg:1/v1/traces"
    assert s.sample_rate == 0.25 and s.capture_content is False and s.redact is json.dumps
    assert s.max_queue_size == config.DEFAULT_MAX_QUEUE_SIZE  # bad value ignored, default applies
    assert config.resolve().endpoint == "http://env:4318"
    monkeypatch.delenv(config.LOUPE_ENDPOINT)
    assert config.resolve().endpoint == config.DEFAULT_ENDPOINT == "http://127.0.0.1:4318"
    assert config.resolve(capture_content=True).capture_content is True


def test_sampling_keeps_whole_traces(collector: CaptureCollector) -> None:
    loupe.init(endpoint=collector.endpoint, sample_rate=0.5)
    try:
        for _ in range(200):
            work(1)
        spans = flushed(collector)
    finally:
        loupe.shutdown()
    roots = [s for s in spans if not s.parent_span_id]
    assert 40 < len(roots) < 160
    assert len(spans) == 2 * len(roots)  # children follow their root's decision


def test_broken_app_objects_and_redactors_never_raise(collector: CaptureCollector) -> None:
    def bad_redactor(text: str) -> str:
        raise RuntimeError("redactor bug")

    class Evil:
        def model_dump(self, **kw):
            raise RuntimeError("dump")

        def __repr__(self) -> str:
            raise RuntimeError("repr")

    loupe.init(endpoint=collector.endpoint, redact=bad_redactor)
    try:

        @loupe.observe
        def f(x: object) -> object:
            return x

        evil = Evil()
        assert f(evil) is evil
        with loupe.span("s") as s:
            s.set_llm(input_messages=[evil, {"role": "user", "content": evil}], output_messages=evil)
            s.set_retrieval(documents=[evil, None, 3])
            s.set_tool(arguments=evil, result=evil)
            s.set_attribute("k", evil)
            s.set_metadata({"m": evil})
        with loupe.context(metadata={"m": evil}):
            pass
        spans = flushed(collector)
    finally:
        loupe.shutdown()
    assert len(spans) == 2
    assert json.loads(spans[0].attributes["loupe.input"]) == {"x": "[redaction failed]"}


def test_app_provider_keeps_its_processors(collector: CaptureCollector) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    loupe.init(endpoint=collector.endpoint, tracer_provider=provider, environment="prod", release="v9")
    try:
        app_tracer = provider.get_tracer("app")
        with app_tracer.start_as_current_span("app-span"), loupe.context(user_id="u"):
            work(1)
        spans = flushed(collector)
    finally:
        loupe.shutdown()
    assert {s.name for s in memory.get_finished_spans()} == {"app-span", "inner", "work"}
    assert {s.name.rsplit(".", 1)[-1] for s in spans} == {"app-span", "inner", "work"}
    worker = next(s for s in spans if s.name == "work")
    assert worker.attributes["loupe.environment"] == "prod" and worker.attributes["loupe.release"] == "v9"
    assert worker.attributes["user.id"] == "u"
    # After loupe.shutdown the app's provider still works, and Loupe's processors are inert.
    with provider.get_tracer("app").start_as_current_span("later"):
        pass
    assert "later" in {s.name for s in memory.get_finished_spans()}
    assert loupe.flush() and "later" not in {s.name for s in collector.spans()}


def test_global_sdk_provider_is_joined_not_replaced(collector: CaptureCollector, tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import json
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import loupe

        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(provider)
        loupe.init(endpoint={collector.endpoint!r})
        assert trace.get_tracer_provider() is provider

        @loupe.observe
        def handler():
            return "ok"

        with trace.get_tracer("app").start_as_current_span("app-root"):
            handler()
        print(json.dumps(sorted(s.name for s in memory.get_finished_spans())))
        """
    )
    # atexit flushes the spans: no explicit flush or shutdown in the script.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["app-root", "handler"]
    names = {s.name for s in collector.wait_for(lambda spans: len(spans) >= 2)}
    assert names == {"app-root", "handler"}


def test_init_twice_replaces_the_first_setup(collector: CaptureCollector) -> None:
    loupe.init(endpoint=f"http://127.0.0.1:{free_port()}", export_timeout=0.5)
    loupe.init(endpoint=collector.endpoint)
    try:
        work(1)
        assert len(flushed(collector)) == 2
    finally:
        loupe.shutdown()
