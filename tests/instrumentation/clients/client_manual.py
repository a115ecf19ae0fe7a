"""Plain OpenTelemetry SDK, current GenAI semconv set by hand (plus Loupe's few `loupe.*` keys), sent as
OTLP/JSON: the target shape, and the shape Loupe's own SDK sends."""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import _scenario as s
import openai
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

_IDS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(node: Any) -> Any:
    """OTLP/JSON spells ids in hex where protobuf JSON uses base64."""
    if isinstance(node, dict):
        return {k: base64.b64decode(v).hex() if k in _IDS else _hex_ids(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


class JSONExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = json.dumps(_hex_ids(MessageToDict(encode_spans(spans)))).encode()
        request = urllib.request.Request(f"{s.ENDPOINT}/v1/traces", data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {s.API_KEY}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return SpanExportResult.SUCCESS if response.status < 300 else SpanExportResult.FAILURE


provider = TracerProvider(resource=Resource({"service.name": "manual-client", "service.version": "1.2.3",
                                             "deployment.environment.name": "test"}))
provider.add_span_processor(SimpleSpanProcessor(JSONExporter()))
tracer = provider.get_tracer("app.manual")
COMMON = {"session.id": s.SESSION_ID, "user.id": s.USER_ID, "loupe.tags": ("instrumentation-test",),
          "loupe.metadata.tier": "gold", "loupe.release": "2024.06.1"}


def _parts(message: dict[str, Any]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if message.get("content"):
        parts.append({"type": "text", "content": message["content"]})
    for call in message.get("tool_calls") or []:
        parts.append({"type": "tool_call", "id": call["id"], "name": call["function"]["name"],
                      "arguments": json.loads(call["function"]["arguments"])})
    if message["role"] == "tool":
        parts = [{"type": "tool_call_response", "id": message["tool_call_id"], "response": message["content"]}]
    return {"role": message["role"], "parts": parts}


class Chat:
    """A wrapper with the same surface as `client.chat.completions` that records each call by hand."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def create(self, *, model: str, messages: list[dict[str, Any]], stream: bool = False, **kw: Any) -> Any:
        system = [m for m in messages if m["role"] == "system"]
        attrs: dict[str, Any] = {
            **COMMON, "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model, "gen_ai.request.stream": stream, "gen_ai.prompt.name": s.PROMPT_NAME,
            "loupe.prompt.version": str(s.PROMPT_VERSION), "loupe.prompt.template": s.TEMPLATE,
            "loupe.prompt.variables": json.dumps(s.VARIABLES),
            "gen_ai.input.messages": json.dumps([_parts(m) for m in messages if m["role"] != "system"]),
        }
        if system:
            attrs["gen_ai.system_instructions"] = json.dumps([{"type": "text", "content": system[0]["content"]}])
        for key in ("temperature", "max_tokens"):
            if key in kw:
                attrs[f"gen_ai.request.{key}"] = kw[key]
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs)
        started = time.monotonic()
        response = self.client.chat.completions.create(model=model, messages=messages, stream=stream, **kw)
        if stream:
            return _Stream(response, span, started)  # the span ends when the stream does
        choice = response.choices[0]
        _finish(span, response.model, response.usage, choice.message.model_dump(), choice.finish_reason)
        return response


class _Stream:
    def __init__(self, stream: Any, span: Any, started: float) -> None:
        self.stream, self.span, self.started = stream, span, started

    def __iter__(self) -> Iterator[Any]:
        text, usage, model, finish, first = [], None, "", "", None
        for chunk in self.stream:
            if first is None and chunk.choices:
                first = time.monotonic() - self.started
                self.span.set_attribute("gen_ai.response.time_to_first_chunk", first)
            model, usage = chunk.model or model, chunk.usage or usage
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
            yield chunk
        _finish(self.span, model, usage, {"role": "assistant", "content": "".join(text)}, finish)


def _finish(span: Any, model: str, usage: Any, message: dict[str, Any], finish: str) -> None:
    out = _parts(message)
    span.set_attributes({
        "gen_ai.response.model": model, "gen_ai.response.finish_reasons": (finish,),
        "gen_ai.output.messages": json.dumps([{**out, "role": "assistant", "finish_reason": finish}]),
        "gen_ai.usage.input_tokens": usage.prompt_tokens, "gen_ai.usage.output_tokens": usage.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": usage.prompt_tokens_details.cached_tokens,
        "gen_ai.usage.reasoning.output_tokens": usage.completion_tokens_details.reasoning_tokens,
    })
    span.end()


class Embeddings:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def create(self, *, model: str, input: list[str]) -> Any:
        texts = [{"role": "user", "parts": [{"type": "text", "content": text}]} for text in input]
        attrs = {**COMMON, "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": model, "gen_ai.input.messages": json.dumps(texts)}
        with tracer.start_as_current_span(f"embeddings {model}", kind=SpanKind.CLIENT, attributes=attrs) as span:
            response = self.client.embeddings.create(model=model, input=input)
            span.set_attributes({"gen_ai.response.model": response.model,
                                 "gen_ai.usage.input_tokens": response.usage.prompt_tokens})
            return response


class Responses:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def create(self, *, model: str, instructions: str, input: str) -> Any:
        attrs = {**COMMON, "gen_ai.operation.name": "responses", "gen_ai.provider.name": "openai",
                 "gen_ai.request.model": model,
                 "gen_ai.system_instructions": json.dumps([{"type": "text", "content": instructions}]),
                 "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": input}]}])}
        with tracer.start_as_current_span(f"responses {model}", kind=SpanKind.CLIENT, attributes=attrs) as span:
            r = self.client.responses.create(model=model, instructions=instructions, input=input)
            span.set_attributes({
                "gen_ai.response.model": r.model, "gen_ai.response.id": r.id,
                "gen_ai.usage.input_tokens": r.usage.input_tokens, "gen_ai.usage.output_tokens": r.usage.output_tokens,
                "gen_ai.usage.cache_read.input_tokens": r.usage.input_tokens_details.cached_tokens,
                "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
                    {"type": "text", "content": r.output_text}]}])})
            return r


class _Tool(s.ToolSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def set_result(self, result: str) -> None:
        self.span.set_attribute("gen_ai.tool.call.result", result)


@contextlib.contextmanager
def tool_span(name: str, call_id: str, args: dict[str, Any]) -> Iterator[s.ToolSpan]:
    attrs = {**COMMON, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
             "gen_ai.tool.call.id": call_id, "gen_ai.tool.call.arguments": json.dumps(args),
             "gen_ai.tool.type": "function"}
    with tracer.start_as_current_span(f"execute_tool {name}", attributes=attrs) as span:
        yield _Tool(span)


@contextlib.contextmanager
def session() -> Iterator[None]:
    attrs = {**COMMON, "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support",
             "gen_ai.conversation.id": s.SESSION_ID, "loupe.input": "[workflow] start"}
    with tracer.start_as_current_span("invoke_agent support", attributes=attrs) as span:
        yield
        span.set_attribute("loupe.output", "[workflow] done")


class Client:
    def __init__(self) -> None:
        raw = openai.OpenAI(base_url=s.MODEL_URL, api_key="sk-test", max_retries=0)
        self.chat = type("ChatNS", (), {"completions": Chat(raw)})()
        self.embeddings, self.responses = Embeddings(raw), Responses(raw)


s.run(Client(), s.Hooks(session=session, tool_span=tool_span, flush=lambda: provider.shutdown()))
