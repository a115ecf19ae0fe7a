"""Targets from canonical spans (rows of `spans` as dicts, content as JSON text): what a judge sees.

A span target carries the span's conversation and, for groundedness, the documents that retriever
spans of the same trace fetched before the answer was written. A trace target is the whole trace
(its root's question and answer; the judges' transcript comes from its longest LLM history). A session
target is one turn per trace, in order. Content that arrived as OTLP log records is joined first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from collector.normalize import messages_from_log_body
from judges.core import Target

_DOC_KINDS = ("retriever", "reranker")
MAX_SESSION_TRACES = 50  # the latest turns; the judge's transcript keeps the opening and the end anyway


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{\"":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str:
    value = _decode(value)
    if value is None or value == "":
        return ""
    return value.strip() if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _messages(value: Any) -> list[dict[str, Any]]:
    value = _decode(value)
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    return []


def _content(message: dict[str, Any]) -> str:
    return _text(message.get("content"))


def question_answer(span: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(question, answer, messages): the last user message and the assistant's reply for a model call,
    else the span's input and output as text."""
    inputs, outputs = _messages(span.get("input")), _messages(span.get("output"))
    if inputs or outputs:
        question = next((_content(m) for m in reversed(inputs) if m.get("role") == "user"), "")
        answer = "\n".join(c for m in outputs if m.get("role") in ("assistant", None) and (c := _content(m)))
        return question, answer, inputs + outputs
    return _text(span.get("input")), _text(span.get("output")), []


def documents_of(span: dict[str, Any]) -> list[dict[str, Any]]:
    docs = _decode(span.get("documents"))
    return [d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else []


def attach_logs(spans: list[dict[str, Any]], logs: Iterable[dict[str, Any]]) -> None:
    """Fill a span's missing input/output from its content log records (in place)."""
    by_span: dict[str, list[tuple[str, Any]]] = {}
    for record in logs:
        by_span.setdefault(record["span_id"], []).append((record["event_name"], _decode(record["body"])))
    for span in spans:
        records = by_span.get(span["span_id"])
        if not records or (span.get("input") and span.get("output")):
            continue
        inputs, outputs = messages_from_log_body(records)
        if not span.get("input") and inputs:
            span["input"] = json.dumps(inputs, ensure_ascii=False)
        if not span.get("output") and outputs:
            span["output"] = json.dumps(outputs, ensure_ascii=False)


def _end(span: dict[str, Any]) -> datetime | None:
    return span.get("end_time") or span.get("start_time")


def context_documents(span: dict[str, Any], trace_spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The span's own documents; else what the trace retrieved before this span ended — the latest
    reranker's pick when there is one (that is what reached the prompt), else every retriever's."""
    own = documents_of(span)
    if own:
        return own
    end = _end(span)
    before = [s for s in trace_spans if s.get("kind") in _DOC_KINDS and s["span_id"] != span["span_id"]
              and (end is None or s.get("start_time") is None or s["start_time"] <= end)]
    rerankers = [s for s in before if s.get("kind") == "reranker" and documents_of(s)]
    if rerankers:
        return documents_of(max(rerankers, key=lambda s: s["start_time"]))
    docs, seen = [], set()
    for s in before:
        for d in documents_of(s):
            key = d.get("id") or d.get("content")
            if key not in seen:
                seen.add(key)
                docs.append(d)
    return docs


def span_target(span: dict[str, Any], trace_spans: list[dict[str, Any]]) -> Target:
    question, answer, messages = question_answer(span)
    return Target(level="span", target_id=span["span_id"], trace_id=span["trace_id"], input=question,
                  output=answer, messages=tuple(messages),
                  documents=tuple(context_documents(span, trace_spans)), spans=(span,),
                  metadata={"kind": span.get("kind", ""), "name": span.get("name", "")})


def _root(spans: list[dict[str, Any]]) -> dict[str, Any]:
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if not s.get("parent_span_id") or s["parent_span_id"] not in ids]
    return min(roots or spans, key=lambda s: (s.get("parent_span_id") != "", s["start_time"]))


def trace_turn(spans: list[dict[str, Any]]) -> tuple[str, str]:
    """The trace's question and answer: its root's, else its first model call's question and last answer."""
    question, answer, _ = question_answer(_root(spans))
    llm = [s for s in spans if s.get("kind") == "llm"]
    if not question and llm:
        question = question_answer(llm[0])[0]
    if not answer and llm:
        answer = question_answer(llm[-1])[1]
    return question, answer


def trace_target(trace_id: str, spans: list[dict[str, Any]]) -> Target:
    question, answer = trace_turn(spans)
    docs = [d for s in spans if s.get("kind") in _DOC_KINDS for d in documents_of(s)]
    root = _root(spans)
    return Target(level="trace", target_id=trace_id, trace_id=trace_id, input=question, output=answer,
                  documents=tuple(docs), spans=tuple(spans),
                  metadata={"name": root.get("name", ""), "session_id": root.get("session_id", "")})


def session_target(session_id: str, traces: list[list[dict[str, Any]]]) -> Target:
    """One user/assistant turn per trace, oldest first."""
    ordered = sorted((t for t in traces if t), key=lambda t: min(s["start_time"] for s in t))[-MAX_SESSION_TRACES:]
    messages: list[dict[str, Any]] = []
    for spans in ordered:
        question, answer = trace_turn(spans)
        if question:
            messages.append({"role": "user", "content": question})
        if answer:
            messages.append({"role": "assistant", "content": answer})
    first = next((m["content"] for m in messages if m["role"] == "user"), "")
    last = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")
    latest = ordered[-1][0]["trace_id"] if ordered else ""
    return Target(level="session", target_id=session_id, trace_id=latest, input=first, output=last,
                  messages=tuple(messages), metadata={"traces": len(ordered)})
