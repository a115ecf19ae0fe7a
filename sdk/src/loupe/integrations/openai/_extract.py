"""OpenAI requests and responses -> GenAI span attributes (Chat Completions, Responses, Embeddings).

Pure functions over the keyword arguments of `create()` and the returned objects; they read
fields with `getattr` so that older and newer client versions (and OpenAI-compatible servers
that omit fields) all work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loupe import _state
from loupe import attributes as A
from loupe._encode import to_json
from loupe._messages import input_messages, output_messages, system_parts

CHAT = "chat_completions"
RESPONSES = "responses"
EMBEDDINGS = "embeddings"
PROVIDER = "openai"
AZURE_PROVIDER = "azure.ai.openai"


def given(kwargs: Mapping[str, Any], key: str) -> Any:
    """The argument, or None when absent or one of the client's NOT_GIVEN / omit sentinels."""
    value = kwargs.get(key)
    if value is None or type(value).__name__ in ("NotGiven", "Omit"):
        return None
    return value


def _server(resource: Any) -> dict[str, Any]:
    """Provider and server from the client behind a resource (`client.chat.completions`…)."""
    try:
        client = resource._client
        url = client.base_url  # httpx.URL
        attrs: dict[str, Any] = {A.SERVER_ADDRESS: url.host}
        if type(client).__name__.startswith("Azure"):  # AzureOpenAI / AsyncAzureOpenAI
            attrs[A.PROVIDER_NAME] = AZURE_PROVIDER
        if url.port:
            attrs[A.SERVER_PORT] = url.port
        return attrs
    except Exception:
        return {}


def span_name(api: str, kwargs: Mapping[str, Any]) -> str:
    model = given(kwargs, "model")
    op = "embeddings" if api == EMBEDDINGS else "chat"
    return f"{op} {model}" if model else op


def request_attributes(api: str, resource: Any, kwargs: Mapping[str, Any], active: _state.Active) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        A.OPERATION_NAME: "embeddings" if api == EMBEDDINGS else "chat",
        A.PROVIDER_NAME: PROVIDER,
        **_server(resource),
    }
    if api != EMBEDDINGS:
        attrs[A.OPENAI_API_TYPE] = api
    if (model := given(kwargs, "model")) is not None:
        attrs[A.REQUEST_MODEL] = str(model)
    if api == EMBEDDINGS:
        if (fmt := given(kwargs, "encoding_format")) is not None:
            attrs[A.REQUEST_ENCODING_FORMATS] = [str(fmt)]
        if active.capture_content and (inp := given(kwargs, "input")) is not None:
            attrs[A.INPUT] = to_json(inp, active.max_chars, active.redact)
        return attrs
    max_tokens = given(kwargs, "max_output_tokens" if api == RESPONSES else "max_completion_tokens")
    if max_tokens is None:
        max_tokens = given(kwargs, "max_tokens")
    stop = given(kwargs, "stop")
    for key, value in (
        (A.REQUEST_TEMPERATURE, given(kwargs, "temperature")),
        (A.REQUEST_TOP_P, given(kwargs, "top_p")),
        (A.REQUEST_MAX_TOKENS, max_tokens),
        (A.REQUEST_SEED, given(kwargs, "seed")),
        (A.REQUEST_STREAM, bool(given(kwargs, "stream"))),
        (A.REQUEST_STOP_SEQUENCES, [stop] if isinstance(stop, str) else stop),
    ):
        if value is not None:
            attrs[key] = value
    n = given(kwargs, "n")
    if isinstance(n, int) and n != 1:
        attrs[A.REQUEST_CHOICE_COUNT] = n
    if active.capture_content:
        limit, redact = active.max_chars, active.redact
        if api == RESPONSES:
            messages, system = input_messages(given(kwargs, "input"))
            system = system_parts(given(kwargs, "instructions")) + system
        else:
            messages, system = input_messages(given(kwargs, "messages"))
        if messages:
            attrs[A.INPUT_MESSAGES] = to_json(messages, limit, redact)
        if system:
            attrs[A.SYSTEM_INSTRUCTIONS] = to_json(system, limit, redact)
        if (tools := given(kwargs, "tools")) is not None:
            attrs[A.TOOL_DEFINITIONS] = to_json(tools, limit, redact)
    return attrs


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def _usage(usage: Any, api: str) -> dict[str, Any]:
    if usage is None:
        return {}
    if api == RESPONSES:
        fields = (
            (A.USAGE_INPUT_TOKENS, ("input_tokens",)),
            (A.USAGE_OUTPUT_TOKENS, ("output_tokens",)),
            (A.USAGE_CACHE_READ_INPUT_TOKENS, ("input_tokens_details", "cached_tokens")),
            (A.USAGE_REASONING_OUTPUT_TOKENS, ("output_tokens_details", "reasoning_tokens")),
        )
    else:
        fields = (
            (A.USAGE_INPUT_TOKENS, ("prompt_tokens",)),
            (A.USAGE_OUTPUT_TOKENS, ("completion_tokens",)),
            (A.USAGE_CACHE_READ_INPUT_TOKENS, ("prompt_tokens_details", "cached_tokens")),
            (A.USAGE_REASONING_OUTPUT_TOKENS, ("completion_tokens_details", "reasoning_tokens")),
        )
    out = {}
    for key, path in fields:
        value = _get(usage, *path)
        if isinstance(value, int):
            out[key] = value
    return out


