"""`loupe.span()` and the span handle with GenAI helpers.

The handle wraps an OpenTelemetry span; every helper returns at once when the span is not
recording (SDK disabled, trace sampled out, no provider), and never raises into the app.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from loupe import _state
from loupe import attributes as A
from loupe._encode import to_json, to_text_or_json
from loupe._span_helpers import SpanHelpers

_CLIENT_KINDS = frozenset({A.KIND_LLM, A.KIND_EMBEDDING})


def start_attributes(kind: str | None, name: str) -> dict[str, Any]:
    """Attributes known when the span starts: the gen_ai operation, so processors see it in
    `on_start` (kinds without an operation are written at the end, see `finish`); tool and agent
    spans are named after the tool or agent until `set_tool`/`set_agent` say otherwise."""
    op = A.OPERATION_BY_KIND.get(kind or "")
    if not op:
        return {}
    if kind == A.KIND_TOOL:
        return {A.OPERATION_NAME: op, A.TOOL_NAME: name}
    if kind == A.KIND_AGENT:
        return {A.OPERATION_NAME: op, A.AGENT_NAME: name}
    return {A.OPERATION_NAME: op}


def otel_kind(kind: str | None) -> SpanKind:
    return SpanKind.CLIENT if kind in _CLIENT_KINDS else SpanKind.INTERNAL


def record_error(span: trace.Span, exc: BaseException) -> None:
    try:
        if not span.is_recording():
            return
        span.record_exception(exc)
        message = f"{type(exc).__name__}: {exc}"
        span.set_status(Status(StatusCode.ERROR, message[:1024]))
        span.set_attribute(A.ERROR_TYPE, f"{type(exc).__module__}.{type(exc).__qualname__}")
    except Exception:
        _state.log_once("record-error", "could not record an exception on a span")


def finish(span: trace.Span, kind: str | None) -> None:
    """End the span; a span that gained no gen_ai operation is labelled with its loupe kind, so a
    span never carries both and `set_llm()` on a default-kind span simply makes it an LLM span."""
    try:
        # Spans started with an operation (llm, tool…) have nothing to add.
        if kind not in A.OPERATION_BY_KIND and span.is_recording():
            attrs = getattr(span, "attributes", None)
            if attrs is not None and A.OPERATION_NAME not in attrs:
                span.set_attribute(A.SPAN_KIND, kind if kind in A.KINDS else A.KIND_CHAIN)
        span.end()
    except Exception:
        _state.log_once("finish", "could not end a span")


class LoupeSpan(SpanHelpers):
    """Handle yielded by `loupe.span()` and returned by `loupe.current_span()`."""

    __slots__ = ("_span", "_active", "_has_operation")

    def __init__(self, span: trace.Span, active: _state.Active | None = None, has_operation: bool = False) -> None:
        self._span = span
        self._active = active or _state.current
        self._has_operation = has_operation  # started with a gen_ai operation: no need to look

    @property
    def otel_span(self) -> trace.Span:
        """The underlying OpenTelemetry span, for anything the helpers do not cover."""
        return self._span

    @property
    def trace_id(self) -> str | None:
        ctx = self._span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    @property
    def span_id(self) -> str | None:
        ctx = self._span.get_span_context()
        return format(ctx.span_id, "016x") if ctx.is_valid else None

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attribute(self, key: str, value: Any) -> None:
        """Set any attribute; values that are not primitives (or lists of them) become JSON."""
        if not self._span.is_recording():
            return
        try:
            self._span.set_attribute(key, _attribute_value(value, self._active.max_chars))
        except Exception:
            _state.log_once("set-attribute", "could not set span attribute %r", key)

    def set_input(self, value: Any) -> None:
        """`loupe.input`: plain text for strings, JSON otherwise (only with content capture on)."""
        self._set_content(A.INPUT, value)

    def set_output(self, value: Any) -> None:
        self._set_content(A.OUTPUT, value)

    def _set_content(self, key: str, value: Any) -> None:
        active = self._active
        if not active.capture_content or not self._span.is_recording():
            return
        try:
            self._span.set_attribute(key, to_text_or_json(value, active.max_chars, active.redact))
        except Exception:
            _state.log_once("set-content", "could not record %s", key)

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span as failed with `exc` (status error, exception event, `error.type`)."""
        record_error(self._span, exc)


def _attribute_value(value: Any, limit: int) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
        return list(value)
    return to_json(value, limit)


NOOP_SPAN = LoupeSpan(trace.INVALID_SPAN, _state.UNINITIALISED)


class span:  # noqa: N801 - used like a function: `with loupe.span("retrieve", kind="retriever") as s:`
    """Start a span as the current span for the `with` block; exceptions are recorded and re-raised."""

    __slots__ = ("_name", "_kind", "_attributes", "_span", "_token")

    def __init__(self, name: str, *, kind: str | None = None, attributes: dict[str, Any] | None = None) -> None:
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._span: trace.Span | None = None
        self._token: object = None

    def __enter__(self) -> LoupeSpan:
        active = _state.current
        if not active.enabled:
            return NOOP_SPAN
        try:
            attrs = start_attributes(self._kind, self._name)
            if self._attributes:
                attrs.update(self._attributes)
            s = active.tracer.start_span(self._name, kind=otel_kind(self._kind), attributes=attrs)
            self._token = otel_context.attach(trace.set_span_in_context(s))
            self._span = s
            return LoupeSpan(s, active, A.OPERATION_NAME in attrs)
        except Exception:
            _state.log_once("span-start", "could not start a span")
            return NOOP_SPAN

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        s = self._span
        if s is None:
            return
        self._span = None
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        except Exception:
            _state.log_once("span-detach", "could not restore the context after a span")
        if exc is not None and isinstance(exc, Exception):
            record_error(s, exc)
        finish(s, self._kind)

    async def __aenter__(self) -> LoupeSpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)


def current_span() -> LoupeSpan:
    """The current span (from `@observe`, `loupe.span` or any OpenTelemetry instrumentation)."""
    return LoupeSpan(trace.get_current_span())


def current_trace_id() -> str | None:
    """Hex trace id of the current span, or None outside any span."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
