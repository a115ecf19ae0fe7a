"""The tracing API end to end: decorators, span helpers, prompts, feedback — as received over OTLP."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

import loupe
from tests.sdk.conftest import CaptureCollector, flushed

ERROR = 2


def test_resource_and_auth_header(sdk: CaptureCollector) -> None:
    with loupe.span("root"):
        pass
    span = flushed(sdk)[0]
    assert span.resource["service.name"] == "sdk-tests"
    assert span.resource["deployment.environment.name"] == "test"
    assert span.resource["loupe.release"] == "r-test"
    assert span.resource["service.version"] == "r-test"
    assert span.scope == "loupe"
    assert sdk.requests[0]["authorization"] == f"Bearer {sdk.api_key}"
    assert sdk.requests[0]["content-encoding"] == "gzip"


def test_observe_sync_records_bound_input_and_output(sdk: CaptureCollector) -> None:
    class Shop:
        @loupe.observe(name="price")
        def price(self, item: str, qty: int = 1, *extra: str, **opts: object) -> dict:
            return {"item": item, "total": 2.5 * qty}

    @loupe.observe
    def checkout(item: str) -> str:
        return f"paid {Shop().price(item, 2, 'gift', coupon='X')['total']}"

    assert checkout("tea") == "paid 5.0"
    spans = {s.name: s for s in flushed(sdk)}
    root, child = spans["test_observe_sync_records_bound_input_and_output.<locals>.checkout"], spans["price"]
    assert child.parent_span_id == root.span_id and child.trace_id == root.trace_id
    assert root.attributes["loupe.span.kind"] == "chain"
    assert root.json("loupe.input") == {"item": "tea"}
    assert root.attributes["loupe.output"] == "paid 5.0"  # strings stay plain text
    assert child.json("loupe.input") == {"item": "tea", "qty": 2, "extra": ["gift"], "coupon": "X"}
    assert child.json("loupe.output") == {"item": "tea", "total": 5.0}


def test_observe_exception_is_recorded_and_reraised(sdk: CaptureCollector) -> None:
    @loupe.observe(kind="tool")
    def fail(x: int) -> int:
        raise ValueError(f"bad {x}")

    with pytest.raises(ValueError, match="bad 3"):
        fail(3)
    span = flushed(sdk)[0]
    assert span.status_code == ERROR and "bad 3" in span.status_message
    assert span.attributes["error.type"] == "builtins.ValueError"
    assert span.events[0][0] == "exception"
    assert span.events[0][1]["exception.type"] == "ValueError"


def test_observe_async_and_generators(sdk: CaptureCollector) -> None:
    @loupe.observe(kind="llm")
    async def ask(q: str) -> str:
        await asyncio.sleep(0)
        return q.upper()

    @loupe.observe(kind="retriever")
    def chunks(n: int):
        for i in range(n):
            with loupe.span(f"inner-{i}"):
                pass
            yield f"c{i} "
        return "done"

    @loupe.observe
    async def stream(n: int):
        for i in range(n):
            await asyncio.sleep(0)
            yield {"i": i}

    @loupe.observe
    async def agen_fails():
        yield 1
        raise RuntimeError("mid-stream")

    async def main() -> None:
        assert await ask("hi") == "HI"
        assert [x async for x in stream(3)] == [{"i": 0}, {"i": 1}, {"i": 2}]
        with pytest.raises(RuntimeError, match="mid-stream"):
            async for _ in agen_fails():
                pass

    asyncio.run(main())
    assert list(chunks(2)) == ["c0 ", "c1 "]
    spans = {s.name.rsplit(".", 1)[-1]: s for s in flushed(sdk)}
    assert spans["ask"].attributes["gen_ai.operation.name"] == "chat"
    assert spans["ask"].kind == 3  # CLIENT, as the conventions want for model calls
    assert spans["ask"].attributes["loupe.output"] == "HI"
    assert spans["chunks"].attributes["gen_ai.operation.name"] == "retrieval"
    assert spans["chunks"].attributes["loupe.output"] == "c0 c1 "  # collected string yields
    # Spans started inside the generator body are its children, not the consumer's.
    assert spans["inner-0"].parent_span_id == spans["chunks"].span_id
    assert spans["inner-1"].parent_span_id == spans["chunks"].span_id
    assert spans["stream"].json("loupe.output") == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert spans["agen_fails"].status_code == ERROR
    assert spans["agen_fails"].json("loupe.input") == {}


def test_generator_closed_early_ends_its_span(sdk: CaptureCollector) -> None:
    @loupe.observe
    def numbers():
        yield from range(100)

    for n in numbers():
        if n == 2:
            break
    span = flushed(sdk)[0]
    assert span.json("loupe.output") == [0, 1, 2]
    assert span.status_code != ERROR


def test_decorated_functions_keep_their_nature() -> None:
    import inspect

    async def coro() -> None: ...

    async def agen():
        yield 1

    def gen():
        yield 1

    assert inspect.iscoroutinefunction(loupe.observe(coro))
    assert inspect.isasyncgenfunction(loupe.observe(agen))
    assert inspect.isgeneratorfunction(loupe.observe(gen))
    assert inspect.signature(loupe.observe(coro)) == inspect.signature(coro)


def test_span_helpers(sdk: CaptureCollector) -> None:
    with loupe.span("agent", kind="agent") as agent:
        agent.set_agent(name="support", id="a-1")
        with loupe.span("search", kind="retriever") as r:
            r.set_retrieval(
                query="refund policy",
                documents=[
                    {"id": "d1", "content": "Refunds within 30 days.", "score": 0.9, "metadata": {"src": "kb"}},
                    "a bare string document",
                ],
            )
        with loupe.span("lookup", kind="tool") as t:
            t.set_tool(name="get_order", arguments={"id": 7}, result={"status": "shipped"}, call_id="call_1")
        with loupe.span("chat gpt-4o-mini", kind="llm") as llm:
            llm.set_llm(
                provider="openai",
                request_model="gpt-4o-mini",
                response_model="gpt-4o-mini-2024-07-18",
                input_messages=[
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Where is order 7?"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_order", "arguments": '{"id": 7}'},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
                ],
                output_messages=[{"role": "assistant", "content": "Shipped."}],
                input_tokens=120,
                output_tokens=3,
                cached_input_tokens=64,
                reasoning_tokens=0,
                temperature=0.2,
                max_tokens=256,
                finish_reasons=["stop"],
                ttft_s=0.15,
                stream=True,
            )
        agent.set_input("Where is order 7?")
        agent.set_output({"answer": "Shipped."})
        agent.set_attribute("custom.list", ["a", "b"])
        agent.set_attribute("custom.obj", {"k": 1})
        agent.set_metadata({"team": "care", "cfg": {"x": 1}})
        agent.add_tags("beta", "vip")
    spans = {s.name: s for s in flushed(sdk)}

    a = spans["agent"].attributes
    assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "support"
    assert a["gen_ai.agent.id"] == "a-1" and "loupe.span.kind" not in a
    assert a["loupe.input"] == "Where is order 7?" and json.loads(a["loupe.output"]) == {"answer": "Shipped."}
    assert a["custom.list"] == ["a", "b"] and json.loads(a["custom.obj"]) == {"k": 1}
    assert a["loupe.metadata.team"] == "care" and json.loads(a["loupe.metadata.cfg"]) == {"x": 1}
    assert a["loupe.tags"] == ["beta", "vip"]

    r = spans["search"]
    assert r.attributes["gen_ai.operation.name"] == "retrieval"
    assert r.attributes["gen_ai.retrieval.query.text"] == "refund policy"
    assert r.json("gen_ai.retrieval.documents") == [
        {"id": "d1", "score": 0.9, "content": "Refunds within 30 days.", "metadata": {"src": "kb"}},
        {"content": "a bare string document"},
    ]

    t = spans["lookup"].attributes
    assert t["gen_ai.operation.name"] == "execute_tool" and t["gen_ai.tool.name"] == "get_order"
    assert t["gen_ai.tool.call.id"] == "call_1"
    assert json.loads(t["gen_ai.tool.call.arguments"]) == {"id": 7}
    assert json.loads(t["gen_ai.tool.call.result"]) == {"status": "shipped"}

    llm = spans["chat gpt-4o-mini"]
    la = llm.attributes
    assert llm.kind == 3
    assert la["gen_ai.operation.name"] == "chat" and la["gen_ai.provider.name"] == "openai"
    assert la["gen_ai.request.model"] == "gpt-4o-mini" and la["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert la["gen_ai.usage.input_tokens"] == 120 and la["gen_ai.usage.output_tokens"] == 3
    assert la["gen_ai.usage.cache_read.input_tokens"] == 64 and la["gen_ai.usage.reasoning.output_tokens"] == 0
    assert la["gen_ai.request.temperature"] == 0.2 and la["gen_ai.request.max_tokens"] == 256
    assert la["gen_ai.request.stream"] is True
    assert la["gen_ai.response.finish_reasons"] == ["stop"]
    assert la["gen_ai.response.time_to_first_chunk"] == 0.15
    assert llm.json("gen_ai.system_instructions") == [{"type": "text", "content": "You are terse."}]
    assert llm.json("gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is order 7?"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "get_order", "arguments": {"id": 7}}],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": '{"status": "shipped"}'}],
        },
    ]
    assert llm.json("gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Shipped."}], "finish_reason": "stop"}
    ]


def test_set_llm_on_a_default_span_makes_it_an_llm_span(sdk: CaptureCollector) -> None:
    with loupe.prompt("summary", version=2, template="Sum {text}", variables={"text": "x"}):
        with loupe.span("call model") as s:
            s.set_llm(request_model="m", input_messages="hello", output_messages="hi")
    a = flushed(sdk)[0].attributes
    assert a["gen_ai.operation.name"] == "chat" and "loupe.span.kind" not in a
    assert a["gen_ai.prompt.name"] == "summary"  # stamped late, when the span became a model call
    assert json.loads(a["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]


@pytest.mark.parametrize("kind", ["chain", "guardrail", "reranker", "evaluator", "other"])
def test_kinds_without_gen_ai_operation(sdk: CaptureCollector, kind: str) -> None:
    with loupe.span("step", kind=kind):
        pass
    a = flushed(sdk)[0].attributes
    assert a["loupe.span.kind"] == kind and "gen_ai.operation.name" not in a


def test_prompt_version_on_llm_spans_only(sdk: CaptureCollector) -> None:
    p = loupe.prompt("answer", version=3, template="Answer {{question}} for {{ user }}", variables={"question": "why"})
    assert p.format(user="ann") == "Answer why for ann"
    assert p.format() == "Answer why for {{ user }}"  # unknown placeholders stay
    assert loupe.prompt("x", template="{a} and {b} {not json}", variables={"a": 1}).format() == "1 and {b} {not json}"
    with p:
        with loupe.span("retrieve", kind="retriever"):
            pass
        with loupe.span("chat", kind="llm"):
            pass
    with loupe.span("after", kind="llm"):
        pass
    spans = {s.name: s.attributes for s in flushed(sdk)}
    assert spans["chat"]["gen_ai.prompt.name"] == "answer"
    assert spans["chat"]["loupe.prompt.version"] == "3"
    assert spans["chat"]["loupe.prompt.template"] == "Answer {{question}} for {{ user }}"
    assert json.loads(spans["chat"]["loupe.prompt.variables"]) == {"question": "why"}
    assert "gen_ai.prompt.name" not in spans["retrieve"]
    assert "gen_ai.prompt.name" not in spans["after"]


def test_arbitrary_objects_are_encoded_safely_and_bounded(collector: CaptureCollector) -> None:
    loupe.init(endpoint=collector.endpoint, max_content_chars=1000)

    class Opaque:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    cyclic: list = [1]
    cyclic.append(cyclic)

    @loupe.observe
    def handle(blob: bytes, p: Point, o: Opaque, c: list, big: str, nan: float) -> set:
        return {1}

    try:
        assert handle(b"\x00" * 10, Point(1, 2.0), Opaque(), cyclic, "x" * 50_000, float("nan")) == {1}
        span = flushed(collector)[0]
    finally:
        loupe.shutdown()
    inp = span.json("loupe.input")
    assert inp["blob"] == "<bytes: 10 bytes>" and inp["p"] == {"x": 1, "y": 2.0}
    assert inp["o"] == "<unrepresentable Opaque>" and inp["c"] == [1, "<cycle>"] and inp["nan"] == "nan"
    assert "truncated" in inp["big"] and len(span.attributes["loupe.input"]) < 2000
    assert span.json("loupe.output") == [1]


def test_capture_content_off_and_redaction(collector: CaptureCollector) -> None:
    loupe.init(endpoint=collector.endpoint, capture_content=False)
    try:
        with loupe.span("llm", kind="llm") as s:
            s.set_llm(request_model="m", input_messages="secret", output_messages="secret", input_tokens=1)
            s.set_input("secret")
        attrs = flushed(collector)[0].attributes
    finally:
        loupe.shutdown()
    assert attrs["gen_ai.usage.input_tokens"] == 1 and attrs["gen_ai.request.model"] == "m"
    assert not any("secret" in str(v) for v in attrs.values())

    collector.clear()
    loupe.init(endpoint=collector.endpoint, redact=lambda text: text.replace("4111-1111", "[CARD]"))
    try:

        @loupe.observe
        def pay(card: str) -> dict:
            return {"ok": True, "card": card}

        pay("4111-1111")
        attrs = flushed(collector)[0].attributes
    finally:
        loupe.shutdown()
    assert json.loads(attrs["loupe.input"]) == {"card": "[CARD]"}
    assert json.loads(attrs["loupe.output"]) == {"ok": True, "card": "[CARD]"}


def test_feedback_and_current_trace_id(sdk: CaptureCollector) -> None:
    assert loupe.current_trace_id() is None
    with loupe.span("answer") as s:
        trace_id = loupe.current_trace_id()
        assert trace_id == s.trace_id and len(trace_id) == 32
        assert loupe.feedback(name="thumbs", value=1, comment="great", user_id="u-9")
    assert loupe.feedback(trace_id=trace_id, name="rating", value=0.5)
    assert loupe.flush()
    bodies = sorted((s["body"] for s in sdk.scores), key=lambda b: b["name"])
    assert bodies[0] == {
        "target_type": "trace",
        "target_id": trace_id,
        "name": "rating",
        "value": 0.5,
        "source": "user_feedback",
    }
    assert bodies[1]["name"] == "thumbs" and bodies[1]["author"] == "u-9" and bodies[1]["comment"] == "great"
    assert sdk.scores[0]["headers"]["authorization"] == f"Bearer {sdk.api_key}"
    assert loupe.stats().feedback_sent == 2
