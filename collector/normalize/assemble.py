"""Slots (what the tables gathered) into canonical columns. Each function fills one group of columns."""

from __future__ import annotations

from typing import Any

from collector.normalize import messages as m
from collector.normalize.tables import FINISH_REASONS, KIND_OPERATIONS, OPERATION_KINDS
from collector.normalize.values import NOT_JSON, count, dumps, json_value, load_json, number
from store.rows import SpanRow

# Provider from the model name, only when the span names none (Langfuse sends only the model).
MODEL_PROVIDERS = (("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("chatgpt", "openai"),
                   ("text-embedding-", "openai"), ("claude", "anthropic"), ("gemini", "google"),
                   ("mistral", "mistral"), ("command", "cohere"))
# Invocation parameters that are the request itself, not parameters of it.
_NOT_PARAMS = frozenset({"model", "messages", "input", "stream", "stream_options", "tools", "functions", "prompt",
                         "instructions", "encoding_format"})
# Slots holding JSON that must parse: when it does not, the raw attribute is kept under its own key.
_STRICT = {"in_messages": "gen_ai.input.messages", "out_messages": "gen_ai.output.messages",
           "documents": "gen_ai.retrieval.documents"}
_LLM_INPUTS = ("in_messages", "flat_in", "flat_prompt", "old_prompt", "lf_input", "io_input", "tl_input")
# Without any kind key, these slots still say "a model was called".
_LLM_EVIDENCE = ("response_model", "request_model", "in_tokens", "out_tokens", "in_messages", "out_messages",
                 "system_instructions", "flat_in", "flat_out", "flat_prompt", "flat_completion", "old_prompt",
                 "old_completion", "usage_details")
_LLM_OUTPUTS = ("out_messages", "flat_out", "flat_completion", "old_completion", "lf_output", "io_output", "tl_output")


def prepare(acc: dict[str, Any]) -> None:
    """Slots that other slots depend on: Langfuse's usage JSON also reveals the operation."""
    details = acc.get("usage_details")
    if details:
        _usage_details(details, acc)


def context(row: SpanRow, acc: dict[str, Any]) -> None:
    op = acc.get("named_op") or acc.get("op") or ""
    kind = acc.get("kind") or OPERATION_KINDS.get(op)
    if kind is None:
        kind = "llm" if any(slot in acc for slot in _LLM_EVIDENCE) else "other"
    row.kind = kind
    row.operation = op or KIND_OPERATIONS.get(kind, "")
    row.session_id = acc.get("session") or acc.get("assoc_session") or acc.get("conversation") or ""
    row.user_id = acc.get("user") or acc.get("assoc_user") or ""
    if "tags" in acc:
        row.tags = list(dict.fromkeys(acc["tags"]))
    if "metadata" in acc:
        row.metadata = {str(k): val if isinstance(val, str) else dumps(val) for k, val in acc["metadata"].items()}
    row.environment = acc.get("environment") or row.environment
    row.release = acc.get("release") or row.release
    row.prompt_name = acc.get("prompt_name", "")
    row.prompt_version = acc.get("prompt_version", "")
    row.prompt_template = acc.get("prompt_template", "")
    if acc.get("prompt_variables"):
        row.prompt_variables = dumps(acc["prompt_variables"])


def model(row: SpanRow, acc: dict[str, Any]) -> None:
    invocation = acc.get("invocation") or {}
    row.request_model = acc.get("request_model") or (invocation.get("model") if isinstance(
        invocation.get("model"), str) else "") or ""
    row.response_model = acc.get("response_model", "")
    provider = acc.get("provider") or acc.get("provider_old") or ""
    if not provider and row.kind in ("llm", "embedding"):
        name = (row.response_model or row.request_model).lower()
        provider = next((p for prefix, p in MODEL_PROVIDERS if name.startswith(prefix)), "")
    row.provider = provider.lower()
    params = {k: val for k, val in invocation.items() if k not in _NOT_PARAMS}
    params.update(acc.get("params") or {})
    params = {k: val for k, val in params.items() if val is not None and val != "Infinity"}
    if params:
        row.model_parameters = dumps(params)
    stream = acc.get("stream")
    if stream is None and isinstance(invocation.get("stream"), bool):
        stream = invocation["stream"]
    row.stream = int(bool(stream))


def usage(row: SpanRow, acc: dict[str, Any], start_ns: int) -> None:
    row.input_tokens = acc.get("in_tokens", 0)
    row.output_tokens = acc.get("out_tokens", 0)
    row.cached_input_tokens = acc.get("cached_tokens", 0)
    row.reasoning_tokens = acc.get("reasoning_tokens", 0)
    row.total_tokens = acc.get("total_tokens") or row.input_tokens + row.output_tokens
    cost = acc.get("cost")
    if cost is None and acc.get("cost_details"):
        costs = acc["cost_details"]
        cost = number(costs.get("total"))
        if cost is None:
            cost = sum(x for x in (number(val) for val in costs.values()) if x is not None)
    if cost is not None:
        row.cost_usd, row.cost_source = cost, "reported"
    ttft = None
    if acc.get("ttft_s") is not None:
        ttft = acc["ttft_s"] * 1000
    elif acc.get("completion_start_ns"):
        ttft = (acc["completion_start_ns"] - start_ns) / 1e6
    elif acc.get("ttft_event_ns"):
        ttft = (acc["ttft_event_ns"] - start_ns) / 1e6
    if ttft is not None and 0 <= ttft < 86_400_000:
        row.ttft_ms = ttft
        if acc.get("stream") is None:
            row.stream = 1  # only streams have a first token; Langfuse and OpenLLMetry say it no other way


def _first(mapping: dict[str, Any], *paths: str) -> int | None:
    for path in paths:
        node: Any = mapping
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        found = count(node)
        if found is not None:
            return found
    return None


def _usage_details(details: dict[str, Any], acc: dict[str, Any]) -> None:
    """Langfuse's usage JSON: chat names, Responses names (which also reveal the operation) or its own."""
    found = {
        "in_tokens": _first(details, "prompt_tokens", "input_tokens", "input"),
        "out_tokens": _first(details, "completion_tokens", "output_tokens", "output"),
        "total_tokens": _first(details, "total_tokens", "total"),
        "cached_tokens": _first(details, "prompt_tokens_details.cached_tokens", "input_tokens_details.cached_tokens",
                                "input_cached_tokens", "cache_read_input_tokens", "input_cache_read"),
        "reasoning_tokens": _first(details, "completion_tokens_details.reasoning_tokens",
                                   "output_tokens_details.reasoning_tokens", "output_reasoning_tokens",
                                   "output_reasoning"),
    }
    for slot, value in found.items():
        if value is not None:
            acc.setdefault(slot, value)
    if "input_tokens" in details and "prompt_tokens" not in details and "named_op" not in acc:
        acc["named_op"] = "responses"


def _strict_messages(acc: dict[str, Any], slot: str, role: str, finish: list[str] | None,
                     leftovers: dict[str, str]) -> list[dict[str, Any]] | None:
    value = acc[slot]
    if slot in ("flat_in", "flat_out", "flat_prompt", "flat_completion"):
        return m.flat_messages(value, role, finish)
    if slot in _STRICT and isinstance(value, str):
        decoded = load_json(value)  # decode once here; messages() takes the decoded value
        if decoded is NOT_JSON:
            leftovers[_STRICT[slot]] = value
            return None
        found = m.messages(decoded, role, finish)
        if found is None:
            leftovers[_STRICT[slot]] = value
        return found
    if slot == "tl_input" and isinstance(value, dict) and "kwargs" in value:
        value = _call_args(value)
    found = m.messages(value, role, finish)
    if found is None and slot in _STRICT:
        leftovers[_STRICT[slot]] = value if isinstance(value, str) else dumps(value)
    return found


def _pick_messages(acc: dict[str, Any], slots: tuple[str, ...], role: str, finish: list[str] | None,
                   leftovers: dict[str, str]) -> list[dict[str, Any]] | None:
    for slot in slots:
        if slot in acc:
            found = _strict_messages(acc, slot, role, finish, leftovers)
            if found:
                return found
    return None


def _as_given(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else dumps(value)


def _call_args(value: Any) -> Any:
    """OpenLLMetry wraps a function's arguments as {"args": [...], "kwargs": {...}}."""
    if isinstance(value, dict) and set(value) <= {"args", "kwargs"}:
        args, kwargs = value.get("args") or [], value.get("kwargs") or {}
        if not args:
            return kwargs
        if not kwargs and len(args) == 1:
            return args[0]
    return value


def _first_slot(acc: dict[str, Any], *slots: str) -> Any:
    return next((acc[slot] for slot in slots if acc.get(slot) is not None), None)


def content(row: SpanRow, acc: dict[str, Any], name: str, leftovers: dict[str, str]) -> None:
    finish: list[str] = []
    kind = row.kind
    if kind == "llm" or (kind in ("agent", "chain", "other") and ("in_messages" in acc or "flat_in" in acc)):
        inputs = _pick_messages(acc, _LLM_INPUTS, "user", None, leftovers)
        if inputs is None and "content_events" in acc:
            inputs, outputs = events_messages(acc["content_events"])
            acc.setdefault("event_outputs", outputs)
        system = _system(acc, leftovers) if "system_instructions" in acc else None
        if system and not (inputs and inputs[0].get("role") == "system"):
            inputs = [system, *(inputs or [])]
        outputs = _pick_messages(acc, _LLM_OUTPUTS, "assistant", finish, leftovers) or acc.get("event_outputs")
        row.input = dumps(inputs) if inputs else ""
        row.output = dumps(outputs) if outputs else ""
        calls = m.tool_calls_of(outputs or [])
        if calls:
            row.tool_calls = dumps(calls)
    elif kind == "embedding":
        texts = _embedding_texts(acc)
        row.input = dumps(texts) if texts else ""
        row.output = _as_given(acc.get("lf_output"))  # vectors (OpenInference output.value) are not kept
    elif kind == "tool":
        args = _call_args(_first_slot(acc, "tool_args", "io_input", "tl_input", "lf_input"))
        result = _first_slot(acc, "tool_result", "io_output", "tl_output", "lf_output")
        row.tool_name = acc.get("tool_name") or name.removesuffix(".tool")
        row.input, row.output = _as_given(args), _as_given(result)
        arguments = json_value(args) if isinstance(args, str) else args
        row.tool_calls = dumps([{"id": acc.get("tool_call_id", ""), "name": row.tool_name,
                                 "arguments": arguments, "result": row.output}])
    else:
        row.input = _as_given(_first_slot(acc, "io_input", "tl_input", "lf_input", "query"))
        row.output = _as_given(_first_slot(acc, "io_output", "tl_output", "lf_output"))
    docs = _documents(acc, leftovers, kind)
    if docs:
        row.documents = dumps(docs)
    reasons = acc.get("finish") or ([acc["lf_finish"]] if acc.get("lf_finish") else finish)
    row.finish_reasons = [FINISH_REASONS.get(r, r) for r in (x.lower() for x in reasons if isinstance(x, str))]


def _system(acc: dict[str, Any], leftovers: dict[str, str]) -> dict[str, Any] | None:
    """Plain text is accepted as instructions; text that looks like JSON but is not stays raw."""
    value = acc["system_instructions"]
    if isinstance(value, str) and value[:1] in "[{" and load_json(value) is NOT_JSON:
        leftovers["gen_ai.system_instructions"] = value
        return None
    return m.system_message(value)


def _embedding_texts(acc: dict[str, Any]) -> list[str] | None:
    if "flat_embed" in acc:
        flat = acc["flat_embed"]
        return [str(flat[i].get("embedding.text", "")) for i in sorted(flat) if "embedding.text" in flat[i]] or None
    if "in_messages" in acc:
        found = m.messages(acc["in_messages"], "user")
        return [msg["content"] for msg in found] if found else None
    value = _first_slot(acc, "lf_input", "io_input", "tl_input")
    value = json_value(value) if isinstance(value, str) else value
    if isinstance(value, dict):
        value = value.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item if isinstance(item, str) else dumps(item) for item in value]
    return None


def _documents(acc: dict[str, Any], leftovers: dict[str, str], kind: str) -> list[dict[str, Any]] | None:
    if "flat_docs" in acc:
        flat = acc["flat_docs"]
        items: Any = [{k.removeprefix("document."): val for k, val in flat[i].items()} for i in sorted(flat)]
    elif "documents" in acc:
        items = json_value(acc["documents"])
        if not isinstance(items, list):
            leftovers[_STRICT["documents"]] = _as_given(acc["documents"])
            return None
    elif kind == "retriever":
        items = _first_slot(acc, "io_output", "tl_output", "lf_output")
        items = json_value(items) if isinstance(items, str) else items
        if isinstance(items, dict):
            items = items.get("documents")
        if not isinstance(items, list):
            return None
    else:
        return None
    docs = []
    for item in items:
        if isinstance(item, str):
            docs.append({"id": "", "score": None, "content": item, "metadata": {}})
        elif isinstance(item, dict):
            meta = json_value(item.get("metadata")) if item.get("metadata") is not None else {}
            docs.append({"id": _as_given(item.get("id", item.get("document_id", ""))),
                         "score": number(item.get("score")),
                         "content": _as_given(item.get("content", item.get("page_content", item.get("text")))),
                         "metadata": meta})
    return docs or None


def events_messages(records: list[tuple[str, Any]]) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    from collector.normalize.logs import messages_from_log_body  # logs imports this module

    inputs, outputs = messages_from_log_body(records)
    return inputs or None, outputs or None


def status(row: SpanRow, acc: dict[str, Any], attributes: dict[str, Any]) -> None:
    error_type = attributes.get("error.type")
    failed = row.status == "error" or bool(error_type) or "exception" in acc or acc.get("lf_level") == "ERROR"
    if failed:
        row.status = "error"
        row.status_message = (row.status_message or acc.get("exception") or acc.get("lf_status")
                              or (str(error_type) if error_type else ""))
