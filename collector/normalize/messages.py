"""Every message shape into the canonical one:

    {"role": "system|user|assistant|tool", "content": "<text>",
     "tool_calls": [{"id", "name", "arguments"}]?, "tool_call_id": "..."?}

Shapes understood: semconv parts (`{"role", "parts": [{"type": "text", "content"}, {"type": "tool_call"…}]}`,
as JSON text or structured log bodies), OpenAI chat messages (content string or content parts,
`tool_calls` with `function`), Responses API items (`message`/`function_call`/`function_call_output`),
whole OpenAI payloads (`{"messages"…}`, `{"tools", "messages"}`, `{"choices"…}`, `{"output"…}`,
`{"input", "instructions"}`), plain strings, and flattened indexed keys (OpenInference
`llm.input_messages.N.message.*`, OpenLLMetry's legacy `gen_ai.prompt.N.*`). Tool-call arguments are
decoded from JSON text when they are JSON, so every convention yields the same value.
"""

from __future__ import annotations

from typing import Any

from collector.normalize.values import dumps, json_value

_ROLES = {"system": "system", "developer": "system", "user": "user", "human": "user", "assistant": "assistant",
          "ai": "assistant", "model": "assistant", "bot": "assistant", "tool": "tool", "function": "tool",
          "ipython": "tool"}
_TEXT_PARTS = ("text", "input_text", "output_text", "refusal")


def role_of(value: Any, default: str) -> str:
    if isinstance(value, str) and value:
        return _ROLES.get(value.lower(), value.lower())
    return default


