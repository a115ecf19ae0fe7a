"""Trace context that spans inherit: session, user, tags, metadata and the active prompt.

One ContextVar holds an immutable frame with its span attributes precomputed; a SpanProcessor's
`on_start` copies them onto every span started inside. asyncio tasks inherit ContextVars by
themselves; threads do not, hence `wrap()` and `ThreadPoolExecutor` below.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from loupe import _state
from loupe import attributes as A
from loupe._encode import to_json

P = ParamSpec("P")
R = TypeVar("R")


class Frame:
    __slots__ = ("parent", "owner", "session_id", "user_id", "tags", "metadata", "attributes", "prompt_attributes")

    def __init__(
        self,
        parent: Frame | None,
        owner: object,
        session_id: str | None,
        user_id: str | None,
        tags: tuple[str, ...],
        metadata: dict[str, Any],
        prompt_attributes: dict[str, Any],
    ) -> None:
        self.parent = parent
        self.owner = owner
        self.session_id = session_id
        self.user_id = user_id
        self.tags = tags
        self.metadata = metadata
        self.prompt_attributes = prompt_attributes
        attrs: dict[str, Any] = {}
        if session_id:
            attrs[A.SESSION_ID] = session_id
            attrs[A.CONVERSATION_ID] = session_id
        if user_id:
            attrs[A.USER_ID] = user_id
        if tags:
            attrs[A.TAGS] = tags
        for key, value in metadata.items():
            attrs[A.METADATA_PREFIX + key] = value
        self.attributes = attrs


_CURRENT: contextvars.ContextVar[Frame | None] = contextvars.ContextVar("loupe_context", default=None)


def metadata_value(value: Any) -> str:
    """Metadata values are strings on the wire (the collector's contract): others travel as JSON."""
    return value if isinstance(value, str) else to_json(value, 4096)


def push(
    owner: object,
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    prompt_attributes: dict[str, Any] | None = None,
) -> None:
    parent = _CURRENT.get()
    merged_tags = parent.tags if parent else ()
    if tags:
        merged_tags = tuple(dict.fromkeys((*merged_tags, *(str(t) for t in tags))))
    merged_meta = dict(parent.metadata) if parent else {}
    if metadata:
        merged_meta.update({str(k): metadata_value(v) for k, v in metadata.items()})
    frame = Frame(
        parent,
        owner,
        str(session_id) if session_id is not None else (parent.session_id if parent else None),
        str(user_id) if user_id is not None else (parent.user_id if parent else None),
        merged_tags,
        merged_meta,
        prompt_attributes if prompt_attributes is not None else (parent.prompt_attributes if parent else {}),
    )
    _CURRENT.set(frame)


def pop(owner: object) -> None:
    # Frames link to their parent, so leaving never needs the token from `set()`: the same
    # context manager object can be shared by threads and tasks, each with its own ContextVar value.
    frame = _CURRENT.get()
    while frame is not None and frame.owner is not owner:
        frame = frame.parent
    if frame is not None:
        _CURRENT.set(frame.parent)


class context:  # noqa: N801 - used like a function: `with loupe.context(session_id=…):`
    """Attributes for every span started inside: `session.id` (and `gen_ai.conversation.id`),
    `user.id`, `loupe.tags`, `loupe.metadata.<key>`. Nested contexts add tags and metadata and
    override the session and user."""

    __slots__ = ("_kwargs",)

    def __init__(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        tags: Iterable[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._kwargs = {"session_id": session_id, "user_id": user_id, "tags": tags, "metadata": metadata}

    def __enter__(self) -> context:
        try:
            push(self, **self._kwargs)
        except Exception:
            _state.log_once("context", "could not enter loupe.context")
        return self

    def __exit__(self, *exc: object) -> None:
        pop(self)


def wrap(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` running in the context of the caller of `wrap` (current span and loupe.context):
    `threading.Thread(target=loupe.wrap(work))`, `loop.run_in_executor(pool, loupe.wrap(work))`."""
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # One copy per call: a Context cannot be entered by two threads at once.
        return captured.copy().run(fn, *args, **kwargs)

    return run


class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """`concurrent.futures.ThreadPoolExecutor` whose tasks run in the submitter's context, so spans
    started in them are children of the submitting span and carry its `loupe.context`."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[R]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


class ContextProcessor(SpanProcessor):
    """Stamps the current loupe.context (and the active prompt, on model calls) onto new spans."""

    def __init__(self, extra: dict[str, Any] | None = None) -> None:
        self._extra = extra or {}
        self.active = True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not self.active:
            return
        try:
            if self._extra:
                span.set_attributes(self._extra)
            frame = _CURRENT.get()
            if frame is None:
                return
            if frame.attributes:
                span.set_attributes(frame.attributes)
            if frame.prompt_attributes:
                attrs = span.attributes
                if attrs is not None and attrs.get(A.OPERATION_NAME) in A.LLM_OPERATIONS:
                    span.set_attributes(frame.prompt_attributes)
        except Exception:
            _state.log_once("context-processor", "could not add context attributes to a span")

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        self.active = False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
