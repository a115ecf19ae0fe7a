"""What a target gives each judge placeholder, capped so that a judge prompt stays bounded.

{question} the last user message, {answer} the assistant's output, {context} the retrieved documents
with their ids, {transcript} the conversation (the opening and the latest turns when it is long),
{tool_calls} the tools the application called. An empty string means the target has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from judges.core import Target


@dataclass(frozen=True)
class ContentLimits:
    question_chars: int = 4_000
    answer_chars: int = 8_000
    document_chars: int = 3_000
    context_chars: int = 12_000
    max_documents: int = 20
    message_chars: int = 2_000
    transcript_chars: int = 16_000
    tool_calls_chars: int = 4_000


def clip(text: str, limit: int) -> str:
    """Head and tail with a marker between: an answer's conclusion is often at its end."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]} […{len(text) - head - tail} characters cut…] {text[len(text) - tail:]}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _decoded(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
    except ValueError:
        return value


def _json_list(value: Any) -> list[Any]:
    value = _decoded(value)
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _messages(target: Target) -> list[dict[str, Any]]:
    """The conversation, with the answer last. Without messages: the LLM span with the longest history."""
    messages = [m for m in target.messages if isinstance(m, dict)]
    if not messages:
        llm = [s for s in target.spans if s.get("kind") == "llm"]
        if llm:
            span = max(llm, key=lambda s: len(_json_list(s.get("input"))))
            messages = [m for m in _json_list(span.get("input")) + _json_list(span.get("output"))
                        if isinstance(m, dict)]
    if target.output and not (messages and messages[-1].get("role") == "assistant"
                              and _text(messages[-1].get("content")) == target.output.strip()):
        messages.append({"role": "assistant", "content": target.output})
    return messages


def _last(messages: list[dict[str, Any]], role: str) -> str:
    return next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == role), "")


def _line(m: dict[str, Any], limit: int) -> str:
    calls = "".join(f" → calls {c.get('name')}({_text(c.get('arguments'))})" for c in m.get("tool_calls") or []
                    if isinstance(c, dict))
    return clip(f"{m.get('role', '?')}: {_text(m.get('content'))}{calls}", limit)


def _transcript(messages: list[dict[str, Any]], lim: ContentLimits) -> str:
    """The opening message (the task) and as many recent ones as fit; the middle goes first."""
    lines = [_line(m, lim.message_chars) for m in messages if m.get("role") != "system"]
    if sum(len(x) + 1 for x in lines) <= lim.transcript_chars:
        return "\n".join(lines)
    kept, budget = [], lim.transcript_chars - len(lines[0]) - 60
    for line in reversed(lines[1:]):
        if len(line) + 1 > budget:
            break
        kept.append(line)
        budget -= len(line) + 1
    skipped = len(lines) - 1 - len(kept)
    return "\n".join([lines[0], f"[… {skipped} earlier messages omitted …]", *reversed(kept)])


def _context(documents: tuple[dict[str, Any], ...], lim: ContentLimits) -> str:
    parts, used = [], 0
    for i, doc in enumerate(documents[: lim.max_documents]):
        body = clip(_text(doc.get("content")), lim.document_chars)
        part = f'<document id="{doc.get("id") or f"doc-{i + 1}"}">\n{body}\n</document>'
        if used + len(part) > lim.context_chars and parts:
            break
        parts.append(part if used + len(part) <= lim.context_chars else clip(part, lim.context_chars))
        used += len(part)
    if omitted := len(documents) - len(parts):
        parts.append(f"[{omitted} more documents omitted]")
    return "\n".join(parts)


def _tool_calls(target: Target, messages: list[dict[str, Any]], lim: ContentLimits) -> str:
    """Each call once, as name(arguments) → result: from the messages, completed by the tool spans."""
    results = {m.get("tool_call_id"): _text(m.get("content")) for m in messages if m.get("role") == "tool"}
    calls: dict[str, str] = {}  # "name(arguments)" -> result
    for c in (c for m in messages for c in m.get("tool_calls") or [] if isinstance(c, dict)):
        calls[f"{c.get('name')}({_text(c.get('arguments'))})"] = results.get(c.get("id"), "")
    for span in (s for s in target.spans if s.get("kind") == "tool"):
        call = f"{span.get('tool_name') or span.get('name')}({_text(_decoded(span.get('input')))})"
        calls[call] = _text(span.get("output")) or calls.get(call, "")
    lines = [clip(f"{call} → {result}" if result else call, lim.message_chars) for call, result in calls.items()]
    return clip("\n".join(lines), lim.tool_calls_chars)


def build_inputs(target: Target, names: tuple[str, ...], lim: ContentLimits) -> dict[str, str]:
    """The placeholders `names` filled from the target; an empty string where the target has nothing."""
    messages = _messages(target)
    make = {"question": lambda: clip(target.input.strip() or _last(messages, "user"), lim.question_chars),
            "answer": lambda: clip(target.output.strip() or _last(messages, "assistant"), lim.answer_chars),
            "context": lambda: _context(target.documents, lim),
            "transcript": lambda: _transcript(messages, lim) if messages else "",
            "tool_calls": lambda: _tool_calls(target, messages, lim)}
    return {name: make[name]() for name in names}
