"""The one scenario every instrumentation client runs, and what it prints for the test to check.

A client script sets up its library, builds `Hooks` for the library's way of setting session, user,
prompt and tool spans, and calls `run()`. Each user message starts with a marker (`[chat]`,
`[stream]`…) so the test can find the span of each call by its normalised input. The last stdout
line is `MANIFEST <json>`: what the client sent and what the model answered, which the test compares
with what arrived at the collector (an exporter that failed would still exit 0).

Environment: LOUPE_TEST_OTLP_ENDPOINT (base URL of the collector, no path), LOUPE_TEST_API_KEY,
LOUPE_TEST_MODEL_URL (the LocalModel base URL, ending in /v1).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ENDPOINT = os.environ.get("LOUPE_TEST_OTLP_ENDPOINT", "http://127.0.0.1:4318").rstrip("/")
API_KEY = os.environ.get("LOUPE_TEST_API_KEY", "test-key")
MODEL_URL = os.environ.get("LOUPE_TEST_MODEL_URL", "http://127.0.0.1:8011/v1")

SESSION_ID, USER_ID = "sess-7f3a", "user-42"
PROMPT_NAME, PROMPT_VERSION = "support-answer", 3
TEMPLATE = "Answer the customer's question about {topic}."
VARIABLES = {"topic": "caching"}
# Long enough (> LocalModel's cache threshold in the tests) that the model reports cached tokens.
SYSTEM = TEMPLATE.format(**VARIABLES) + " " + " ".join(
    f"Policy {i}: be accurate, cite the documentation, never invent numbers, keep answers short." for i in range(14)
)
MODEL, EMBED_MODEL = "gpt-4o-mini", "text-embedding-3-small"
REASONING_MODEL = "o4-mini"  # the streamed call: the local model reports reasoning tokens for it
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_RESULT = "18 degrees and sunny"


class ToolSpan:
    def set_result(self, result: str) -> None:
        pass


@dataclass
class Hooks:
    """How one library expresses the scenario's context. Defaults do nothing."""

    session: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    tool_span: Callable[[str, str, dict[str, Any]], contextlib.AbstractContextManager[ToolSpan]] = (
        lambda name, call_id, args: contextlib.nullcontext(ToolSpan())
    )
    kwargs: Callable[[str], dict[str, Any]] = lambda call: {}
    flush: Callable[[], None] = lambda: None
    skip: set[str] = field(default_factory=set)  # calls the library cannot trace


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    data = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage)
    details_in = data.get("prompt_tokens_details") or data.get("input_tokens_details") or {}
    details_out = data.get("completion_tokens_details") or data.get("output_tokens_details") or {}
    return {
        "input": data.get("prompt_tokens", data.get("input_tokens", 0)),
        "output": data.get("completion_tokens", data.get("output_tokens", 0)),
        "total": data.get("total_tokens", 0),
        "cached": details_in.get("cached_tokens") or 0,
        "reasoning": details_out.get("reasoning_tokens") or 0,
    }


def run(client: Any, hooks: Hooks) -> dict[str, Any]:
    """Run every call; returns (and prints) the manifest."""
    calls: dict[str, Any] = {}
    with hooks.session():
        _chat(client, hooks, calls)
        _stream(client, hooks, calls)
        _tool(client, hooks, calls)
        _embed(client, hooks, calls)
        if "responses" not in hooks.skip:
            _responses(client, hooks, calls)
    hooks.flush()
    manifest = {"session_id": SESSION_ID, "user_id": USER_ID, "prompt_name": PROMPT_NAME,
                "prompt_version": str(PROMPT_VERSION), "prompt_template": TEMPLATE, "variables": VARIABLES,
                "system": SYSTEM, "model": MODEL, "embed_model": EMBED_MODEL, "calls": calls}
    print("MANIFEST " + json.dumps(manifest), flush=True)
    return manifest


def _record(response: Any, marker: str, stream: bool = False) -> dict[str, Any]:
    choice = response.choices[0]
    calls = [{"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)}
             for c in choice.message.tool_calls or []]
    return {"marker": marker, "request_model": MODEL, "response_model": response.model,
            "usage": _usage(response.usage), "stream": stream,
            "output": choice.message.content, "finish_reason": choice.finish_reason, "tool_calls": calls}


def _messages(marker: str, question: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{marker} {question}"}]


def _chat(client: Any, hooks: Hooks, calls: dict[str, Any]) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=_messages("[chat]", "How should I cache API responses?"),
        temperature=0.2, max_tokens=200, **hooks.kwargs("chat"))
    calls["chat"] = _record(response, "[chat]") | {"user": "[chat] How should I cache API responses?",
                                                   "parameters": {"temperature": 0.2, "max_tokens": 200}}


def _stream(client: Any, hooks: Hooks, calls: dict[str, Any]) -> None:
    started = time.monotonic()
    stream = client.chat.completions.create(
        model=REASONING_MODEL, messages=_messages("[stream]", "Explain cache invalidation briefly."),
        stream=True, stream_options={"include_usage": True}, **hooks.kwargs("stream"))
    text, usage, model, finish = [], None, "", ""
    for chunk in stream:
        model = chunk.model or model
        usage = chunk.usage or usage
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
            time.sleep(0.002)  # a stream takes time: TTFT must come out smaller than the duration
    calls["stream"] = {"marker": "[stream]", "request_model": REASONING_MODEL, "response_model": model,
                       "usage": _usage(usage), "stream": True,
                       "output": "".join(text), "finish_reason": finish, "tool_calls": [],
                       "elapsed_ms": (time.monotonic() - started) * 1000}


def _tool(client: Any, hooks: Hooks, calls: dict[str, Any]) -> None:
    question = "[tool] What is the weather in Paris today?"
    first = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], tools=[WEATHER_TOOL],
        **hooks.kwargs("tool"))
    calls["tool"] = _record(first, "[tool]")
    call = first.choices[0].message.tool_calls[0]
    args = json.loads(call.function.arguments)
    with hooks.tool_span(call.function.name, call.id, args) as span:
        span.set_result(TOOL_RESULT)
    calls["tool_exec"] = {"name": call.function.name, "id": call.id, "arguments": args, "result": TOOL_RESULT}
    followup = [{"role": "user", "content": question},
                {"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
                {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT}]
    second = client.chat.completions.create(model=MODEL, messages=followup, tools=[WEATHER_TOOL],
                                            **hooks.kwargs("tool_answer"))
    calls["tool_answer"] = _record(second, "[tool]")


def _embed(client: Any, hooks: Hooks, calls: dict[str, Any]) -> None:
    texts = ["[embed] caching strategies", "[embed] cache invalidation"]
    response = client.embeddings.create(model=EMBED_MODEL, input=texts, **hooks.kwargs("embed"))
    calls["embed"] = {"marker": "[embed]", "request_model": EMBED_MODEL, "response_model": response.model,
                      "texts": texts,
                      "usage": {"input": response.usage.prompt_tokens, "total": response.usage.total_tokens}}


def _responses(client: Any, hooks: Hooks, calls: dict[str, Any]) -> None:
    response = client.responses.create(model=MODEL, instructions="Be concise.",
                                       input="[responses] Summarise cache-aside in one line.",
                                       **hooks.kwargs("responses"))
    calls["responses"] = {"marker": "[responses]", "request_model": MODEL, "response_model": response.model,
                          "output": response.output_text,
                          "usage": _usage(response.usage), "instructions": "Be concise."}
