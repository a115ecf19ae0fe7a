"""Turn arbitrary app values into bounded JSON strings, never raising.

The fast path is one `json.dumps` with a `default` hook; only values that are too large, cyclic,
non-finite, or that need redaction take the slower walk that truncates strings against a shared
character budget, so the result stays valid JSON and roughly within the limit.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

from loupe.config import Redactor

MAX_DEPTH = 32
MAX_ITEMS = 1000
MIN_STRING = 64  # even a spent budget keeps the head of each string readable
_REPR_LIMIT = 500
_COMPACT = (",", ":")


def _default(obj: Any) -> Any:
    """`json.dumps` hook for the objects apps actually pass around."""
    dump = getattr(obj, "model_dump", None)  # pydantic v2 (the openai client's types)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return f"<{type(obj).__name__}: {len(obj)} bytes>"
    if isinstance(obj, _dt.datetime | _dt.date | _dt.time):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    try:
        text = repr(obj)
    except Exception:
        text = f"<unrepresentable {type(obj).__name__}>"
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "…"


# Built once: `json.dumps` with any keyword builds a new encoder on every call.
_FAST = json.JSONEncoder(default=_default, ensure_ascii=False, allow_nan=False, separators=_COMPACT)


def clip(text: str, limit: int, redact: Redactor | None = None) -> str:
    if redact is not None:
        text = _safe_redact(redact, text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


def _safe_redact(redact: Redactor, text: str) -> str:
    try:
        out = redact(text)
    except Exception:
        # A failing redactor must not leak the raw text.
        return "[redaction failed]"
    return out if isinstance(out, str) else str(out)


def to_json(value: Any, limit: int, redact: Redactor | None = None) -> str:
    """JSON for `value`, at most about `limit` characters, with every string passed through `redact`."""
    if redact is None:
        try:
            text = _FAST.encode(value)
            if len(text) <= limit:
                return text
        except (ValueError, TypeError, RecursionError):
            pass  # cycles, NaN, or hostile objects: the walk below handles them
    try:
        walked = _Walker(limit, redact).walk(value, 0, set())
        text = json.dumps(walked, ensure_ascii=False, separators=_COMPACT)
    except Exception:
        return json.dumps(f"<unencodable {type(value).__name__}>")
    if len(text) > 2 * limit:  # many tiny values can still add up: keep a readable, valid preview
        return json.dumps({"truncated": True, "preview": text[:limit]}, ensure_ascii=False)
    return text


def to_text_or_json(value: Any, limit: int, redact: Redactor | None = None) -> str:
    """Strings stay plain text; anything else becomes JSON."""
    if isinstance(value, str):
        return clip(value, limit, redact)
    return to_json(value, limit, redact)


class _Walker:
    __slots__ = ("budget", "redact")

    def __init__(self, limit: int, redact: Redactor | None) -> None:
        self.budget = limit
        self.redact = redact

    def string(self, text: str) -> str:
        if self.redact is not None:
            text = _safe_redact(self.redact, text)
        keep = max(self.budget, MIN_STRING)
        self.budget = max(0, self.budget - len(text))
        if len(text) <= keep:
            return text
        return f"{text[:keep]}…[truncated {len(text) - keep} chars]"

    def walk(self, value: Any, depth: int, path: set[int]) -> Any:
        if value is None or isinstance(value, bool | int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return self.string(value)
        if depth >= MAX_DEPTH:
            return "<max depth>"
        if id(value) in path:
            return "<cycle>"
        if isinstance(value, Mapping):
            path.add(id(value))
            out: dict[str, Any] = {}
            for i, (key, item) in enumerate(value.items()):
                if i >= MAX_ITEMS:
                    out["…"] = f"{len(value) - MAX_ITEMS} more keys"
                    break
                out[key if isinstance(key, str) else str(key)] = self.walk(item, depth + 1, path)
            path.discard(id(value))
            return out
        if isinstance(value, list | tuple):
            path.add(id(value))
            items = [self.walk(item, depth + 1, path) for item in value[:MAX_ITEMS]]
            if len(value) > MAX_ITEMS:
                items.append(f"…{len(value) - MAX_ITEMS} more items")
            path.discard(id(value))
            return items
        converted = _default(value)
        if isinstance(converted, str) or converted is value:
            return self.string(str(converted))
        return self.walk(converted, depth + 1, path)
