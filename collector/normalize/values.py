"""Small converters from attribute values (whatever a client sent) to the types of canonical columns.

Every converter returns None for a value it does not understand; the caller then keeps the attribute
as it came, so garbage degrades to "not mapped" and never raises.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_INT = 2**63 - 1
NOT_JSON = object()  # load_json's "this was not JSON" (None is a valid JSON value)


# One encoder for all calls: json.dumps() with options builds a new encoder each time (slow on a hot path).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON text; never raises (deep or odd values fall back to str())."""
    try:  # orjson is ~15x faster on the hot path; it refuses big ints and odd types, handled below
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return _ENCODER.encode(value)
    except ValueError:  # NaN or infinity somewhere: JSON has no such numbers, so they become null
        try:
            return _ENCODER.encode(_finite(value, 0))
        except (TypeError, ValueError, RecursionError):
            pass
    except (TypeError, RecursionError):
        pass
    try:
        return _ENCODER.encode(str(value))
    except RecursionError:
        return '"<unrepresentable>"'


def _finite(value: Any, depth: int) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > 200:
        raise RecursionError
    if isinstance(value, list | tuple):
        return [_finite(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item, depth + 1) for key, item in value.items()}
    return value


def load_json(value: Any) -> Any:
    """A JSON-holding attribute decoded, or NOT_JSON. Structured values (lists, dicts) pass through."""
    if isinstance(value, str):
        if not value or value[0] not in '[{"-0123456789tfn':
            return NOT_JSON
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            pass
        try:  # what orjson refuses but Python's json reads: NaN, Infinity, numbers past 64 bits
            return json.loads(value)
        except (ValueError, RecursionError):
            return NOT_JSON
    if isinstance(value, list | dict):
        return value
    return NOT_JSON


def text(value: Any) -> str | None:
    """Attribute value as column text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    return dumps(value)


def nonempty_text(value: Any) -> str | None:
    out = text(value)
    return out if out else None


def scalar_text(value: Any) -> str | None:
    """Ids, names, versions: a string, or an int/float rendered without noise (3.0 -> "3")."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def json_quoted_text(value: Any) -> str | None:
    """Langfuse JSON-encodes metadata values (`"\\"prod\\""`): decode one level when it is JSON."""
    decoded = load_json(value)
    if decoded is NOT_JSON:
        return text(value)
    return decoded if isinstance(decoded, str) else dumps(decoded)


def count(value: Any) -> int | None:
    """Token counts: non-negative ints; numeric strings and whole floats are accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_INT else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 <= value <= _MAX_INT else None
    if isinstance(value, str):
        try:
            return count(float(value)) if "." in value or "e" in value.lower() else count(int(value))
        except ValueError:
            return None
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            return None
    else:
        return None
    return out if math.isfinite(out) else None


def flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        return True if lowered in ("true", "1", "yes") else False if lowered in ("false", "0", "no") else None
    if isinstance(value, int):
        return bool(value)
    return None


def string_list(value: Any) -> list[str] | None:
    """Tags and finish reasons: an array, a JSON array string, or a comma-separated string."""
    if isinstance(value, str):
        decoded = load_json(value) if value.startswith("[") else NOT_JSON
        if decoded is NOT_JSON:
            return [part.strip() for part in value.split(",") if part.strip()] or None
        value = decoded
    if isinstance(value, list | tuple):
        out = [item if isinstance(item, str) else dumps(item) for item in value if item is not None]
        return [item for item in out if item] or None
    return None


def json_object(value: Any) -> dict[str, Any] | None:
    decoded = load_json(value)
    return decoded if isinstance(decoded, dict) else None


def json_value(value: Any) -> Any:
    """A JSON-holding attribute decoded when possible, else the value itself (never None for a value)."""
    decoded = load_json(value)
    return value if decoded is NOT_JSON else decoded


def iso_time_ns(value: Any) -> int | None:
    """ISO-8601 (possibly JSON-quoted, as Langfuse sends it) to Unix nanoseconds."""
    if isinstance(value, str) and value.startswith('"'):
        value = json_value(value)
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def datetime_from_ns(ns: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=ns // 1000)
    except (OverflowError, TypeError):
        return EPOCH


def iso(ns: int) -> str:
    return datetime_from_ns(ns).isoformat().replace("+00:00", "Z")