def _s(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else dumps(value)


def _arguments(value: Any) -> Any:
    return json_value(value) if isinstance(value, str) else value


def _part_text(part: Any) -> str:
    """One content part as text; binary parts become a marker (kept as a data URL for the content limiter)."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return _s(part)
    kind = part.get("type")
    if kind in _TEXT_PARTS or (kind is None and ("text" in part or "content" in part)):
        return _s(part.get("text", part.get("content")))
    if kind in ("reasoning", "tool_call", "tool_call_response", "function_call"):
        return ""
    if kind == "image_url":
        url = part.get("image_url")
        return f"[image: {_s(url.get('url') if isinstance(url, dict) else url)}]"
    if kind == "blob":
        kind, mime = _s(part.get("modality") or "blob"), _s(part.get("mime_type"))
        return f"[{kind}: data:{mime};base64,{_s(part.get('content'))}]"
    if kind in ("uri", "file", "input_image", "input_file", "input_audio"):
        ref = part.get("uri") or part.get("image_url") or part.get("file_id") or part.get("url") or ""
        return f"[{kind}: {_s(ref)}]"
    return dumps(part)


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (_part_text(p) for p in content) if t)
    return _s(content)


def _tool_call(call: Any) -> dict[str, Any] | None:
    """OpenAI (`{"id", "function": {"name", "arguments"}}`), semconv part or Responses item -> canonical."""
    if not isinstance(call, dict):
        return None
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    name = fn.get("name")
    if name is None and "arguments" not in fn:
        return None
    call_id = call.get("id") or call.get("call_id")
    return {"id": _s(call_id), "name": _s(name), "arguments": _arguments(fn.get("arguments"))}


def _from_parts(item: dict[str, Any], default_role: str) -> dict[str, Any]:
    """Semconv parts; one tight loop because this is the hot shape (every gen_ai.* message)."""
    parts = item.get("parts")
    texts: list[str] = []
    out: dict[str, Any] = {"role": role_of(item.get("role"), default_role), "content": ""}
    calls = []
    for part in parts if isinstance(parts, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            text = part.get("content")
            if text:
                texts.append(text if isinstance(text, str) else _s(text))
        elif kind == "tool_call":
            call = _tool_call(part)
            if call:
                calls.append(call)
        elif kind == "tool_call_response":
            texts.append(_s(part.get("response", part.get("result"))))
            out["tool_call_id"] = _s(part.get("id"))
        else:
            text = _part_text(part)
            if text:
                texts.append(text)
    out["content"] = texts[0] if len(texts) == 1 else "\n".join(texts)
    if calls:
        out["tool_calls"] = calls
    return out


def message(item: Any, default_role: str) -> dict[str, Any] | None:
    if isinstance(item, str):
        return {"role": default_role, "content": item}
    if not isinstance(item, dict):
        return None
    if "parts" in item:
        return _from_parts(item, default_role)
    kind = item.get("type")
    if kind == "function_call":
        call = _tool_call(item)
        return {"role": "assistant", "content": "", "tool_calls": [call]} if call else None
    if kind == "function_call_output":
        return {"role": "tool", "content": _s(item.get("output")), "tool_call_id": _s(item.get("call_id"))}
    if "role" not in item and "content" not in item and "message" not in item:
        return None
    if "message" in item and isinstance(item["message"], dict):  # a chat choice / legacy gen_ai.choice body
        return message(item["message"], default_role)
    out: dict[str, Any] = {"role": role_of(item.get("role"), default_role),
                           "content": content_text(item.get("content"))}
    raw_calls = item.get("tool_calls")
    if isinstance(raw_calls, list):
        calls = [c for c in (_tool_call(call) for call in raw_calls) if c]
        if calls:
            out["tool_calls"] = calls
    elif isinstance(item.get("function_call"), dict):  # legacy OpenAI functions
        call = _tool_call(item["function_call"])
        out["tool_calls"] = [call] if call else []
    call_id = item.get("tool_call_id") or (item.get("id") if out["role"] == "tool" else None)
    if call_id:
        out["tool_call_id"] = _s(call_id)
    return out


def messages(value: Any, default_role: str, finish: list[str] | None = None) -> list[dict[str, Any]] | None:
    """Any supported shape (already decoded, or JSON text) -> canonical messages; None if not messages."""
    value = json_value(value)
    if isinstance(value, str):
        return [{"role": default_role, "content": value}] if value else None
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            return messages(value["messages"], default_role, finish)
        if isinstance(value.get("choices"), list):
            return messages(value["choices"], "assistant", finish)
        if isinstance(value.get("output"), list) and value.get("object") == "response":
            return messages(value["output"], "assistant", finish)
        if "input" in value and ("instructions" in value or "model" in value):
            head = [{"role": "system", "content": _s(value["instructions"])}] if value.get("instructions") else []
            rest = messages(value["input"], default_role, finish) or []
            return (head + rest) or None
        if isinstance(value.get("prompt"), str | list) and "role" not in value:
            return messages(value["prompt"], default_role, finish)
        value = [value]
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        msg = message(item, default_role)
        if msg is None:
            continue
        out.append(msg)
        if finish is not None and isinstance(item, dict) and isinstance(item.get("finish_reason"), str):
            finish.append(item["finish_reason"])
    return out or None


def system_message(value: Any) -> dict[str, Any] | None:
    """`gen_ai.system_instructions` (a parts list, or plain text) as a leading system message."""
    value = json_value(value)
    text = content_text(value if isinstance(value, list) else [value] if isinstance(value, dict) else value)
    return {"role": "system", "content": text} if text else None


def flat_messages(indexed: dict[int, dict[str, Any]], default_role: str,
                  finish: list[str] | None = None) -> list[dict[str, Any]] | None:
    """Flattened keys grouped by message index (`{0: {"message.role": "user", …}}`) -> messages."""
    out = []
    for index in sorted(indexed):
        fields = {k[8:] if k.startswith("message.") else k: v for k, v in indexed[index].items()}
        contents: dict[int, str] = {}
        calls: dict[int, dict[str, Any]] = {}
        for key, value in fields.items():
            head, _, rest = key.partition(".")
            number, _, sub = rest.partition(".")
            if not number.isdigit():
                continue
            if head == "contents" and sub.endswith("text"):
                contents[int(number)] = _s(value)
            elif head == "tool_calls":
                sub = sub.removeprefix("tool_call.").removeprefix("function.")
                calls.setdefault(int(number), {})[sub] = value
        content = fields.get("content")
        msg: dict[str, Any] = {"role": role_of(fields.get("role"), default_role),
                               "content": content_text(content) if content is not None else
                               "\n".join(contents[k] for k in sorted(contents))}
        tool_calls = [c for c in (_tool_call(calls[k]) for k in sorted(calls)) if c]
        if tool_calls:
            msg["tool_calls"] = tool_calls
        if fields.get("tool_call_id"):
            msg["tool_call_id"] = _s(fields["tool_call_id"])
        if finish is not None and isinstance(fields.get("finish_reason"), str):
            finish.append(fields["finish_reason"])
        out.append(msg)
    return out or None


def tool_calls_of(msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for m in msgs if m.get("role") == "assistant" for call in m.get("tool_calls") or ()]
