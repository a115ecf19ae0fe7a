"""`@loupe.observe`: one span per call of a sync or async function, generator or async generator.

The wrapper keeps the wrapped function's nature (coroutine function, generator function…) and
signature, so frameworks that inspect it (FastAPI, pytest) see the original. Exceptions are
recorded on the span and re-raised unchanged; failures of the SDK itself fall back to a plain call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace

from loupe import _state
from loupe import attributes as A
from loupe._encode import to_json, to_text_or_json
from loupe._span import finish, otel_kind, record_error, start_attributes

F = TypeVar("F", bound=Callable[..., Any])
MAX_COLLECTED_ITEMS = 1000  # yields kept for the span's output; the rest are counted, not kept


class _Binder:
    """Maps a call's arguments to parameter names, cheaper than `Signature.bind` per call."""

    __slots__ = ("names", "rest", "skip")

    def __init__(self, fn: Callable[..., Any]) -> None:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        self.names = [p.name for p in params if p.kind in positional]
        self.rest = next((p.name for p in params if p.kind is inspect.Parameter.VAR_POSITIONAL), "args")
        self.skip = self.names[0] if self.names and self.names[0] in ("self", "cls") else None

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = dict(zip(self.names, args, strict=False))
        if len(args) > len(self.names):
            bound[self.rest] = args[len(self.names) :]
        if kwargs:
            bound.update(kwargs)
        if self.skip is not None:
            bound.pop(self.skip, None)
        return bound


class _Spec:
    __slots__ = ("name", "kind", "otel_kind", "attrs", "binder", "capture_input", "capture_output", "keys")

    def __init__(self, fn: Callable[..., Any], name: str | None, kind: str | None, inp: bool, out: bool) -> None:
        self.name = name or getattr(fn, "__qualname__", None) or repr(fn)
        self.kind = kind
        self.otel_kind = otel_kind(kind)
        self.attrs = start_attributes(kind, self.name)
        # A tool's input and output are its call's arguments and result in the conventions.
        self.keys = (A.TOOL_CALL_ARGUMENTS, A.TOOL_CALL_RESULT) if kind == A.KIND_TOOL else (A.INPUT, A.OUTPUT)
        self.binder = _Binder(fn)
        self.capture_input = inp
        self.capture_output = out

    def begin(self, active: _state.Active, args: tuple[Any, ...], kwargs: dict[str, Any]) -> trace.Span | None:
        try:
            s = active.tracer.start_span(self.name, kind=self.otel_kind, attributes=self.attrs)
            if self.capture_input and active.capture_content and s.is_recording():
                s.set_attribute(self.keys[0], to_json(self.binder(args, kwargs), active.max_chars, active.redact))
            return s
        except Exception:
            _state.log_once("observe-start", "could not start a span for %s", self.name)
            return None

    def succeed(self, s: trace.Span, active: _state.Active, output: Any) -> None:
        try:
            if self.capture_output and active.capture_content and output is not None and s.is_recording():
                s.set_attribute(self.keys[1], to_text_or_json(output, active.max_chars, active.redact))
        except Exception:
            _state.log_once("observe-output", "could not record the output of %s", self.name)
        finish(s, self.kind)

    def fail(self, s: trace.Span, exc: BaseException) -> None:
        # Cancellation, KeyboardInterrupt and generator closing end the span without an error.
        if isinstance(exc, Exception):
            record_error(s, exc)
        finish(s, self.kind)


def _detach(token: object) -> None:
    try:
        otel_context.detach(token)  # type: ignore[arg-type]
    except Exception:
        _state.log_once("observe-detach", "could not restore the context after a call")


def _collected(items: list[Any]) -> Any:
    if items and all(isinstance(i, str) for i in items):
        return "".join(items)  # streamed text reads best as one string
    return items


