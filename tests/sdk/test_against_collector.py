"""The SDK against a real `loupe serve` on 127.0.0.1: every API, read back through the read API.

The other SDK tests check the wire (attributes) against a capture server; these check that what the SDK
sends lands in the canonical columns a user sees. One collector subprocess serves the whole module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import loupe
from judges.local_model import Faults, LocalModel
from tests.conftest import ServeProcess, free_port, spawn_serve, stop_serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]
MODEL = "gpt-4o-mini-2024-07-18"  # a dated snapshot: the price table knows it
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


class Collector:
    def __init__(self, serve: ServeProcess) -> None:
        self.url = serve.url
        with serve.client() as admin:
            make = lambda name, scopes: admin.post("/api/keys", json={"name": name, "scopes": scopes}).json()["secret"]  # noqa: E731
            self.ingest_key, read_key = make("sdk-app", ["ingest"]), make("reader", ["read"])
        self.api = httpx.Client(base_url=serve.url, headers={"Authorization": f"Bearer {read_key}"}, timeout=30)

    def trace(self, trace_id: str, spans: int = 1, scores: int = 0, timeout: float = 20) -> dict[str, Any]:
        """The trace view once `spans` spans and `scores` scores of it have been stored."""
        assert loupe.flush(timeout=10)
        deadline = time.monotonic() + timeout
        while True:
            r = self.api.get(f"/api/traces/{trace_id}")
            if r.status_code == 200:
                body = r.json()
                if len(body["spans"]) >= spans and len(body["scores"]) >= scores:
                    return body
            if time.monotonic() > deadline:
                raise AssertionError(f"trace {trace_id} incomplete: {r.status_code} {r.text[:500]}")
            time.sleep(0.1)

    def traces(self, **params: Any) -> list[dict[str, Any]]:
        return self.api.get("/api/traces", params={"limit": 100, **params}).json()["data"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    serve = spawn_serve(Path(tmp_path_factory.mktemp("sdk-e2e")))
    c = Collector(serve)
    yield c
    c.api.close()
    stop_serve(serve)


@pytest.fixture
def app(collector: Collector) -> Iterator[Collector]:
    loupe.init(endpoint=collector.url, api_key=collector.ingest_key, service="sdk-e2e", environment="e2e",
               release="r-42", export_timeout=5)
    yield collector
    loupe.shutdown(timeout=5)


def by_name(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Spans by name; `@observe` names spans after the function's qualified name, so by its last part."""
    return {s["name"].rsplit(".", 1)[-1]: s for s in trace["spans"]}


