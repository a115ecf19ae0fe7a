"""collector.normalize: each convention's realistic attributes land in the same canonical columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from collector.normalize import messages_from_log_body, normalize_log, normalize_span
from collector.otlp import KIND_TRACES, OTLPDecodeError, RawEvent, RawLog, RawSpan, iter_spans, parse_request

NOW = datetime(2025, 1, 1, tzinfo=UTC)
START = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z
SYSTEM, USER, ANSWER = "You are terse.", "What is OTLP?", "A protocol."


def span(attrs: dict[str, Any], name: str = "llm", scope: str = "", events: tuple[RawEvent, ...] = (),
         resource: dict[str, Any] | None = None, status: int = 0, message: str = "", kind: str = "internal"):
    raw = RawSpan("ab" * 16, "cd" * 8, "", name, kind, START, START + 2_000_000_000, status, message, attrs,
                  events, resource or {}, scope)
    return normalize_span(raw, "proj", NOW)


def msgs(text: str) -> list[dict[str, Any]]:
    return json.loads(text)


def parts(role: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}], **extra}


EXPECTED_IO = ([{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
               [{"role": "assistant", "content": ANSWER}])


def test_otel_genai_current_with_loupe_keys() -> None:
    row = span({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.25,
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": SYSTEM}]),
        "gen_ai.input.messages": json.dumps([parts("user", USER)]),
        "gen_ai.output.messages": json.dumps([parts("assistant", ANSWER, finish_reason="stop")]),
        "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 1024, "gen_ai.usage.reasoning.output_tokens": 16,
        "session.id": "s1", "user.id": "u1", "gen_ai.prompt.name": "greet", "loupe.prompt.version": 3,
        "loupe.prompt.template": "Hi {name}", "loupe.prompt.variables": '{"name": "Ada"}',
        "loupe.tags": ["a", "b"], "loupe.metadata.tier": "gold", "loupe.release": "r9", "loupe.environment": "prod",
        "server.port": 443,
    }, name="chat gpt-4o-mini", scope="loupe", resource={"service.name": "svc", "deployment.environment.name": "dev",
                                                        "host.name": "h1"})
    assert (row.convention, row.kind, row.operation, row.provider) == ("loupe", "llm", "chat", "openai")
    assert (row.request_model, row.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (msgs(row.input), msgs(row.output)) == EXPECTED_IO
    assert (row.input_tokens, row.output_tokens, row.total_tokens) == (1200, 40, 1240)
    assert (row.cached_input_tokens, row.reasoning_tokens, row.stream, row.ttft_ms) == (1024, 16, 1, 250.0)
    assert row.finish_reasons == ["stop"] and json.loads(row.model_parameters) == {"temperature": 0.2}
    assert (row.session_id, row.user_id, row.tags, row.metadata) == ("s1", "u1", ["a", "b"], {"tier": "gold"})
    assert (row.prompt_name, row.prompt_version, row.prompt_template) == ("greet", "3", "Hi {name}")
    assert json.loads(row.prompt_variables) == {"name": "Ada"}
    assert (row.service_name, row.environment, row.release) == ("svc", "prod", "r9")
    assert row.attributes == {"server.port": "443"}  # consumed keys are not stored twice
    assert row.resource_attributes == {"host.name": "h1"}
    assert row.duration_ms == 2000.0 and row.start_time == NOW


def test_model_tool_calls_and_tool_execution_span() -> None:
    call = {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}
    row = span({"gen_ai.operation.name": "chat", "gen_ai.response.finish_reasons": ["tool_call"],
                "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [call]}])})
    assert json.loads(row.tool_calls) == [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]
    assert row.finish_reasons == ["tool_calls"]
    tool = span({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "weather", "gen_ai.tool.call.id": "c1",
                 "gen_ai.tool.call.arguments": '{"city": "Paris"}', "gen_ai.tool.call.result": "sunny"})
    assert (tool.kind, tool.operation, tool.tool_name, tool.output) == ("tool", "execute_tool", "weather", "sunny")
    assert json.loads(tool.tool_calls) == [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"},
                                            "result": "sunny"}]


def test_older_genai_and_openllmetry_legacy_forms() -> None:
    row = span({"gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4",
                "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": SYSTEM,
                "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": USER,
                "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_calls",
                "gen_ai.completion.0.tool_calls.0.id": "c9", "gen_ai.completion.0.tool_calls.0.name": "f",
                "gen_ai.completion.0.tool_calls.0.arguments": '{"x": 1}',
                "llm.usage.prompt_tokens": 10, "llm.usage.completion_tokens": 5, "llm.request.type": "chat"},
               scope="opentelemetry.instrumentation.openai.v1")
    assert (row.convention, row.kind, row.operation, row.provider) == ("openllmetry", "llm", "chat", "openai")
    assert msgs(row.input) == EXPECTED_IO[0]
    assert json.loads(row.tool_calls) == [{"id": "c9", "name": "f", "arguments": {"x": 1}}]
    assert (row.finish_reasons, row.total_tokens) == (["tool_calls"], 15)
    old = span({"gen_ai.prompt": json.dumps([{"role": "user", "content": USER}]), "gen_ai.completion": ANSWER})
    assert msgs(old.input) == [{"role": "user", "content": USER}] and old.kind == "llm"
    assert msgs(old.output) == [{"role": "assistant", "content": ANSWER}]


def test_legacy_content_span_events_become_messages() -> None:
    events = (RawEvent("gen_ai.user.message", START, {"content": USER}),
              RawEvent("gen_ai.choice", START, {"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": ANSWER}}),
              RawEvent("gen_ai.evaluation.result", START, {"gen_ai.evaluation.name": "relevance"}))
    row = span({"gen_ai.operation.name": "chat"}, events=events)
    assert msgs(row.input) == [{"role": "user", "content": USER}] and msgs(row.output) == EXPECTED_IO[1]
    assert [e["name"] for e in json.loads(row.events)] == ["gen_ai.evaluation.result"]  # content stored once


def test_openinference_flattened_messages_and_invocation_parameters() -> None:
    row = span({
        "openinference.span.kind": "LLM", "llm.system": "openai", "llm.model_name": "gpt-4o-2024-08-06",
        "llm.invocation_parameters": '{"model": "gpt-4o", "temperature": 0.1, "stream": true}',
        "input.value": '{"messages": []}', "input.mime_type": "application/json",
        "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": SYSTEM,
        "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": USER,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "c1",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q": "x"}',
        "llm.token_count.prompt": 20, "llm.token_count.completion": 4, "llm.token_count.total": 24,
        "llm.token_count.prompt_details.cache_read": 8, "llm.token_count.completion_details.reasoning": 2,
        "session.id": "s", "user.id": "u", "tag.tags": ["t1"], "metadata": '{"k": 1, "s": "v"}',
        "llm.prompt_template.template": "T {x}", "llm.prompt_template.version": "v2",
        "llm.prompt_template.variables": '{"x": "1"}',
        # OI+genai: gen_ai.request.model carries the *response* model
        "gen_ai.request.model": "gpt-4o-2024-08-06", "gen_ai.operation.name": "chat",
    }, name="ChatCompletion", scope="openinference.instrumentation.openai",
        events=(RawEvent("First Token Stream Event", START + 300_000_000, {}),))
    assert (row.convention, row.kind, row.operation) == ("openinference", "llm", "chat")
    assert (row.request_model, row.response_model, row.stream, row.ttft_ms) == ("gpt-4o", "gpt-4o-2024-08-06", 1, 300.0)
    assert json.loads(row.model_parameters) == {"temperature": 0.1}
    assert msgs(row.input) == EXPECTED_IO[0]
    assert msgs(row.output) == [{"role": "assistant", "content": "",
                                 "tool_calls": [{"id": "c1", "name": "f", "arguments": {"q": "x"}}]}]
    assert (row.input_tokens, row.output_tokens, row.total_tokens, row.cached_input_tokens, row.reasoning_tokens) == (
        20, 4, 24, 8, 2)
    assert (row.tags, row.metadata, row.prompt_version) == (["t1"], {"k": "1", "s": "v"}, "v2")
    assert "gen_ai.request.model" not in row.attributes


def test_openinference_responses_retriever_and_tool() -> None:
    row = span({"openinference.span.kind": "LLM", "gen_ai.operation.name": "chat",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.contents.0.message_content.type": "text",
                "llm.output_messages.0.message.contents.0.message_content.text": ANSWER}, name="Response",
               scope="openinference.instrumentation.openai")
    assert (row.operation, msgs(row.output)) == ("responses", EXPECTED_IO[1])
    docs = span({"openinference.span.kind": "RETRIEVER", "input.value": "otlp?",
                 "retrieval.documents.0.document.id": "d1", "retrieval.documents.0.document.score": 0.9,
                 "retrieval.documents.0.document.content": "OTLP is…",
                 "retrieval.documents.0.document.metadata": '{"src": "wiki"}'})
    assert (docs.kind, docs.operation, docs.input) == ("retriever", "retrieval", "otlp?")
    assert json.loads(docs.documents) == [{"id": "d1", "score": 0.9, "content": "OTLP is…",
                                           "metadata": {"src": "wiki"}}]
    tool = span({"openinference.span.kind": "TOOL", "tool.name": "f", "input.value": '{"a": 1}',
                 "output.value": "ok", "gen_ai.tool.call.arguments": '{"type": "object"}'},
                scope="openinference.instrumentation.openai")
    assert json.loads(tool.tool_calls) == [{"id": "", "name": "f", "arguments": {"a": 1}, "result": "ok"}]


def test_openllmetry_association_properties_prompt_and_tool() -> None:
    row = span({"gen_ai.operation.name": "chat", "traceloop.association.properties.session_id": "s",
                "traceloop.association.properties.user_id": "u", "traceloop.association.properties.team": "x",
                "traceloop.prompt.version": "3", "traceloop.prompt.template": "T {v}",
                "traceloop.prompt.template_variables.v": "1", "gen_ai.is_streaming": True,
                "gen_ai.response.finish_reasons": ["tool_call"]}, scope="opentelemetry.instrumentation.openai.v1",
               events=tuple(RawEvent("gen_ai.content.completion.chunk", START + i * 10_000_000, {}) for i in (5, 6)))
    assert (row.session_id, row.user_id, row.metadata) == ("s", "u", {"team": "x"})
    assert (row.prompt_version, row.prompt_template, json.loads(row.prompt_variables)) == ("3", "T {v}", {"v": "1"})
    assert (row.stream, row.ttft_ms, row.finish_reasons) == (1, 50.0, ["tool_calls"])
    tool = span({"traceloop.span.kind": "tool", "traceloop.entity.name": "lookup",
                 "traceloop.entity.input": '{"args": [], "kwargs": {"q": "x"}}', "traceloop.entity.output": '"found"'},
                name="lookup.tool", scope="traceloop.tracer")
    assert (tool.kind, tool.tool_name, tool.output) == ("tool", "lookup", "found")
    assert json.loads(tool.tool_calls)[0]["arguments"] == {"q": "x"}
    flow = span({"traceloop.span.kind": "workflow", "traceloop.entity.output": '{"answer": 42}'},
                scope="traceloop.tracer")
    assert (flow.kind, flow.output) == ("chain", '{"answer":42}')


def _langfuse(**extra: Any) -> dict[str, Any]:
    return {"langfuse.observation.type": "generation", "langfuse.observation.model.name": "gpt-4o-mini-2024-07-18",
            "langfuse.observation.input": json.dumps([{"role": "system", "content": SYSTEM},
                                                      {"role": "user", "content": USER}]),
            "langfuse.trace.metadata.env": '"prod"', "langfuse.trace.tags": ["x"], "langfuse.environment": "staging",
            "langfuse.observation.prompt.name": "p", "langfuse.observation.prompt.version": 3,
            "session.id": "s", "user.id": "u", **extra}


def test_langfuse_chat_usage_nested_cache_and_double_encoded_metadata() -> None:
    usage = {"prompt_tokens": 1300, "completion_tokens": 20, "total_tokens": 1320,
             "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 8}}
    row = span(_langfuse(**{"langfuse.observation.usage_details": json.dumps(usage),
                            "langfuse.observation.output": json.dumps({"role": "assistant", "content": ANSWER}),
                            "langfuse.observation.cost_details": '{"input": 0.001, "output": 0.002}'}),
               scope="langfuse-sdk")
    assert (row.convention, row.kind, row.operation, row.provider) == ("langfuse", "llm", "chat", "openai")
    assert (msgs(row.input), msgs(row.output)) == EXPECTED_IO
    assert (row.input_tokens, row.output_tokens, row.cached_input_tokens, row.reasoning_tokens) == (1300, 20, 1024, 8)
    assert (row.metadata, row.tags, row.environment) == ({"env": "prod"}, ["x"], "staging")
    assert (row.prompt_name, row.prompt_version, row.request_model) == ("p", "3", "")
    assert (row.cost_source, round(row.cost_usd, 6)) == ("reported", 0.003)


def test_langfuse_responses_stream_and_tools_input() -> None:
    usage = {"input_tokens": 30, "output_tokens": 9, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 4}}
    first = datetime.fromtimestamp((START + 400_000_000) / 1e9, UTC).isoformat().replace("+00:00", "Z")
    row = span(_langfuse(**{"langfuse.observation.usage_details": json.dumps(usage),
                            "langfuse.observation.output": ANSWER,  # streamed: a plain string
                            "langfuse.observation.completion_start_time": json.dumps(first),
                            "langfuse.observation.metadata.finish_reason": '"stop"'}))
    assert (row.operation, row.input_tokens, row.reasoning_tokens, row.total_tokens) == ("responses", 30, 4, 39)
    assert (msgs(row.output), row.stream, row.ttft_ms, row.finish_reasons) == (EXPECTED_IO[1], 1, 400.0, ["stop"])
    tools = {"tools": [{"type": "function", "function": {"name": "f"}}],
             "messages": [{"role": "user", "content": USER}]}
    row = span(_langfuse(**{"langfuse.observation.input": json.dumps(tools)}))
    assert msgs(row.input) == [{"role": "user", "content": USER}]
    failed = span({"langfuse.observation.type": "span", "langfuse.observation.level": "ERROR",
                   "langfuse.observation.status_message": "boom"})
    assert (failed.kind, failed.status, failed.status_message) == ("chain", "error", "boom")


def test_plain_http_span_and_unknown_attributes() -> None:
    row = span({"http.request.method": "POST", "url.full": "http://x/v1", "http.response.status_code": 200,
                "nested": {"a": [1, 2]}, "flag": True}, name="POST", kind="client",
               scope="opentelemetry.instrumentation.httpx")
    assert (row.kind, row.operation, row.convention, row.input) == ("other", "", "none", "")
    assert row.attributes == {"http.request.method": "POST", "url.full": "http://x/v1",
                              "http.response.status_code": "200", "nested": '{"a":[1,2]}', "flag": "true"}


def test_errors_from_status_error_type_and_exception_events() -> None:
    assert span({}, status=2, message="bad").status_message == "bad"
    row = span({"error.type": "RateLimitError"})
    assert (row.status, row.status_message) == ("error", "RateLimitError")
    boom = RawEvent("exception", START, {"exception.type": "ValueError", "exception.message": "nope"})
    row = span({}, events=(boom,))
    assert (row.status, row.status_message) == ("error", "nope")
    assert json.loads(row.events)[0]["name"] == "exception"


def test_garbage_degrades_to_raw_attributes() -> None:
    deep: Any = "x"
    for _ in range(2000):
        deep = [deep]
    row = span({"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[{not json",
                "gen_ai.output.messages": json.dumps({"weird": 1}), "gen_ai.usage.input_tokens": "12",
                "gen_ai.usage.output_tokens": [1], "gen_ai.retrieval.documents": "{{", "tag.tags": 5,
                "llm.invocation_parameters": "[1,", "gen_ai.system_instructions": "[" * 5000 + "]" * 5000,
                "deep": deep, "huge": "y" * 2_000_000, "gen_ai.response.finish_reasons": {"a": 1}})
    assert row.input_tokens == 12 and row.input == ""
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.usage.output_tokens",
                "gen_ai.retrieval.documents", "tag.tags", "llm.invocation_parameters", "deep", "huge",
                "gen_ai.system_instructions"):
        assert key in row.attributes, key
    assert row.attributes["gen_ai.input.messages"] == "[{not json"
    assert "loupe.normalize_error" not in row.attributes


def test_normalize_log_moves_content_and_messages_from_log_body() -> None:
    raw = RawLog("ab" * 16, "cd" * 8, 0, "gen_ai.client.inference.operation.details", "", None,
                 {"gen_ai.input.messages": [parts("user", USER)],
                  "gen_ai.output.messages": [parts("assistant", ANSWER)],
                  "gen_ai.system_instructions": [{"type": "text", "content": SYSTEM}], "gen_ai.request.model": "m"},
                 {"service.name": "svc"})
    row = normalize_log(raw, "proj", NOW)
    assert (row.time, row.service_name, row.attributes) == (NOW, "svc", {"gen_ai.request.model": "m"})
    assert messages_from_log_body([(row.event_name, json.loads(row.body))]) == EXPECTED_IO
    legacy = [("gen_ai.system.message", {"content": SYSTEM}), ("gen_ai.user.message", json.dumps({"content": USER})),
              ("gen_ai.choice", {"index": 0, "message": {"content": ANSWER}}), ("other", {"x": 1})]
    assert messages_from_log_body(legacy) == EXPECTED_IO


# --- fuzz: real OTLP bodies with arbitrary attribute values never make normalisation raise -----------

KEYS = st.sampled_from(["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                        "gen_ai.usage.input_tokens", "gen_ai.response.finish_reasons",
                        "llm.input_messages.0.message.content",
                        "llm.output_messages.1.message.tool_calls.0.tool_call.function.arguments",
                        "retrieval.documents.0.document.score", "llm.invocation_parameters", "metadata", "tag.tags",
                        "langfuse.observation.usage_details", "langfuse.observation.completion_start_time",
                        "langfuse.observation.input", "langfuse.trace.metadata.k", "traceloop.entity.input",
                        "openinference.span.kind", "langfuse.observation.type", "gen_ai.operation.name",
                        "gen_ai.tool.call.arguments", "gen_ai.retrieval.documents", "loupe.tags", "session.id"]
                       ) | st.text(max_size=30)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                       max_leaves=15)
SCALARS = (st.text(max_size=60) | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans()
           | st.binary(max_size=20) | JSONISH.map(json.dumps))


def _any_value(value: Any) -> AnyValue:
    out = AnyValue()
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, bytes):
        out.bytes_value = value
    elif isinstance(value, list):
        out.array_value.values.extend(_any_value(v) for v in value)
    elif isinstance(value, dict):
        out.kvlist_value.values.extend(KeyValue(key=k, value=_any_value(v)) for k, v in value.items())
    elif value is not None:
        out.string_value = str(value)
    return out


VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                          max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attrs=st.dictionaries(KEYS, VALUES, max_size=12), scope=st.sampled_from(["", "langfuse-sdk", "traceloop.tracer",
                                                                                "openinference.instrumentation.x"]),
       events=st.lists(st.tuples(st.sampled_from(["exception", "First Token Stream Event", "gen_ai.choice", "e"]),
                                 st.integers(0, 2**64 - 1), st.dictionaries(KEYS, VALUES, max_size=3)), max_size=3))
def test_fuzz_real_otlp_bodies_never_raise(attrs: dict[str, Any], scope: str, events: list[Any]) -> None:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    scope_spans.scope.name = scope
    pb = scope_spans.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s", start_time_unix_nano=START,
                               end_time_unix_nano=START + 5)
    pb.attributes.extend(KeyValue(key=k, value=_any_value(v)) for k, v in attrs.items())
    for name, time_ns, event_attrs in events:
        event = pb.events.add(name=name, time_unix_nano=time_ns)
        event.attributes.extend(KeyValue(key=k, value=_any_value(v)) for k, v in event_attrs.items())
    (raw,) = iter_spans(parse_request(request.SerializeToString(), "application/x-protobuf", KIND_TRACES))
    row = normalize_span(raw, "p", NOW)
    assert "loupe.normalize_error" not in row.attributes, row.attributes.get("loupe.normalize_error")
    assert all(isinstance(v, str) for v in row.attributes.values())
    for column in (row.tool_calls, row.documents, row.events, row.model_parameters):
        assert column == "" or isinstance(json.loads(column), list | dict)
    assert isinstance(row.input, str) and isinstance(row.output, str)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    for content_type in ("application/x-protobuf", "application/json"):
        try:
            request = parse_request(body, content_type, KIND_TRACES)
        except OTLPDecodeError:
            continue
        for raw in iter_spans(request):
            normalize_span(raw, "p", NOW)