def chat_response_attributes(
    response: Any, active: _state.Active, messages: list[Any] | None = None, reasons: list[str] | None = None
) -> dict[str, Any]:
    """From a ChatCompletion, or from a stream's accumulated `messages`/`reasons` (then `response`
    holds only id, model and usage)."""
    attrs: dict[str, Any] = {}
    for key, value in (
        (A.RESPONSE_ID, _get(response, "id")),
        (A.RESPONSE_MODEL, _get(response, "model")),
        ("openai.response.system_fingerprint", _get(response, "system_fingerprint")),
        ("openai.response.service_tier", _get(response, "service_tier")),
    ):
        if isinstance(value, str):
            attrs[key] = value
    attrs.update(_usage(_get(response, "usage"), CHAT))
    if messages is None:
        choices = _get(response, "choices") or []
        messages = [_get(c, "message") for c in choices]
        reasons = [str(_get(c, "finish_reason") or "") for c in choices]
    if reasons and any(reasons):
        attrs[A.RESPONSE_FINISH_REASONS] = reasons
    if active.capture_content and messages:
        out = output_messages([m for m in messages if m is not None], reasons)
        attrs[A.OUTPUT_MESSAGES] = to_json(out, active.max_chars, active.redact)
    return attrs


def _responses_finish_reason(response: Any) -> str:
    status = _get(response, "status")
    if status == "incomplete":
        reason = _get(response, "incomplete_details", "reason")
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if status == "failed":
        return "error"
    if any(_get(item, "type") == "function_call" for item in _get(response, "output") or []):
        return "tool_calls"
    return "stop"


def responses_response_attributes(response: Any, active: _state.Active) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, value in ((A.RESPONSE_ID, _get(response, "id")), (A.RESPONSE_MODEL, _get(response, "model"))):
        if isinstance(value, str):
            attrs[key] = value
    attrs.update(_usage(_get(response, "usage"), RESPONSES))
    reason = _responses_finish_reason(response)
    attrs[A.RESPONSE_FINISH_REASONS] = [reason]
    if active.capture_content:
        out = output_messages(list(_get(response, "output") or []), [reason])
        if out:
            attrs[A.OUTPUT_MESSAGES] = to_json(out, active.max_chars, active.redact)
    return attrs


def embeddings_response_attributes(response: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if isinstance(model := _get(response, "model"), str):
        attrs[A.RESPONSE_MODEL] = model
    if isinstance(tokens := _get(response, "usage", "prompt_tokens"), int):
        attrs[A.USAGE_INPUT_TOKENS] = tokens
    data = _get(response, "data") or []
    if data and isinstance(vector := _get(data[0], "embedding"), list):
        attrs[A.EMBEDDINGS_DIMENSION_COUNT] = len(vector)
    return attrs


def response_attributes(api: str, response: Any, active: _state.Active) -> dict[str, Any]:
    if api == CHAT:
        return chat_response_attributes(response, active)
    if api == RESPONSES:
        return responses_response_attributes(response, active)
    return embeddings_response_attributes(response)