def test_init_settings_and_observe_on_every_kind_of_function(collector: Collector,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_SERVICE", "from-env")  # the environment fills what init() leaves out
    loupe.init(endpoint=collector.url, api_key=collector.ingest_key, environment="e2e", release="r-42")

    @loupe.observe
    def double(x: int) -> dict[str, int]:
        return {"doubled": 2 * x}

    @loupe.observe(kind="tool", name="weather")
    async def weather(city: str) -> str:
        await asyncio.sleep(0)
        return f"sunny in {city}"

    @loupe.observe
    def count(n: int) -> Any:
        yield from range(n)

    @loupe.observe
    async def letters() -> Any:
        for c in "ab":
            yield c

    @loupe.observe(kind="retriever")
    def fails() -> None:
        raise ValueError("index offline")

    async def consume() -> list[str]:
        return [c async for c in letters()]

    @loupe.observe(kind="agent", name="run")
    def run() -> str:
        double(21)
        asyncio.run(weather("Oslo"))
        list(count(3))
        asyncio.run(consume())
        with pytest.raises(ValueError):
            fails()
        return "done"

    try:
        with loupe.span("root") as root:
            assert run() == "done"
        spans = by_name(collector.trace(root.trace_id, spans=7))
    finally:
        loupe.shutdown()
    assert {s["service_name"] for s in spans.values()} == {"from-env"}
    assert spans["run"]["environment"] == "e2e" and spans["run"]["release"] == "r-42"
    assert spans["run"]["kind"] == "agent" and spans["run"]["output"] == "done"
    assert spans["double"]["kind"] == "chain" and spans["double"]["input"] == {"x": 21}
    assert spans["double"]["output"] == {"doubled": 42}
    assert spans["weather"]["kind"] == "tool" and spans["weather"]["output"] == "sunny in Oslo"
    assert spans["count"]["output"] == [0, 1, 2] and spans["letters"]["output"] == "ab"
    assert spans["fails"]["kind"] == "retriever" and spans["fails"]["status"] == "error"
    assert "index offline" in spans["fails"]["status_message"]
    assert all(s["parent_span_id"] == spans["run"]["span_id"] for n, s in spans.items() if n not in ("run", "root"))
    listed = collector.traces(service="from-env", status="error")
    assert [t["trace_id"] for t in listed] == [root.trace_id] and listed[0]["span_count"] == 7


def test_span_helpers_fill_the_canonical_columns(app: Collector) -> None:
    with loupe.span("answer", kind="agent") as root:
        root.set_agent(name="support", id="agent-1")
        root.add_tags("helpers")
        root.set_metadata({"tier": "gold"})
        with loupe.span("search") as s:
            s.set_retrieval(query="refund window", data_source="kb", documents=[
                {"id": "kb-1", "content": "Refunds within 30 days.", "score": 0.91},
                {"id": "kb-2", "content": "Exchanges are free.", "score": 0.42}])
        with loupe.span("lookup_order", kind="tool") as s:
            s.set_tool(name="lookup_order", arguments={"order_id": "A-1"}, result={"status": "shipped"}, call_id="c-1")
        with loupe.span(f"chat {MODEL}", kind="llm") as s:
            s.set_llm(provider="openai", request_model="gpt-4o-mini", response_model=MODEL, temperature=0.2,
                      max_tokens=300, input_messages=[{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": "Refund window?"}],
                      output_messages=[{"role": "assistant", "content": "30 days."}], input_tokens=412,
                      output_tokens=19, cached_input_tokens=256, ttft_s=0.21, stream=True, finish_reasons=["stop"])
    spans = by_name(app.trace(root.trace_id, spans=4))
    agent, search, tool, llm = spans["answer"], spans["search"], spans["lookup_order"], spans[f"chat {MODEL}"]
    assert agent["kind"] == "agent" and agent["tags"] == ["helpers"] and agent["metadata"] == {"tier": "gold"}
    assert search["kind"] == "retriever" and search["input"] == "refund window"
    assert [(d["id"], d["score"], d["content"]) for d in search["documents"]] == [
        ("kb-1", 0.91, "Refunds within 30 days."), ("kb-2", 0.42, "Exchanges are free.")]
    assert tool["kind"] == "tool" and tool["tool_name"] == "lookup_order"
    call = tool["tool_calls"][0]
    assert (call["id"], call["name"], call["arguments"]) == ("c-1", "lookup_order", {"order_id": "A-1"})
    assert "shipped" in str(call["result"])
    assert (llm["kind"], llm["operation"], llm["provider"]) == ("llm", "chat", "openai")
    assert (llm["request_model"], llm["response_model"]) == ("gpt-4o-mini", MODEL)
    assert (llm["input_tokens"], llm["output_tokens"], llm["cached_input_tokens"], llm["total_tokens"]) == (
        412, 19, 256, 431)
    assert llm["cost_usd"] > 0 and llm["cost_source"] == "price-table"
    assert llm["ttft_ms"] == pytest.approx(210) and llm["stream"] == 1 and llm["finish_reasons"] == ["stop"]
    assert [m["role"] for m in llm["input"]] == ["system", "user"] and llm["output"][0]["content"] == "30 days."
    assert llm["model_parameters"]["temperature"] == 0.2
    trace = app.traces(tag="helpers")[0]
    assert trace["trace_id"] == root.trace_id and trace["models"] == [MODEL] and trace["llm_count"] == 1


def test_context_reaches_every_span_across_threads_and_tasks(app: Collector) -> None:
    @loupe.observe
    def in_thread(i: int) -> int:
        return i

    @loupe.observe
    async def in_task(i: int) -> int:
        await asyncio.sleep(0.001)
        return i

    async def tasks() -> None:
        await asyncio.gather(*(asyncio.create_task(in_task(i)) for i in range(3)))

    with loupe.context(session_id="sess-e2e", user_id="user-e2e", tags=["beta"], metadata={"plan": "pro"}):
        with loupe.span("request") as root:
            with loupe.ThreadPoolExecutor(max_workers=3) as pool:
                assert list(pool.map(in_thread, range(3))) == [0, 1, 2]
            asyncio.run(tasks())
    trace = app.trace(root.trace_id, spans=7)
    assert trace["session_id"] == "sess-e2e" and trace["user_id"] == "user-e2e" and trace["tags"] == ["beta"]
    for s in trace["spans"]:
        assert (s["session_id"], s["user_id"], s["tags"], s["metadata"]) == ("sess-e2e", "user-e2e", ["beta"],
                                                                             {"plan": "pro"}), s["name"]
    for query in ({"session_id": "sess-e2e"}, {"user_id": "user-e2e"}, {"tag": "beta"}):
        assert [t["trace_id"] for t in app.traces(**query)] == [root.trace_id]


def test_prompt_versions_tag_the_model_calls_made_with_them(app: Collector) -> None:
    ids = {}
    for version in ("1", "2"):
        with loupe.span("answer") as root:
            p = loupe.prompt("faq", version=version, template="Q: {{q}}", variables={"q": "hours?"})
            with p, loupe.span("chat", kind="llm") as s:
                s.set_llm(request_model=MODEL, input_messages=p.format(), output_messages="9 to 5.",
                          input_tokens=5, output_tokens=3)
        ids[version] = root.trace_id
    llm = by_name(app.trace(ids["2"], spans=2))["chat"]
    assert (llm["prompt_name"], llm["prompt_version"], llm["prompt_template"]) == ("faq", "2", "Q: {{q}}")
    assert llm["prompt_variables"] == {"q": "hours?"} and llm["input"][0]["content"] == "Q: hours?"
    app.trace(ids["1"], spans=2)
    for version, trace_id in ids.items():
        assert [t["trace_id"] for t in app.traces(prompt_name="faq", prompt_version=version)] == [trace_id]


def test_openai_integration_against_the_local_model(app: Collector, local_model: str) -> None:
    assert loupe.instrument_openai()
    client = openai.OpenAI(base_url=local_model, api_key="sk-test", max_retries=0)
    aclient = openai.AsyncOpenAI(base_url=local_model, api_key="sk-test", max_retries=0)
    question = [{"role": "user", "content": "What is the weather in Paris today?"}]
    try:
        with loupe.span("turn") as root:
            called = client.chat.completions.create(model=MODEL, messages=question, tools=[WEATHER])
            assert called.choices[0].message.tool_calls
            stream = client.chat.completions.create(model=MODEL, messages=question, stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            client.embeddings.create(model="text-embedding-3-small", input=["refunds", "returns"])
            client.responses.create(model=MODEL, input="Say hi")
            asyncio.run(aclient.chat.completions.create(model=MODEL, messages=question))
            with LocalModel(faults=Faults(error_every=1, error_status=400)) as broken:
                with pytest.raises(openai.BadRequestError):
                    openai.OpenAI(base_url=broken, api_key="x", max_retries=0).chat.completions.create(
                        model=MODEL, messages=question)
        trace = app.trace(root.trace_id, spans=7)
    finally:
        loupe.uninstrument_openai()
    llm = [s for s in trace["spans"] if s["kind"] == "llm"]
    tool_call, streamed = llm[0], next(s for s in llm if s["stream"])
    assert tool_call["tool_calls"][0]["name"] == "get_weather" and tool_call["finish_reasons"] == ["tool_calls"]
    assert streamed["output"][0]["content"] == text and streamed["ttft_ms"] > 0
    assert streamed["input_tokens"] > 0 and streamed["output_tokens"] > 0 and streamed["cost_usd"] > 0
    # The SDK marks Responses calls with openai.api.type (OpenAI semconv); the collector maps it.
    (responses,) = [s for s in llm if s["operation"] == "responses"]
    assert responses["output"] and responses["output_tokens"] > 0
    (embedding,) = [s for s in trace["spans"] if s["kind"] == "embedding"]
    assert embedding["operation"] == "embeddings" and embedding["input_tokens"] > 0
    assert [s["status"] for s in llm].count("error") == 1
    assert all(s["response_model"] == MODEL for s in llm if s["status"] == "ok")


def test_feedback_before_and_after_its_trace_lands(app: Collector) -> None:
    with loupe.context(user_id="u-7"):
        with loupe.span("answer") as root:
            assert loupe.feedback(name="thumbs", value=1, comment="quick", user_id="u-7")
            assert loupe.flush()  # the score is stored while its trace is still open in the app
            assert app.api.get(f"/api/traces/{root.trace_id}").status_code == 404
    trace = app.trace(root.trace_id, spans=1, scores=1)
    assert loupe.feedback(trace_id=root.trace_id, name="rating", value=0.25, user_id="u-7")
    trace = app.trace(root.trace_id, scores=2)
    scores = {s["name"]: s for s in trace["scores"]}
    assert (scores["thumbs"]["value"], scores["thumbs"]["comment"], scores["thumbs"]["author"]) == (1, "quick", "u-7")
    assert scores["rating"]["value"] == 0.25 and scores["rating"]["comment"] == ""
    assert {s["source"] for s in scores.values()} == {"user_feedback"} and loupe.stats().feedback_failed == 0


def test_collector_down_costs_the_app_nothing(local_model: str) -> None:
    loupe.init(endpoint=f"http://127.0.0.1:{free_port()}", api_key="lp_nobody", export_timeout=1)
    assert loupe.instrument_openai()
    try:
        @loupe.observe
        def answer() -> str:
            r = openai.OpenAI(base_url=local_model, api_key="x", max_retries=0).chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}])
            return r.choices[0].message.content or ""

        began = time.monotonic()
        assert answer()
        assert loupe.feedback(trace_id="0" * 32, name="thumbs", value=1)
        assert time.monotonic() - began < 1  # nothing waited for the collector
        loupe.flush(timeout=3)
    finally:
        loupe.uninstrument_openai()
        loupe.shutdown(timeout=3)
    stats = loupe.stats()
    assert stats.exported == 0 and stats.failed >= 2 and stats.feedback_failed == 1