def _wrap_function(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = _state.current
        if not active.enabled:
            return fn(*args, **kwargs)
        s = spec.begin(active, args, kwargs)
        if s is None:
            return fn(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(s))
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            spec.fail(s, exc)
            raise
        _detach(token)
        spec.succeed(s, active, result)
        return result

    return wrapper


def _wrap_coroutine(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = _state.current
        if not active.enabled:
            return await fn(*args, **kwargs)
        s = spec.begin(active, args, kwargs)
        if s is None:
            return await fn(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(s))
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _detach(token)
            spec.fail(s, exc)
            raise
        _detach(token)
        spec.succeed(s, active, result)
        return result

    return wrapper


def _wrap_generator(fn: Callable[..., Generator[Any, Any, Any]], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        active = _state.current
        if not active.enabled:
            return (yield from fn(*args, **kwargs))
        gen = fn(*args, **kwargs)
        s = spec.begin(active, args, kwargs)
        if s is None:
            return (yield from gen)
        ctx = trace.set_span_in_context(s)
        keep = spec.capture_output and active.capture_content
        items: list[Any] = []
        sent: Any = None
        pending: BaseException | None = None
        while True:
            # The span is current only while the generator body runs, not while the consumer does.
            token = otel_context.attach(ctx)
            try:
                item = gen.send(sent) if pending is None else gen.throw(pending)
            except StopIteration as stop:
                _detach(token)
                spec.succeed(s, active, _collected(items) if items else stop.value)
                return stop.value
            except BaseException as exc:
                _detach(token)
                spec.fail(s, exc)
                raise
            _detach(token)
            pending = None
            if keep and len(items) < MAX_COLLECTED_ITEMS:
                items.append(item)
            try:
                sent = yield item
            except GeneratorExit:  # the consumer stopped early: close the body, keep what it yielded
                try:
                    gen.close()
                finally:
                    spec.succeed(s, active, _collected(items))
                raise
            except BaseException as exc:
                pending, sent = exc, None

    return wrapper


def _wrap_async_generator(fn: Callable[..., AsyncGenerator[Any, Any]], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        active = _state.current
        agen = fn(*args, **kwargs)
        s = spec.begin(active, args, kwargs) if active.enabled else None
        ctx = trace.set_span_in_context(s) if s is not None else None
        keep = s is not None and spec.capture_output and active.capture_content
        items: list[Any] = []
        sent: Any = None
        pending: BaseException | None = None
        while True:
            token = otel_context.attach(ctx) if ctx is not None else None
            try:
                item = await (agen.asend(sent) if pending is None else agen.athrow(pending))
            except StopAsyncIteration:
                if token is not None:
                    _detach(token)
                if s is not None:
                    spec.succeed(s, active, _collected(items))
                return
            except BaseException as exc:
                if token is not None:
                    _detach(token)
                if s is not None:
                    spec.fail(s, exc)
                raise
            if token is not None:
                _detach(token)
            pending = None
            if keep and len(items) < MAX_COLLECTED_ITEMS:
                items.append(item)
            try:
                sent = yield item
            except GeneratorExit:
                try:
                    await agen.aclose()
                finally:
                    if s is not None:
                        spec.succeed(s, active, _collected(items))
                raise
            except BaseException as exc:
                pending, sent = exc, None

    return wrapper


@overload
def observe(fn: F, /) -> F: ...
@overload
def observe(
    *, name: str | None = None, kind: str | None = None, capture_input: bool = True, capture_output: bool = True
) -> Callable[[F], F]: ...
def observe(
    fn: Any = None,
    /,
    *,
    name: str | None = None,
    kind: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
) -> Any:
    """Trace every call: `@loupe.observe` or `@loupe.observe(kind="tool", name="search")`.

    Input is the bound arguments (without `self`/`cls`) as JSON in `loupe.input`; output is the
    return value, or the collected yields of a generator, in `loupe.output`. `kind` is one of
    llm, embedding, retriever, reranker, tool, agent, chain (default), guardrail, evaluator, other.
    """

    def decorate(func: F) -> F:
        try:
            spec = _Spec(func, name, kind, capture_input, capture_output)
            if inspect.isasyncgenfunction(func):
                return _wrap_async_generator(func, spec)  # type: ignore[return-value]
            if inspect.isgeneratorfunction(func):
                return _wrap_generator(func, spec)  # type: ignore[return-value]
            if inspect.iscoroutinefunction(func):
                return _wrap_coroutine(func, spec)  # type: ignore[return-value]
            return _wrap_function(func, spec)  # type: ignore[return-value]
        except Exception:
            _state.log_once("observe-decorate", "could not decorate %r", func)
            return func

    return decorate(fn) if fn is not None else decorate
