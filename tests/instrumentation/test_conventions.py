"""Real instrumentation libraries -> OTLP -> decode -> normalize: the same facts land in the same columns.

Every client runs the same scenario (clients/_scenario.py) and prints what it sent and what the model
answered. The checks below are one table: (what, which call, features it needs, assertion). A client
that does not send a feature (NOT_SENT) skips that row; everything else must match for every client.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from collector.normalize import messages_from_log_body
from store.rows import SpanRow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]  # a client subprocess may take 90 s

CLIENTS = {  # test id -> (client script, extra environment)
    "manual": ("manual", {}),
    "openinference": ("openinference", {}),
    "openinference_genai": ("openinference", {"OPENINFERENCE_ENABLE_GENAI_SEMCONV": "true"}),
    "openai_v2": ("openai_v2", {}),
    "openllmetry": ("openllmetry", {}),
    "langfuse": ("langfuse", {}),
}
# What each library does not send at all (CONVENTIONS.md, and what we observed).
NOT_SENT: dict[str, set[str]] = {
    "manual": set(),
    "openinference": {"prompt_name", "release", "tool_call_id"},
    "openinference_genai": {"prompt_name", "release", "tool_call_id"},
    "openai_v2": {"session", "prompt_name", "prompt_version", "prompt_template", "cached", "reasoning", "stream",
                  "embed_input", "responses", "tags", "metadata", "release"},
    "openllmetry": {"prompt_name", "tags", "release", "tool_call_id", "reasoning_stream"},  # no reasoning on streams
    "langfuse": {"request_model", "finish_reasons", "prompt_template", "tool_call_id"},
}


def _messages(row: SpanRow) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return json.loads(row.input or "[]"), json.loads(row.output or "[]")


def find(spans: list[SpanRow], call: str) -> SpanRow:
    """The span of one scenario call, found by its normalised content (which is itself under test)."""
    llm = [s for s in spans if s.kind == "llm"]
    found: list[SpanRow] = []
    if call in ("chat", "stream", "responses"):
        found = [s for s in llm if f"[{call}]" in s.input]
    elif call == "tool":
        found = [s for s in llm if "[tool]" in s.input and s.tool_calls]
    elif call == "tool_answer":
        found = [s for s in llm if "[tool]" in s.input and not s.tool_calls]
    elif call == "tool_exec":
        found = [s for s in spans if s.kind == "tool"]
    elif call == "embed":
        found = [s for s in spans if s.kind == "embedding"]
    elif call == "root":
        found = [s for s in spans if not s.parent_span_id]
    assert len(found) == 1, f"{call}: expected one span, got {[(s.name, s.kind, s.input[:80]) for s in spans]}"
    return found[0]


Check = tuple[str, str, set[str], Callable[[SpanRow, dict[str, Any], dict[str, Any]], None]]


def _eq(field: str, expected: Callable[[dict[str, Any], dict[str, Any]], Any]):
    def check(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
        assert getattr(row, field) == expected(call, manifest), field

    return check


def _json(field: str, expected: Callable[[dict[str, Any], dict[str, Any]], Any]):
    def check(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
        assert json.loads(getattr(row, field) or "null") == expected(call, manifest), getattr(row, field)

    return check


def _tool_exec_id(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert json.loads(row.tool_calls)[0]["id"] == call["id"]


def _instructions_first(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert _messages(row)[0][0] == {"role": "system", "content": call["instructions"]}


def _metadata(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert row.metadata.get("tier") == "gold", row.metadata


def _chat_input(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    inputs, outputs = _messages(row)
    assert inputs == [{"role": "system", "content": manifest["system"]}, {"role": "user", "content": call["user"]}]
    assert outputs == [{"role": "assistant", "content": call["output"]}]


def _output_text(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert _messages(row)[1] == [{"role": "assistant", "content": call["output"]}]


def _tool_call(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert json.loads(row.tool_calls) == call["tool_calls"]
    assert _messages(row)[1] == [{"role": "assistant", "content": "", "tool_calls": call["tool_calls"]}]


def _tool_answer_input(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    inputs = _messages(row)[0]
    tool_call = manifest["calls"]["tool"]["tool_calls"][0]
    assert [m["role"] for m in inputs] == ["user", "assistant", "tool"]
    assert inputs[1]["tool_calls"] == [tool_call]
    assert inputs[2] == {"role": "tool", "content": manifest["calls"]["tool_exec"]["result"],
                         "tool_call_id": tool_call["id"]}


def _tool_exec(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert row.tool_name == call["name"]
    (entry,) = json.loads(row.tool_calls)
    assert (entry["name"], entry["arguments"], entry["result"]) == (call["name"], call["arguments"], call["result"])
    assert json.loads(row.input) == call["arguments"] and row.output == call["result"]


def _ttft(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    assert row.ttft_ms is not None and 0 < row.ttft_ms < row.duration_ms, (row.ttft_ms, row.duration_ms)


def _params(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
    params = json.loads(row.model_parameters)
    assert {k: params.get(k) for k in call["parameters"]} == call["parameters"]


def _usage(*fields: str):
    names = {"input": "input_tokens", "output": "output_tokens", "total": "total_tokens",
             "cached": "cached_input_tokens", "reasoning": "reasoning_tokens"}

    def check(row: SpanRow, call: dict[str, Any], manifest: dict[str, Any]) -> None:
        assert {f: getattr(row, names[f]) for f in fields} == {f: call["usage"][f] for f in fields}

    return check


LLM_CALLS = ("chat", "stream", "tool", "tool_answer")
CHECKS: list[Check] = [
    *[(f"{c}: kind/operation", c, set(), _eq("operation", lambda call, m: "chat")) for c in LLM_CALLS],
    *[(f"{c}: response model", c, set(), _eq("response_model", lambda call, m: call["response_model"]))
      for c in (*LLM_CALLS, "embed")],
    *[(f"{c}: request model", c, {"request_model"}, _eq("request_model", lambda call, m: call["request_model"]))
      for c in (*LLM_CALLS, "embed")],
    *[(f"{c}: provider", c, set(), _eq("provider", lambda call, m: "openai")) for c in (*LLM_CALLS, "embed")],
    *[(f"{c}: tokens", c, set(), _usage("input", "output", "total")) for c in LLM_CALLS],
    ("chat: cached tokens", "chat", {"cached"}, _usage("cached")),
    ("stream: cached tokens", "stream", {"cached"}, _usage("cached")),
    ("stream: reasoning tokens", "stream", {"reasoning", "reasoning_stream"}, _usage("reasoning")),
    ("chat: messages", "chat", set(), _chat_input),
    ("chat: parameters", "chat", set(), _params),
    ("chat: finish reason", "chat", {"finish_reasons"}, _eq("finish_reasons", lambda call, m: ["stop"])),
    ("stream: output", "stream", set(), _output_text),
    ("stream: stream flag", "stream", {"stream"}, _eq("stream", lambda call, m: 1)),
    ("chat: not a stream", "chat", set(), _eq("stream", lambda call, m: 0)),
    ("stream: ttft", "stream", {"stream"}, _ttft),
    ("tool: model's tool call", "tool", set(), _tool_call),
    ("tool: finish reason tool_calls", "tool", {"finish_reasons"},
     _eq("finish_reasons", lambda call, m: ["tool_calls"])),
    ("tool_answer: tool result in input", "tool_answer", set(), _tool_answer_input),
    ("tool_answer: output", "tool_answer", set(), _output_text),
    ("tool_exec: tool span", "tool_exec", set(), _tool_exec),
    ("tool_exec: kind", "tool_exec", set(), _eq("kind", lambda call, m: "tool")),
    ("tool_exec: call id", "tool_exec", {"tool_call_id"}, _tool_exec_id),
    ("embed: operation", "embed", set(), _eq("operation", lambda call, m: "embeddings")),
    ("embed: input texts", "embed", {"embed_input"}, _json("input", lambda call, m: call["texts"])),
    ("embed: tokens", "embed", set(), _usage("input", "total")),
    ("responses: operation", "responses", {"responses"}, _eq("operation", lambda call, m: "responses")),
    ("responses: output", "responses", {"responses"}, _output_text),
    ("responses: tokens", "responses", {"responses"}, _usage("input", "output", "total")),
    ("responses: instructions first", "responses", {"responses"}, _instructions_first),
    *[(f"{c}: session", c, {"session"}, _eq("session_id", lambda call, m: m["session_id"]))
      for c in (*LLM_CALLS, "tool_exec", "embed")],
    *[(f"{c}: user", c, {"session"}, _eq("user_id", lambda call, m: m["user_id"])) for c in (*LLM_CALLS, "embed")],
    ("chat: prompt name", "chat", {"prompt_name"}, _eq("prompt_name", lambda call, m: m["prompt_name"])),
    ("chat: prompt version", "chat", {"prompt_version"}, _eq("prompt_version", lambda call, m: m["prompt_version"])),
    ("chat: prompt template", "chat", {"prompt_template"},
     _eq("prompt_template", lambda call, m: m["prompt_template"])),
    ("chat: prompt variables", "chat", {"prompt_template"}, _json("prompt_variables", lambda call, m: m["variables"])),
    ("chat: tags", "chat", {"tags"}, _eq("tags", lambda call, m: ["instrumentation-test"])),
    ("chat: metadata", "chat", {"metadata"}, _metadata),
    ("chat: environment", "chat", set(), _eq("environment", lambda call, m: "test")),
    ("chat: release", "chat", {"release"}, _eq("release", lambda call, m: "2024.06.1")),
    ("chat: status", "chat", set(), _eq("status", lambda call, m: "ok")),
]


@pytest.mark.parametrize("client", list(CLIENTS))
def test_same_facts_in_same_columns(client: str, collect) -> None:
    script, env = CLIENTS[client]
    got = collect(script, env)
    manifest = got.manifest
    assert got.spans, "nothing arrived (a client exiting 0 proves nothing)"
    assert all("loupe.normalize_error" not in s.attributes for s in got.spans)
    failures, executed = [], 0
    for label, call, needs, check in CHECKS:
        if needs & NOT_SENT[client] or (call == "responses" and "responses" in NOT_SENT[client]):
            continue
        executed += 1
        try:
            row = find(got.spans, call)
            check(row, manifest["calls"].get(call, {}), manifest)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    assert not failures, f"{client}:\n" + "\n".join(failures)
    assert executed >= 30, executed  # the table really ran
    assert {s.service_name for s in got.spans} == {_service(client)}
    assert all(s.convention != "none" for s in got.spans)


def _service(client: str) -> str:
    return {"manual": "manual-client", "openinference": "oi-client", "openinference_genai": "oi-client",
            "openai_v2": "otel-v2-client", "openllmetry": "openllmetry-client", "langfuse": "langfuse-client"}[client]


def test_wire_details(collect) -> None:
    """Langfuse's own path and Basic auth (the secret key is the Loupe key), and gzip: what arrived."""
    got = collect("langfuse")
    traces = [r for r in got.requests if r.path == "/api/public/otel/v1/traces"]
    assert traces and all(r.content_type == "application/x-protobuf" for r in traces)
    user, _, password = base64.b64decode(traces[0].headers["authorization"].split()[1]).decode().partition(":")
    assert (user, password) == ("pk-lf-test", "loupe-test-key")
    assert traces[0].headers.get("x-langfuse-ingestion-version") == "4"


def test_openai_v2_content_logs_join_their_spans(collect) -> None:
    """openai-v2 duplicates content into log records; they carry span ids and the same messages."""
    got = collect("openai_v2")
    details = [r for r in got.logs if r.event_name == "gen_ai.client.inference.operation.details"]
    assert len(details) == 4  # the four chat calls; embeddings have no content
    by_span = {s.span_id: s for s in got.spans}
    for record in details:
        span = by_span[record.span_id]
        inputs, outputs = messages_from_log_body([(record.event_name, json.loads(record.body))])
        assert (inputs, outputs) == (json.loads(span.input), json.loads(span.output))
        assert "gen_ai.input.messages" not in record.attributes  # moved into the body, stored once
