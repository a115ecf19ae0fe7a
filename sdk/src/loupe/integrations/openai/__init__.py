"""Trace the official `openai` client (1.x and 2.x): Chat Completions, Responses, Embeddings, sync
and async, streamed or not, with OpenTelemetry GenAI attributes.

A thin wrapper of our own around `create()`/`parse()` of the client's resource classes rather than
opentelemetry-instrumentation-openai-v2: that one has no span for the Responses API, drops cached
tokens, and puts TTFT only in a metric; all three matter to Loupe.

Streaming: when the app streams Chat Completions without `stream_options`, the wrapper asks for
`{"include_usage": True}` (token counts, hence cost, exist only that way) and hides the extra
usage-only chunk from the app. `instrument_openai(stream_usage=False)` leaves requests untouched.
"""

from __future__ import annotations

import functools
import importlib
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from loupe import _state
from loupe._span import finish, record_error
from loupe.integrations.openai._extract import (
    CHAT,
    EMBEDDINGS,
    RESPONSES,
    given,
    request_attributes,
    response_attributes,
    span_name,
)
from loupe.integrations.openai._stream import TracedAsyncStream, TracedStream, new_accumulator

__all__ = ["instrument_openai", "uninstrument_openai"]

_TARGETS: tuple[tuple[str, str, str, str, bool], ...] = (
    # module, class, method, api, is_async
    ("openai.resources.chat.completions", "Completions", "create", CHAT, False),
    ("openai.resources.chat.completions", "AsyncCompletions", "create", CHAT, True),
    ("openai.resources.chat.completions", "Completions", "parse", CHAT, False),
    ("openai.resources.chat.completions", "AsyncCompletions", "parse", CHAT, True),
    ("openai.resources.responses", "Responses", "create", RESPONSES, False),
    ("openai.resources.responses", "AsyncResponses", "create", RESPONSES, True),
    ("openai.resources.responses", "Responses", "parse", RESPONSES, False),
    ("openai.resources.responses", "AsyncResponses", "parse", RESPONSES, True),
    ("openai.resources.embeddings", "Embeddings", "create", EMBEDDINGS, False),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", EMBEDDINGS, True),
)
_patched: list[tuple[type, str, Callable[..., Any]]] = []
_options = {"stream_usage": True}


class _Call:
    """One traced request: its span, and what the response handling needs."""

    __slots__ = ("api", "span", "active", "started", "stream", "hide_usage_chunk")

    def __init__(self, api: str, resource: Any, kwargs: dict[str, Any], active: _state.Active) -> None:
        self.api = api
        self.active = active
        self.stream = bool(given(kwargs, "stream"))
        self.hide_usage_chunk = False
        attrs = request_attributes(api, resource, kwargs, active)
        self.span = active.tracer.start_span(span_name(api, kwargs), kind=SpanKind.CLIENT, attributes=attrs)
        self.started = time.perf_counter()

    def adjust(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.stream and self.api == CHAT and _options["stream_usage"] and not given(kwargs, "stream_options"):
            self.hide_usage_chunk = True
            return {**kwargs, "stream_options": {"include_usage": True}}
        return kwargs

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, Exception):
            record_error(self.span, exc)
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                self.span.set_attribute("http.response.status_code", status)
        finish(self.span, "llm")

    def result(self, result: Any, is_async: bool) -> Any:
        try:
            if self.stream:
                stream_type = _stream_type(is_async)
                if stream_type is not None and isinstance(result, stream_type):
                    acc = new_accumulator(self.api, self.started, self.hide_usage_chunk)
                    wrapper = TracedAsyncStream if is_async else TracedStream
                    return wrapper(result, self.span, acc, self.active)
            elif self.span.is_recording():
                self.span.set_attributes(response_attributes(self.api, result, self.active))
        except Exception:
            _state.log_once("openai-response", "could not record an OpenAI response")
        # Raw responses (`with_raw_response`) and anything unexpected end here with request data only.
        finish(self.span, "llm")
        return result


def _stream_type(is_async: bool) -> type | None:
    try:
        import openai

        return openai.AsyncStream if is_async else openai.Stream
    except Exception:
        return None


def _begin(api: str, resource: Any, kwargs: dict[str, Any]) -> _Call | None:
    active = _state.current
    if not active.enabled:
        return None
    try:
        return _Call(api, resource, kwargs, active)
    except Exception:
        _state.log_once("openai-start", "could not start a span for an OpenAI call")
        return None


def _detach(token: object) -> None:
    try:
        otel_context.detach(token)  # type: ignore[arg-type]
    except Exception:
        _state.log_once("openai-detach", "could not restore the context after an OpenAI call")


def _wrap(original: Callable[..., Any], api: str, is_async: bool) -> Callable[..., Any]:
    if is_async:

        @functools.wraps(original)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = _begin(api, self, kwargs)
            if call is None:
                return await original(self, *args, **kwargs)
            kwargs = call.adjust(kwargs)
            token = otel_context.attach(trace.set_span_in_context(call.span))
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as exc:
                _detach(token)
                call.fail(exc)
                raise
            _detach(token)
            return call.result(result, True)

        wrapper: Callable[..., Any] = traced_async
    else:

        @functools.wraps(original)
        def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = _begin(api, self, kwargs)
            if call is None:
                return original(self, *args, **kwargs)
            kwargs = call.adjust(kwargs)
            token = otel_context.attach(trace.set_span_in_context(call.span))
            try:
                result = original(self, *args, **kwargs)
            except BaseException as exc:
                _detach(token)
                call.fail(exc)
                raise
            _detach(token)
            return call.result(result, False)

        wrapper = traced
    wrapper.__loupe_original__ = original  # type: ignore[attr-defined]
    return wrapper


def instrument_openai(*, stream_usage: bool = True) -> bool:
    """Patch the `openai` client classes (idempotent). Returns False when `openai` is not installed.

    `stream_usage`: ask streamed Chat Completions for usage when the app did not set `stream_options`.
    """
    _options["stream_usage"] = stream_usage
    if _patched:
        return True
    try:
        for module_name, class_name, method, api, is_async in _TARGETS:
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError):
                continue  # older clients: no Responses API, or no parse()
            original = cls.__dict__.get(method)
            if original is None or hasattr(original, "__loupe_original__"):
                continue
            setattr(cls, method, _wrap(original, api, is_async))
            _patched.append((cls, method, original))
    except Exception:
        _state.log_once("openai-instrument", "could not instrument the openai client")
    return bool(_patched)


def uninstrument_openai() -> None:
    """Restore the client's original methods."""
    while _patched:
        cls, method, original = _patched.pop()
        setattr(cls, method, original)
