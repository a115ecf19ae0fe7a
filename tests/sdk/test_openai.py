"""The openai integration against the local OpenAI-compatible model: real client, real HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator

import openai
import pytest

import loupe
from tests.sdk.conftest import CaptureCollector, flushed

SYSTEM = "You are a concise assistant for an online shop. Answer in one short paragraph."
QUESTION = "How do refunds work for orders that were shipped more than two weeks ago?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def traced(sdk: CaptureCollector) -> Iterator[CaptureCollector]:
    assert loupe.instrument_openai()
    yield sdk
    loupe.uninstrument_openai()


@pytest.fixture
def client(local_model: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=local_model, api_key="sk-test", max_retries=0)


@pytest.fixture
def aclient(local_model: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=local_model, api_key="sk-test", max_retries=0)


def messages() -> list[dict]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


def test_chat_completion(traced: CaptureCollector, client: openai.OpenAI) -> None:
    @loupe.observe
    def answer() -> str:
        with loupe.prompt("refunds", version="7", template="{q}", variables={"q": QUESTION}):
            r = client.chat.completions.create(
                model="gpt-4o-mini", messages=messages(), temperature=0.3, max_tokens=300
            )
        return r.choices[0].message.content or ""

    with loupe.context(session_id="sess-1", user_id="user-1"):
        text = answer()
    spans = flushed(traced)
    llm = next(s for s in spans if s.name == "chat gpt-4o-mini")
    root = next(s for s in spans if s.name.endswith("answer"))
    a = llm.attributes
    assert llm.parent_span_id == root.span_id and llm.kind == 3
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["openai.api.type"] == "chat_completions"
    assert a["gen_ai.request.model"] == "gpt-4o-mini" and a["gen_ai.response.model"] == "gpt-4o-mini-2025-01-01"
    assert a["gen_ai.request.temperature"] == 0.3 and a["gen_ai.request.max_tokens"] == 300
    assert a["gen_ai.request.stream"] is False
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.usage.cache_read.input_tokens"] > 0
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["gen_ai.response.id"].startswith("chatcmpl-")
    assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)
    assert llm.json("gen_ai.system_instructions") == [{"type": "text", "content": SYSTEM}]
    assert llm.json("gen_ai.input.messages") == [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]
    assert llm.json("gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
    ]
    assert a["session.id"] == "sess-1" and a["user.id"] == "user-1"
    assert a["gen_ai.prompt.name"] == "refunds" and a["loupe.prompt.version"] == "7"


def test_streaming_chat_ttft_usage_and_transparent_chunks(
    traced: CaptureCollector, client: openai.OpenAI, local_model: str
) -> None:
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages(), stream=True))
    # The SDK asked for usage, and hid the extra usage-only chunk from the app.
    assert all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    a = flushed(traced)[0].attributes
    assert a["gen_ai.request.stream"] is True
    assert 0 < a["gen_ai.response.time_to_first_chunk"] < 5
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    out = json.loads(a["gen_ai.output.messages"])
    assert out == [{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}]


def test_streaming_with_callers_stream_options_is_untouched(traced: CaptureCollector, client: openai.OpenAI) -> None:
    with client.chat.completions.create(
        model="gpt-4o-mini", messages=messages(), stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None  # the app asked for it: it gets it
    assert flushed(traced)[0].attributes["gen_ai.usage.output_tokens"] == chunks[-1].usage.completion_tokens


def test_stream_usage_can_be_left_to_the_app(traced: CaptureCollector, client: openai.OpenAI) -> None:
    loupe.instrument_openai(stream_usage=False)
    try:
        list(client.chat.completions.create(model="gpt-4o-mini", messages=messages(), stream=True))
    finally:
        loupe.instrument_openai(stream_usage=True)
    a = flushed(traced)[0].attributes
    assert "gen_ai.usage.input_tokens" not in a and "gen_ai.response.time_to_first_chunk" in a


def test_tool_calls_plain_and_streamed(traced: CaptureCollector, client: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "What is the weather in Paris right now?"}]
    r = client.chat.completions.create(model="gpt-4o-mini", messages=ask, tools=[WEATHER_TOOL])
    call = r.choices[0].message.tool_calls[0]
    list(client.chat.completions.create(model="gpt-4o-mini", messages=ask, tools=[WEATHER_TOOL], stream=True))
    follow_up = [
        *ask,
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
    ]
    client.chat.completions.create(model="gpt-4o-mini", messages=follow_up, tools=[WEATHER_TOOL])
    plain, streamed, final = flushed(traced)
    for span in (plain, streamed):
        assert span.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
        (message,) = span.json("gen_ai.output.messages")
        assert message["finish_reason"] == "tool_calls"
        assert message["parts"] == [
            {
                "type": "tool_call",
                "id": call.id,
                "name": "get_weather",
                "arguments": json.loads(call.function.arguments),
            }
        ]
    assert plain.json("gen_ai.tool.definitions")[0]["function"]["name"] == "get_weather"
    history = final.json("gen_ai.input.messages")
    assert history[1]["parts"][0]["type"] == "tool_call"
    assert history[2] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call.id, "response": '{"temp_c": 18}'}],
    }


def test_embeddings(traced: CaptureCollector, client: openai.OpenAI, aclient: openai.AsyncOpenAI) -> None:
    r = client.embeddings.create(model="text-embedding-3-small", input=["refund policy", "shipping times"])
    assert len(r.data) == 2
    asyncio.run(aclient.embeddings.create(model="text-embedding-3-small", input="async one"))
    sync_span, async_span = flushed(traced)
    a = sync_span.attributes
    assert sync_span.name == "embeddings text-embedding-3-small"
    assert a["gen_ai.operation.name"] == "embeddings" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "text-embedding-3-small"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.embeddings.dimension.count"] == 64
    assert json.loads(a["loupe.input"]) == ["refund policy", "shipping times"]
    assert async_span.attributes["gen_ai.operation.name"] == "embeddings"


def test_responses_api_plain_and_streamed(traced: CaptureCollector, client: openai.OpenAI) -> None:
    r = client.responses.create(model="o4-mini", instructions=SYSTEM, input=QUESTION, max_output_tokens=500)
    events = list(
        client.responses.create(model="gpt-4o-mini", input=[{"role": "user", "content": QUESTION}], stream=True)
    )
    assert events[-1].type == "response.completed"
    plain, streamed = flushed(traced)
    a = plain.attributes
    assert plain.name == "chat o4-mini" and a["openai.api.type"] == "responses"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.max_tokens"] == 500
    assert a["gen_ai.usage.reasoning.output_tokens"] > 0 and a["gen_ai.usage.cache_read.input_tokens"] > 0
    assert a["gen_ai.response.model"] == "o4-mini-2025-01-01" and a["gen_ai.response.id"] == r.id
    assert plain.json("gen_ai.system_instructions") == [{"type": "text", "content": SYSTEM}]
    assert plain.json("gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": r.output_text}], "finish_reason": "stop"}
    ]
    s = streamed.attributes
    assert s["gen_ai.request.stream"] is True and s["gen_ai.response.time_to_first_chunk"] > 0
    assert s["gen_ai.usage.output_tokens"] > 0
    assert streamed.json("gen_ai.output.messages")[0]["parts"][0]["content"] == events[-1].response.output_text


def test_responses_tool_call(traced: CaptureCollector, client: openai.OpenAI) -> None:
    tool = {"type": "function", **WEATHER_TOOL["function"]}
    r = client.responses.create(model="gpt-4o-mini", input="What is the weather in Paris?", tools=[tool])
    (message,) = flushed(traced)[0].json("gen_ai.output.messages")
    assert message["finish_reason"] == "tool_calls"
    assert message["parts"][0]["name"] == "get_weather" and message["parts"][0]["id"] == r.output[0].call_id


def test_async_chat_and_stream(traced: CaptureCollector, aclient: openai.AsyncOpenAI) -> None:
    async def main() -> str:
        r = await aclient.chat.completions.create(model="gpt-4o", messages=messages())
        stream = await aclient.chat.completions.create(model="gpt-4o", messages=messages(), stream=True)
        async with stream:
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert text == r.choices[0].message.content
        return text

    text = asyncio.run(main())
    plain, streamed = flushed(traced)
    assert plain.name == streamed.name == "chat gpt-4o"
    assert streamed.attributes["gen_ai.usage.output_tokens"] == plain.attributes["gen_ai.usage.output_tokens"]
    assert streamed.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert streamed.json("gen_ai.output.messages")[0]["parts"][0]["content"] == text


def test_api_error_is_recorded_and_reaches_the_app(traced: CaptureCollector) -> None:
    from judges.local_model import Faults, LocalModel

    with LocalModel(faults=Faults(rate_limit_every=1, retry_after_s=0)) as url:
        failing = openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            failing.chat.completions.create(model="gpt-4o-mini", messages=messages())
    span = flushed(traced)[0]
    assert span.status_code == 2
    assert span.attributes["error.type"].endswith("RateLimitError")
    assert span.attributes["http.response.status_code"] == 429
    assert span.events[0][0] == "exception"


def test_uninstrument_restores_the_client(sdk: CaptureCollector, client: openai.OpenAI) -> None:
    from openai.resources.chat.completions import Completions

    original = Completions.create
    loupe.instrument_openai()
    assert Completions.create is not original
    loupe.instrument_openai()  # idempotent
    loupe.uninstrument_openai()
    assert Completions.create is original
    client.chat.completions.create(model="gpt-4o-mini", messages=messages())
    assert flushed(sdk) == []


def test_stream_closed_early_or_abandoned_still_ends_its_span(traced: CaptureCollector, client: openai.OpenAI) -> None:
    import gc

    with client.chat.completions.create(model="gpt-4o-mini", messages=messages(), stream=True) as stream:
        head = list(itertools.islice(stream, 3))  # the role chunk, then two pieces of text
    assert head[2].choices[0].delta.content
    abandoned = client.chat.completions.create(model="gpt-4o-mini", messages=messages(), stream=True)
    list(itertools.islice(abandoned, 3))
    del abandoned
    gc.collect()
    spans = flushed(traced)
    assert len(spans) == 2
    assert all(s.attributes["gen_ai.response.time_to_first_chunk"] >= 0 for s in spans)
