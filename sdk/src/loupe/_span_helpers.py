"""The GenAI helpers of the span handle: model calls, retrieval, tools, agents, metadata."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loupe import _state
from loupe import attributes as A
from loupe._context import _CURRENT, metadata_value
from loupe._encode import to_json, to_text_or_json
from loupe._messages import as_dict, system_parts
from loupe._messages import input_messages as to_input_messages
from loupe._messages import output_messages as to_output_messages

if TYPE_CHECKING:
    from opentelemetry import trace


class SpanHelpers:
    __slots__ = ()
    _span: trace.Span
    _active: _state.Active
    _has_operation: bool

    def _claim_operation(self, operation: str) -> None:
        """Make a default-kind span into a gen_ai operation (e.g. `set_llm` on a `loupe.span`)."""
        if self._has_operation:
            return
        attrs = getattr(self._span, "attributes", None) or {}
        if A.OPERATION_NAME in attrs:
            self._has_operation = True
            return
        self._span.set_attribute(A.OPERATION_NAME, operation)
        self._has_operation = True
        frame = _CURRENT.get()
        if operation in A.LLM_OPERATIONS and frame is not None and frame.prompt_attributes:
            # The span started before it was known to be a model call: stamp the prompt now.
            self._span.set_attributes(frame.prompt_attributes)

    def set_llm(
        self,
        *,
        provider: str | None = None,
        request_model: str | None = None,
        response_model: str | None = None,
        input_messages: Any = None,
        output_messages: Any = None,
        system_instructions: Any = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        finish_reasons: Sequence[str] | None = None,
        ttft_s: float | None = None,
        stream: bool | None = None,
        response_id: str | None = None,
        operation: str = "chat",
    ) -> None:
        """A model call. Messages may be strings, OpenAI chat messages or Responses API items, or the
        conventions' parts schema; system messages go to `gen_ai.system_instructions`."""
        if not self._span.is_recording():
            return
        try:
            self._claim_operation(operation)
            attrs: dict[str, Any] = {}
            for key, value in (
                (A.PROVIDER_NAME, provider),
                (A.REQUEST_MODEL, request_model),
                (A.RESPONSE_MODEL, response_model),
                (A.RESPONSE_ID, response_id),
                (A.USAGE_INPUT_TOKENS, input_tokens),
                (A.USAGE_OUTPUT_TOKENS, output_tokens),
                (A.USAGE_CACHE_READ_INPUT_TOKENS, cached_input_tokens),
                (A.USAGE_REASONING_OUTPUT_TOKENS, reasoning_tokens),
                (A.REQUEST_TEMPERATURE, temperature),
                (A.REQUEST_MAX_TOKENS, max_tokens),
                (A.REQUEST_TOP_P, top_p),
                (A.REQUEST_STREAM, stream),
                (A.RESPONSE_TIME_TO_FIRST_CHUNK, ttft_s),
            ):
                if value is not None:
                    attrs[key] = value
            if finish_reasons:
                attrs[A.RESPONSE_FINISH_REASONS] = [str(r) for r in finish_reasons]
            active = self._active
            if active.capture_content:
                limit, redact = active.max_chars, active.redact
                if input_messages is not None or system_instructions is not None:
                    messages, system = to_input_messages(input_messages)
                    system = system_parts(system_instructions) + system
                    if messages:
                        attrs[A.INPUT_MESSAGES] = to_json(messages, limit, redact)
                    if system:
                        attrs[A.SYSTEM_INSTRUCTIONS] = to_json(system, limit, redact)
                if output_messages is not None:
                    out = to_output_messages(output_messages, list(finish_reasons or ()))
                    attrs[A.OUTPUT_MESSAGES] = to_json(out, limit, redact)
            self._span.set_attributes(attrs)
        except Exception:
            _state.log_once("set-llm", "could not record a model call")

    def set_retrieval(
        self,
        *,
        query: str | None = None,
        documents: Iterable[Any] | None = None,
        data_source: str | None = None,
    ) -> None:
        """Retrieved documents: dicts with id/content/score/metadata, strings, or objects with
        `page_content`/`metadata` (LangChain-style). Content and query need content capture."""
        if not self._span.is_recording():
            return
        try:
            self._claim_operation("retrieval")
            active = self._active
            attrs: dict[str, Any] = {}
            if data_source is not None:
                attrs[A.DATA_SOURCE_ID] = data_source
            if query is not None and active.capture_content:
                attrs[A.RETRIEVAL_QUERY_TEXT] = to_text_or_json(query, active.max_chars, active.redact)
            if documents is not None:
                docs = [_document(d, active.capture_content) for d in documents]
                attrs[A.RETRIEVAL_DOCUMENTS] = to_json(docs, active.max_chars, active.redact)
            self._span.set_attributes(attrs)
        except Exception:
            _state.log_once("set-retrieval", "could not record a retrieval")

    def set_tool(
        self,
        *,
        name: str | None = None,
        arguments: Any = None,
        result: Any = None,
        call_id: str | None = None,
        description: str | None = None,
    ) -> None:
        """A tool execution. String arguments/results are kept as they are (usually JSON already)."""
        if not self._span.is_recording():
            return
        try:
            self._claim_operation("execute_tool")
            active = self._active
            attrs: dict[str, Any] = {}
            if name is not None:
                attrs[A.TOOL_NAME] = name
            if call_id is not None:
                attrs[A.TOOL_CALL_ID] = call_id
            if description is not None:
                attrs[A.TOOL_DESCRIPTION] = description
            if active.capture_content:
                if arguments is not None:
                    attrs[A.TOOL_CALL_ARGUMENTS] = to_text_or_json(arguments, active.max_chars, active.redact)
                if result is not None:
                    attrs[A.TOOL_CALL_RESULT] = to_text_or_json(result, active.max_chars, active.redact)
            self._span.set_attributes(attrs)
        except Exception:
            _state.log_once("set-tool", "could not record a tool call")

    def set_agent(self, *, name: str | None = None, id: str | None = None, description: str | None = None) -> None:  # noqa: A002
        if not self._span.is_recording():
            return
        try:
            self._claim_operation("invoke_agent")
            for key, value in ((A.AGENT_NAME, name), (A.AGENT_ID, id), (A.AGENT_DESCRIPTION, description)):
                if value is not None:
                    self._span.set_attribute(key, value)
        except Exception:
            _state.log_once("set-agent", "could not record an agent")

    def set_metadata(self, metadata: Mapping[str, Any]) -> None:
        """`loupe.metadata.<key>` on this span only (use `loupe.context` for the whole trace)."""
        if not self._span.is_recording():
            return
        try:
            self._span.set_attributes({A.METADATA_PREFIX + str(k): metadata_value(v) for k, v in metadata.items()})
        except Exception:
            _state.log_once("set-metadata", "could not record metadata")

    def add_tags(self, *tags: str) -> None:
        if not self._span.is_recording():
            return
        try:
            attrs = getattr(self._span, "attributes", None) or {}
            existing = tuple(attrs.get(A.TAGS) or ())
            self._span.set_attribute(A.TAGS, list(dict.fromkeys((*existing, *map(str, tags)))))
        except Exception:
            _state.log_once("add-tags", "could not record tags")


def _document(doc: Any, with_content: bool) -> dict[str, Any]:
    if isinstance(doc, str):
        d: dict[str, Any] = {"content": doc}
    else:
        d = as_dict(doc)
    content = d.get("content", d.get("page_content", d.get("text")))
    out: dict[str, Any] = {}
    doc_id = d.get("id", d.get("document_id"))
    if doc_id is None and isinstance(d.get("metadata"), dict):
        doc_id = d["metadata"].get("id")
    if doc_id is not None:
        out["id"] = doc_id if isinstance(doc_id, str | int) else str(doc_id)
    if d.get("score") is not None:
        out["score"] = d["score"]
    if with_content:
        if content is not None:
            out["content"] = content
        if d.get("metadata"):
            out["metadata"] = d["metadata"]
    return out
