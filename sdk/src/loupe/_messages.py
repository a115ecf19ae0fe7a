"""Messages in any common shape -> the GenAI conventions' parts schema.

Accepted: plain strings, OpenAI Chat messages (with tool calls, tool results and multimodal
content), OpenAI Responses API input/output items, and messages already in the parts schema
`{"role": …, "parts": [{"type": "text", "content": …}]}`. System (and developer) messages are
split out into `gen_ai.system_instructions`, as the conventions ask.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Part = dict[str, Any]
Message = dict[str, Any]

_SYSTEM_ROLES = frozenset({"system", "developer"})
_TEXT_TYPES = frozenset({"text", "input_text", "output_text", "summary_text"})


def as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)  # the openai client's pydantic types
    if callable(dump):
        try:
            out = dump(exclude_none=True)
            return out if isinstance(out, dict) else {}
        except Exception:
            return {}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}


def text_part(text: Any) -> Part:
    return {"type": "text", "content": text if isinstance(text, str) else str(text)}


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments arrive as a JSON string; the conventions want the object."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _media_part(url: str, modality: str) -> Part:
    if url.startswith("data:") and "," in url:
        header, _, data = url.partition(",")
        mime = header[5:].split(";", 1)[0] or None
        return {"type": "blob", "modality": modality, "mime_type": mime, "content": data}
    return {"type": "uri", "modality": modality, "uri": url}


def _content_part(item: Any) -> Part:
    if isinstance(item, str):
        return text_part(item)
    d = as_dict(item)
    kind = d.get("type")
    if kind in _TEXT_TYPES:
        return text_part(d.get("text", ""))
    if kind == "refusal":
        return text_part(d.get("refusal", ""))
    if kind == "image_url":
        image = d.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _media_part(str(url or ""), "image")
    if kind == "input_image":
        if d.get("image_url"):
            return _media_part(str(d["image_url"]), "image")
        return {"type": "file", "modality": "image", "file_id": d.get("file_id")}
    if kind == "input_audio":
        audio = d.get("input_audio") or {}
        return {
            "type": "blob",
            "modality": "audio",
            "mime_type": f"audio/{audio.get('format', 'wav')}",
            "content": audio.get("data", ""),
        }
    if kind in ("file", "input_file"):
        file = d.get("file") if isinstance(d.get("file"), dict) else d
        return {"type": "file", "file_id": file.get("file_id"), "filename": file.get("filename")}
    return d if kind else text_part(json.dumps(d, default=str))


def _content_parts(content: Any) -> list[Part]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if isinstance(content, list | tuple):
        return [_content_part(item) for item in content]
    return [_content_part(content)]


def _tool_call_part(call: Any) -> Part:
    d = as_dict(call)
    function = d.get("function") or {}
    if not isinstance(function, dict):
        function = as_dict(function)
    return {
        "type": "tool_call",
        "id": d.get("id"),
        "name": function.get("name"),
        "arguments": parse_arguments(function.get("arguments")),
    }


def _response_text(content: Any) -> Any:
    if isinstance(content, list):
        texts = [p.get("text") for p in map(as_dict, content) if p.get("text") is not None]
        return "".join(texts) if len(texts) == len(content) else content
    return content


def _convert(message: Any, default_role: str) -> Message | None:
    """One message or Responses item -> a parts-schema message (None when there is nothing to keep).

    Responses API items come back marked `_merge`: they arrive one tool call per item, and are
    folded into the assistant turn they belong to."""
    if type(message) is dict:  # the common case first: this runs for every message of every call
        d = message
        if len(d) == 2:  # {"role", "content": "text"}: most of any conversation
            role, content = d.get("role"), d.get("content")
            if type(content) is str and role is not None and role != "tool" and role != "function":
                return {"role": role, "parts": [{"type": "text", "content": content}] if content else []}
    elif isinstance(message, str):
        return {"role": default_role, "parts": [{"type": "text", "content": message}]}
    else:
        d = as_dict(message)
    kind = d.get("type")
    if kind is not None:
        if kind == "function_call":  # Responses API: the model asked for a tool
            part = {"type": "tool_call", "id": d.get("call_id") or d.get("id"), "name": d.get("name")}
            part["arguments"] = parse_arguments(d.get("arguments"))
            return {"role": "assistant", "parts": [part], "_merge": True}
        if kind == "function_call_output":
            part = {"type": "tool_call_response", "id": d.get("call_id"), "response": d.get("output")}
            return {"role": "tool", "parts": [part]}
        if kind == "reasoning":
            summary = "".join(as_dict(s).get("text", "") for s in d.get("summary") or [])
            return (
                {"role": "assistant", "parts": [{"type": "reasoning", "content": summary}], "_merge": True}
                if summary
                else None
            )
    elif "parts" in d and "role" in d:
        return d
    role = d.get("role") or default_role
    content = d.get("content")
    if role == "tool" or role == "function":
        call_id = d.get("tool_call_id") or d.get("name")
        part = {"type": "tool_call_response", "id": call_id, "response": _response_text(content)}
        return {"role": "tool", "parts": [part]}
    if type(content) is str:
        parts = [{"type": "text", "content": content}] if content else []
    else:
        parts = _content_parts(content)
    calls = d.get("tool_calls")
    if calls:
        parts.extend(_tool_call_part(call) for call in calls)
    if d.get("function_call"):  # legacy single function call
        parts.append(_tool_call_part({"function": d["function_call"]}))
    out: Message = {"role": role, "parts": parts}
    if role != "assistant" and d.get("name"):
        out["name"] = d["name"]
    if d.get("finish_reason"):
        out["finish_reason"] = d["finish_reason"]
    if kind is not None:
        out["_merge"] = True
    return out


def _add(messages: list[Message], message: Message) -> None:
    if message.pop("_merge", False) and messages:
        last = messages[-1]
        if last["role"] == message["role"] == "assistant" and "finish_reason" not in last:
            messages[-1] = {**last, "parts": [*last["parts"], *message["parts"]]}  # never mutate app data
            return
    messages.append(message)


def _as_list(messages: Any) -> Any:
    if isinstance(messages, (list, tuple)):
        return messages
    # One message: a string, a dict, or an object (pydantic models are iterable, over their fields).
    if isinstance(messages, (str, dict)) or hasattr(messages, "model_dump") or not isinstance(messages, Iterable):
        return [messages]
    return messages


def input_messages(messages: Any) -> tuple[list[Message], list[Part]]:
    """(conversation in the parts schema, system instruction parts)."""
    if messages is None:
        return [], []
    converted: list[Message] = []
    system: list[Part] = []
    for message in _as_list(messages):
        m = _convert(message, "user")
        if m is None:
            continue
        if m["role"] in _SYSTEM_ROLES:
            system.extend(m["parts"])
        else:
            _add(converted, m)
    return converted, system


def output_messages(messages: Any, finish_reasons: list[str] | None = None) -> list[Message]:
    if messages is None:
        return []
    out: list[Message] = []
    for message in _as_list(messages):
        m = _convert(message, "assistant")
        if m is not None:
            _add(out, m)
    if finish_reasons:
        for i, reason in enumerate(finish_reasons[: len(out)]):
            if "finish_reason" not in out[i]:
                out[i] = {**out[i], "finish_reason": reason}
    return out


def system_parts(instructions: Any) -> list[Part]:
    if instructions is None:
        return []
    return _content_parts(instructions)
