"""Streamed responses: wrap the client's stream, keep the span open until the stream ends.

The wrapper yields exactly the chunks the app would have seen: time to first chunk is taken at
the first chunk that carries content, text and tool-call fragments are accumulated, and usage
comes from the final chunk (Chat) or the `response.completed` event (Responses). When the SDK
itself asked for usage (`stream_options.include_usage`), the extra usage-only chunk is consumed
here and not passed on, so apps that index `chunk.choices[0]` keep working.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace

from loupe import _state
from loupe import attributes as A
from loupe._encode import to_json
from loupe._messages import output_messages
from loupe._span import finish, record_error
from loupe.integrations.openai._extract import (
    CHAT,
    _get,
    chat_response_attributes,
    responses_response_attributes,
)


class _Accumulator:
    def __init__(self, api: str, started: float, hide_usage_chunk: bool) -> None:
        self.api = api
        self.started = started
        self.hide_usage_chunk = hide_usage_chunk
        self.ttft: float | None = None
        self.meta: dict[str, Any] = {}  # id, model, usage (Chat) as the chunks reveal them
        self.choices: dict[int, dict[str, Any]] = {}
        self.final: Any = None  # the Responses API's completed response object
        self.text: list[str] = []

    def _first(self) -> None:
        if self.ttft is None:
            self.ttft = time.perf_counter() - self.started

    def add(self, item: Any) -> bool:
        """Record one chunk/event; True when it is our own usage chunk, to hide from the app."""
        if self.api != CHAT:
            kind = _get(item, "type") or ""
            if kind.endswith(".delta"):
                self._first()
                if kind == "response.output_text.delta":
                    self.text.append(_get(item, "delta") or "")
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                self.final = _get(item, "response")
            return False
        for key in ("id", "model", "system_fingerprint", "service_tier"):
            if (value := _get(item, key)) is not None:
                self.meta[key] = value
        usage = _get(item, "usage")
        if usage is not None:
            self.meta["usage"] = usage
        choices = _get(item, "choices") or []
        for choice in choices:
            state = self.choices.setdefault(_get(choice, "index") or 0, {"text": [], "tools": {}})
            delta = _get(choice, "delta")
            if (content := _get(delta, "content")) is not None and content != "":
                self._first()
                state["text"].append(content)
            for call in _get(delta, "tool_calls") or []:
                self._first()
                slot = state["tools"].setdefault(_get(call, "index") or 0, {"id": None, "name": "", "args": []})
                slot["id"] = _get(call, "id") or slot["id"]
                slot["name"] += _get(call, "function", "name") or ""
                slot["args"].append(_get(call, "function", "arguments") or "")
            if (reason := _get(choice, "finish_reason")) is not None:
                state["finish_reason"] = reason
        return self.hide_usage_chunk and not choices and usage is not None

    def attributes(self, active: _state.Active) -> dict[str, Any]:
        if self.api == CHAT:
            messages, reasons = [], []
            for index in sorted(self.choices):
                state = self.choices[index]
                message: dict[str, Any] = {"role": "assistant", "content": "".join(state["text"]) or None}
                tools = [state["tools"][i] for i in sorted(state["tools"])]
                if tools:
                    message["tool_calls"] = [
                        {"id": t["id"], "function": {"name": t["name"], "arguments": "".join(t["args"])}} for t in tools
                    ]
                messages.append(message)
                reasons.append(str(state.get("finish_reason") or ""))
            attrs = chat_response_attributes(self.meta, active, messages, reasons)
        elif self.final is not None:
            attrs = responses_response_attributes(self.final, active)
        else:  # stream ended early: keep the text seen so far
            attrs = {}
            if self.text and active.capture_content:
                out = output_messages("".join(self.text))
                attrs[A.OUTPUT_MESSAGES] = to_json(out, active.max_chars, active.redact)
        if self.ttft is not None:
            attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK] = self.ttft
        return attrs


class _Traced:
    """What the sync and async wrappers share: the span, the accumulator, finishing once."""

    def __init__(self, stream: Any, span: trace.Span, acc: _Accumulator, active: _state.Active) -> None:
        self._stream = stream
        self._span: trace.Span | None = span
        self._acc = acc
        self._active = active

    def _add(self, item: Any) -> bool:
        try:
            return self._acc.add(item)
        except Exception:
            _state.log_once("openai-chunk", "could not read a streamed chunk")
            return False

    def _finish(self, exc: BaseException | None = None) -> None:
        s, self._span = self._span, None
        if s is None:
            return
        try:
            s.set_attributes(self._acc.attributes(self._active))
        except Exception:
            _state.log_once("openai-stream-end", "could not record a streamed response")
        if isinstance(exc, Exception):
            record_error(s, exc)
        finish(s, "llm")

    def __getattr__(self, name: str) -> Any:
        # Everything else (`response`, …) is the client's stream; looked up via __dict__ so that a
        # half-built wrapper cannot recurse.
        stream = self.__dict__.get("_stream")
        if stream is None:
            raise AttributeError(name)
        return getattr(stream, name)

    def __del__(self) -> None:
        # An abandoned stream still ends its span, with what it had received.
        if getattr(self, "_span", None) is not None:
            self._finish()


class TracedStream(_Traced):
    def __init__(self, stream: Any, span: trace.Span, acc: _Accumulator, active: _state.Active) -> None:
        super().__init__(stream, span, acc, active)
        self._iterator = iter(stream)

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = next(self._iterator)
            except StopIteration:
                self._finish()
                raise
            except BaseException as exc:
                self._finish(exc)
                raise
            if not self._add(item):
                return item

    def __enter__(self) -> TracedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._finish()
        self._stream.close()


class TracedAsyncStream(_Traced):
    def __init__(self, stream: Any, span: trace.Span, acc: _Accumulator, active: _state.Active) -> None:
        super().__init__(stream, span, acc, active)
        self._iterator = stream.__aiter__()

    def __aiter__(self) -> TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self._iterator.__anext__()
            except StopAsyncIteration:
                self._finish()
                raise
            except BaseException as exc:
                self._finish(exc)
                raise
            if not self._add(item):
                return item

    async def __aenter__(self) -> TracedAsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._finish()
        await self._stream.close()


def new_accumulator(api: str, started: float, hide_usage_chunk: bool) -> _Accumulator:
    return _Accumulator(api, started, hide_usage_chunk)
