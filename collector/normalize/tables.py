"""The mapping, as data: one table per convention (attribute key -> slot, converter), prefix handlers for
flattened or open-ended keys, and the small lookup tables for kinds and operations.

A slot is an intermediate name that span.py assembles into canonical columns. Slot syntax:
`name` first value wins; `dict:key` sets one item of a dict slot; `+name` extends a list slot;
`*name` merges a JSON object into a dict slot; `_` consumes the attribute and drops it.
The detected convention's table is applied last, so its meaning wins where vocabularies collide
(OpenInference's genai mode puts the response model in `gen_ai.request.model`, for instance); the
other tables still apply because instrumentations mix them (Langfuse trace keys on OpenInference spans).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.normalize import values as v

Converter = Callable[[Any], Any]
Handler = Callable[[str, Any, dict[str, Any]], bool]

# --- kinds and operations ---------------------------------------------------------------------

KINDS = ("llm", "embedding", "retriever", "reranker", "tool", "agent", "chain", "guardrail", "evaluator", "other")
OPENINFERENCE_KINDS = {"LLM": "llm", "EMBEDDING": "embedding", "RETRIEVER": "retriever", "RERANKER": "reranker",
                       "TOOL": "tool", "AGENT": "agent", "CHAIN": "chain", "GUARDRAIL": "guardrail",
                       "EVALUATOR": "evaluator", "PROMPT": "chain"}
TRACELOOP_KINDS = {"workflow": "chain", "task": "chain", "agent": "agent", "tool": "tool"}
LANGFUSE_KINDS = {"generation": "llm", "embedding": "embedding", "retriever": "retriever", "tool": "tool",
                  "chain": "chain", "agent": "agent", "span": "chain", "event": "other", "evaluator": "evaluator",
                  "guardrail": "guardrail"}
OPERATIONS = {"text_completion": "completion", "generate_content": "chat", "embedding": "embeddings",
              "response": "responses", "create_response": "responses"}
OPERATION_KINDS = {"chat": "llm", "completion": "llm", "responses": "llm", "embeddings": "embedding",
                   "execute_tool": "tool", "invoke_agent": "agent", "create_agent": "agent", "retrieval": "retriever",
                   "rerank": "reranker", "workflow": "chain", "invoke_workflow": "chain"}
KIND_OPERATIONS = {"llm": "chat", "embedding": "embeddings", "tool": "execute_tool", "agent": "invoke_agent",
                   "retriever": "retrieval", "reranker": "rerank"}
# Span names that reveal the operation better than gen_ai.operation.name (both say "chat" for Responses).
SPAN_NAME_OPERATIONS = {
    "openinference": {"Response": "responses", "ChatCompletion": "chat", "Completion": "completion",
                      "CreateEmbeddings": "embeddings"},
    "openllmetry": {"openai.response": "responses", "openai.chat": "chat", "openai.completion": "completion",
                    "openai.embeddings": "embeddings"},
}
FINISH_REASONS = {"tool_call": "tool_calls", "tool_use": "tool_calls", "function_call": "tool_calls",
                  "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "eos": "stop"}
TTFT_EVENTS = frozenset({"First Token Stream Event", "gen_ai.content.completion.chunk", "first_token"})


def _lookup(table: dict[str, str], lower: bool = False) -> Converter:
    def convert(value: Any) -> str | None:
        return table.get(value.lower() if lower else value) if isinstance(value, str) else None

    return convert


def operation(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    lowered = value.lower()
    return OPERATIONS.get(lowered, lowered)


def canonical_kind(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value.lower() in KINDS else None


# --- prefix handlers ----------------------------------------------------------------------------


def indexed(slot: str) -> Handler:
    """`<prefix>N.rest` -> acc[slot][N][rest]: flattened message/document lists."""

    def handle(rest: str, value: Any, acc: dict[str, Any]) -> bool:
        index, dot, sub = rest.partition(".")
        if not dot or not index.isdigit() or len(index) > 6:
            return False
        acc.setdefault(slot, {}).setdefault(int(index), {})[sub] = value
        return True

    return handle


def into(slot: str, convert: Converter, special: dict[str, str] | None = None) -> Handler:
    """`<prefix>key` -> acc[slot][key]; keys in `special` go to their own slot instead."""

    def handle(rest: str, value: Any, acc: dict[str, Any]) -> bool:
        converted = convert(value)
        if converted is None or not rest:
            return False
        target = special.get(rest) if special else None
        if target:
            acc.setdefault(target, converted)
        else:
            acc.setdefault(slot, {})[rest] = converted
        return True

    return handle


def _drop(rest: str, value: Any, acc: dict[str, Any]) -> bool:
    return True


_ASSOCIATION = {"session_id": "assoc_session", "sessionId": "assoc_session", "conversation_id": "assoc_session",
                "thread_id": "assoc_session", "user_id": "assoc_user", "userId": "assoc_user"}

# --- tables -------------------------------------------------------------------------------------

GENAI: dict[str, tuple[str, Converter | None]] = {
    "gen_ai.operation.name": ("op", operation),
    # The OpenAI semconv marks Responses API calls (operation "chat") with this key.
    "openai.api.type": ("named_op", _lookup({"responses": "responses", "chat_completions": "chat"})),
    "gen_ai.provider.name": ("provider", v.nonempty_text),
    "gen_ai.system": ("provider_old", v.nonempty_text),
    "gen_ai.request.model": ("request_model", v.nonempty_text),
    "gen_ai.response.model": ("response_model", v.nonempty_text),
    "gen_ai.request.stream": ("stream", v.flag),
    "gen_ai.usage.input_tokens": ("in_tokens", v.count),
    "gen_ai.usage.prompt_tokens": ("in_tokens", v.count),
    "gen_ai.usage.output_tokens": ("out_tokens", v.count),
    "gen_ai.usage.completion_tokens": ("out_tokens", v.count),
    "gen_ai.usage.total_tokens": ("total_tokens", v.count),
    "gen_ai.usage.cache_read.input_tokens": ("cached_tokens", v.count),
    "gen_ai.usage.cache_read_input_tokens": ("cached_tokens", v.count),
    "gen_ai.usage.reasoning.output_tokens": ("reasoning_tokens", v.count),
    "gen_ai.usage.reasoning_tokens": ("reasoning_tokens", v.count),
    "gen_ai.usage.cost": ("cost", v.number),
    "gen_ai.response.finish_reasons": ("finish", v.string_list),
    "gen_ai.response.time_to_first_chunk": ("ttft_s", v.number),
    "gen_ai.server.time_to_first_token": ("ttft_s", v.number),
    "gen_ai.input.messages": ("in_messages", None),
    "gen_ai.output.messages": ("out_messages", None),
    "gen_ai.system_instructions": ("system_instructions", None),
    "gen_ai.prompt": ("old_prompt", None),
    "gen_ai.completion": ("old_completion", None),
    "gen_ai.prompt.name": ("prompt_name", v.scalar_text),
    "gen_ai.conversation.id": ("conversation", v.scalar_text),
    "gen_ai.tool.name": ("tool_name", v.nonempty_text),
    "gen_ai.tool.call.id": ("tool_call_id", v.scalar_text),
    "gen_ai.tool.call.arguments": ("tool_args", None),
    "gen_ai.tool.call.result": ("tool_result", None),
    "gen_ai.retrieval.documents": ("documents", None),
    "gen_ai.retrieval.query.text": ("query", v.text),
    "session.id": ("session", v.scalar_text),
    "user.id": ("user", v.scalar_text),
    "enduser.id": ("user", v.scalar_text),
}
OPENINFERENCE: dict[str, tuple[str, Converter | None]] = {
    "openinference.span.kind": ("kind", _lookup(OPENINFERENCE_KINDS)),
    "llm.system": ("provider_old", v.nonempty_text),
    "llm.provider": ("provider", v.nonempty_text),
    "llm.model_name": ("response_model", v.nonempty_text),
    "embedding.model_name": ("response_model", v.nonempty_text),
    "reranker.model_name": ("response_model", v.nonempty_text),
    "llm.invocation_parameters": ("invocation", v.json_object),
    "embedding.invocation_parameters": ("invocation", v.json_object),
    "llm.token_count.prompt": ("in_tokens", v.count),
    "llm.token_count.completion": ("out_tokens", v.count),
    "llm.token_count.total": ("total_tokens", v.count),
    "llm.token_count.prompt_details.cache_read": ("cached_tokens", v.count),
    "llm.token_count.completion_details.reasoning": ("reasoning_tokens", v.count),
    "llm.cost.total": ("cost", v.number),
    "llm.finish_reason": ("finish", v.string_list),
    "input.value": ("io_input", None),
    "output.value": ("io_output", None),
    "input.mime_type": ("_", None),
    "output.mime_type": ("_", None),
    "metadata": ("*metadata", v.json_object),
    "tag.tags": ("+tags", v.string_list),
    "llm.prompt_template.template": ("prompt_template", v.text),
    "llm.prompt_template.version": ("prompt_version", v.scalar_text),
    "llm.prompt_template.variables": ("*prompt_variables", v.json_object),
    "tool.name": ("tool_name", v.nonempty_text),
    "tool_call.id": ("tool_call_id", v.scalar_text),
    "tool_call.function.name": ("tool_name", v.nonempty_text),
    "tool_call.function.arguments": ("tool_args", None),
    "reranker.query": ("query", v.text),
}
OPENLLMETRY: dict[str, tuple[str, Converter | None]] = {
    "traceloop.span.kind": ("kind", _lookup(TRACELOOP_KINDS, lower=True)),
    "traceloop.entity.input": ("tl_input", v.json_value),
    "traceloop.entity.output": ("tl_output", v.json_value),
    "traceloop.prompt.key": ("prompt_name", v.scalar_text),
    "traceloop.prompt.version": ("prompt_version", v.scalar_text),
    "traceloop.prompt.template": ("prompt_template", v.text),
    "llm.usage.prompt_tokens": ("in_tokens", v.count),
    "llm.usage.completion_tokens": ("out_tokens", v.count),
    "llm.usage.total_tokens": ("total_tokens", v.count),
    "llm.usage.cache_read_input_tokens": ("cached_tokens", v.count),
    "gen_ai.is_streaming": ("stream", v.flag),
    "llm.is_streaming": ("stream", v.flag),
    "llm.request.type": ("op", operation),
}
LANGFUSE: dict[str, tuple[str, Converter | None]] = {
    "langfuse.observation.type": ("kind", _lookup(LANGFUSE_KINDS, lower=True)),
    "langfuse.observation.input": ("lf_input", None),
    "langfuse.observation.output": ("lf_output", None),
    "langfuse.observation.model.name": ("response_model", v.nonempty_text),
    "langfuse.observation.model.parameters": ("*params", v.json_object),
    "langfuse.observation.usage_details": ("usage_details", v.json_object),
    "langfuse.observation.cost_details": ("cost_details", v.json_object),
    "langfuse.observation.completion_start_time": ("completion_start_ns", v.iso_time_ns),
    "langfuse.observation.prompt.name": ("prompt_name", v.scalar_text),
    "langfuse.observation.prompt.version": ("prompt_version", v.scalar_text),
    "langfuse.observation.level": ("lf_level", v.text),
    "langfuse.observation.status_message": ("lf_status", v.text),
    "langfuse.observation.metadata": ("*metadata", v.json_object),
    "langfuse.trace.metadata": ("*metadata", v.json_object),
    "langfuse.trace.tags": ("+tags", v.string_list),
    "langfuse.environment": ("environment", v.nonempty_text),
    "langfuse.release": ("release", v.nonempty_text),
    "langfuse.session.id": ("session", v.scalar_text),
    "langfuse.user.id": ("user", v.scalar_text),
}
LOUPE: dict[str, tuple[str, Converter | None]] = {
    "loupe.span.kind": ("kind", canonical_kind),
    "loupe.tags": ("+tags", v.string_list),
    "loupe.environment": ("environment", v.nonempty_text),
    "loupe.release": ("release", v.nonempty_text),
    "loupe.prompt.name": ("prompt_name", v.scalar_text),
    "loupe.prompt.version": ("prompt_version", v.scalar_text),
    "loupe.prompt.template": ("prompt_template", v.text),
    "loupe.prompt.variables": ("*prompt_variables", v.json_object),
    "loupe.input": ("io_input", None),
    "loupe.output": ("io_output", None),
}
# Where a convention reads a shared key differently from the others.
OVERRIDES: dict[str, dict[str, tuple[str, Converter | None]]] = {
    "openinference": {
        "gen_ai.request.model": ("_", None),  # the response model in OI's genai mode; ours is in invocation params
        "gen_ai.tool.call.arguments": ("_", None),  # the tool's schema (a copy of tool.parameters), not arguments
    },
}
PREFIXES: tuple[tuple[str, Handler], ...] = (
    ("llm.input_messages.", indexed("flat_in")),
    ("llm.output_messages.", indexed("flat_out")),
    ("gen_ai.prompt.", indexed("flat_prompt")),
    ("gen_ai.completion.", indexed("flat_completion")),
    ("retrieval.documents.", indexed("flat_docs")),
    ("reranker.output_documents.", indexed("flat_docs")),
    ("embedding.embeddings.", indexed("flat_embed")),
    ("gen_ai.request.", into("params", lambda x: x)),
    ("traceloop.association.properties.", into("metadata", v.text, _ASSOCIATION)),
    ("traceloop.prompt.template_variables.", into("prompt_variables", lambda x: x)),
    ("langfuse.trace.metadata.", into("metadata", v.json_quoted_text)),
    ("langfuse.observation.metadata.", into("metadata", v.json_quoted_text, {"finish_reason": "lf_finish"})),
    ("loupe.metadata.", into("metadata", v.text)),
)
PREFIX_HANDLERS = dict(PREFIXES)
PREFIX_MAX_DOTS = max(prefix.count(".") for prefix, _ in PREFIXES)

# --- convention detection ------------------------------------------------------------------------

CONVENTIONS = ("genai", "openinference", "openllmetry", "langfuse", "loupe")
SCOPES = {"traceloop.tracer": "openllmetry", "opentelemetry.instrumentation.openai.v1": "openllmetry",
          "langfuse-sdk": "langfuse", "opentelemetry.util.genai.handler": "genai",
          "opentelemetry.instrumentation.openai_v2": "genai"}
SCOPE_PREFIXES = (("openinference.instrumentation", "openinference"), ("loupe", "loupe"), ("langfuse", "langfuse"))
MARKERS = (("openinference.span.kind", "openinference"), ("langfuse.observation.type", "langfuse"),
           ("traceloop.span.kind", "openllmetry"), ("traceloop.workflow.name", "openllmetry"),
           ("traceloop.entity.name", "openllmetry"), ("llm.request.type", "openllmetry"), ("loupe.span.kind", "loupe"))


def _compile(table: dict[str, tuple[str, Converter | None]]) -> dict[str, tuple[int, str, str, Converter | None]]:
    """Slot syntax parsed once: (mode, slot, item key, converter); modes as in the module docstring."""
    out = {}
    for key, (spec, convert) in table.items():
        if spec == "_":
            out[key] = (4, "", "", None)
        elif spec[0] == "+":
            out[key] = (2, spec[1:], "", convert)
        elif spec[0] == "*":
            out[key] = (3, spec[1:], "", convert)
        elif ":" in spec:
            slot, _, item = spec.partition(":")
            out[key] = (1, slot, item, convert)
        else:
            out[key] = (0, spec, "", convert)
    return out


_OWN = {"genai": GENAI, "openinference": OPENINFERENCE, "openllmetry": OPENLLMETRY, "langfuse": LANGFUSE,
        "loupe": LOUPE}
TABLES = {
    name: _compile({**GENAI, **OPENINFERENCE, **OPENLLMETRY, **LANGFUSE, **LOUPE, **_OWN.get(name, {}),
                    **OVERRIDES.get(name, {})})
    for name in (*CONVENTIONS, "none")
}


def detect(scope_name: str, attributes: dict[str, Any]) -> str:
    """Scope name first (cheap and exact), then marker keys, then any gen_ai.* key."""
    found = SCOPES.get(scope_name)
    if found:
        return found
    for prefix, name in SCOPE_PREFIXES:
        if scope_name.startswith(prefix):
            return name
    for key, name in MARKERS:
        if key in attributes:
            return name
    for key in attributes:
        if key.startswith("gen_ai."):
            return "genai"
    return "none"
