"""Content limits at ingest (DESIGN.md, "The canonical span"): inline binary content becomes a typed placeholder
with its size, and text over a limit is truncated with a visible marker.

Binary comes as data URLs (data:image/png;base64,…) or as bare base64 runs: OTel GenAI blob parts
({"type": "blob", "mime_type": …, "content": "<base64>"}), Anthropic image sources, Gemini inline_data, audio and
embeddings as base64 all carry their payload in the text, so both shapes are found in plain text and JSON alike.
Placeholders hold no quotes or backslashes, so replacing inside a JSON string keeps the JSON valid.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from store.rows import SpanRow


class ContentLimits(BaseModel):
    # 100k characters (~25k tokens) keeps whole RAG prompts and long answers, which judges need to score
    # groundedness, while one runaway field (a dumped file, a loop's output) cannot bloat a row; ZSTD stores
    # the kept text at roughly a quarter of its size.
    max_text_chars: int = Field(100_000, ge=1_000)
    # A base64 run this long is data, never words: 512 characters is 384 bytes, smaller than any real image or
    # audio clip yet longer than API keys and JWT parts (left to redaction, whose entropy rule stops at 512).
    binary_min_chars: int = Field(512, ge=64)


_DATA_URL = re.compile(
    r"data:(?P<mime>[\w.+-]{1,64}\\?/[\w.+-]{1,128})(?:;[\w.+-]{1,64}=[\w.+-]{1,128}){0,4};base64,"
    r"(?P<b64>[A-Za-z0-9+/]*={0,2})",
    re.A,
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")  # standard or URL-safe, not mixed
_ALPHABET = bytes(97 if chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/=_-") else 32 for c in range(256))
_MAGIC = (  # (offset, bytes, media type), checked in order on the first decoded bytes
    (0, b"\x89PNG", "image/png"), (0, b"\xff\xd8\xff", "image/jpeg"), (0, b"GIF8", "image/gif"),
    (8, b"WEBP", "image/webp"), (8, b"WAVE", "audio/wav"), (0, b"%PDF", "application/pdf"),
    (0, b"ID3", "audio/mpeg"), (0, b"\xff\xfb", "audio/mpeg"), (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"), (0, b"fLaC", "audio/flac"), (4, b"ftyp", "video/mp4"),
    (0, b"\x1aE\xdf\xa3", "video/webm"), (0, b"PK\x03\x04", "application/zip"),
)


def _sniff(b64: str) -> str:
    try:
        head = base64.b64decode(b64[:16].replace("-", "+").replace("_", "/"))
    except (binascii.Error, ValueError):
        return "application/octet-stream"
    return next((mime for at, magic, mime in _MAGIC if head[at : at + len(magic)] == magic), "application/octet-stream")


def _decoded_size(b64: str) -> int | None:
    """Decoded byte count, or None when the run is not valid base64."""
    data = b64.rstrip("=")
    padding = len(b64) - len(data)
    if len(data) % 4 == 1 or (padding and len(b64) % 4):
        return None
    return len(data) * 3 // 4


def _replace_binary(text: str, min_chars: int, counts: Counter[str]) -> str:
    def placeholder(mime: str, size: int) -> str:
        counts["binary"] += 1
        counts["binary_bytes"] += size
        return f"[binary {mime} {size} bytes]"

    if "base64," in text:  # a data URL's media type is given; "\\/" is a JSON-escaped slash
        mime = lambda m: m["mime"].replace("\\", "")  # noqa: E731
        text = _DATA_URL.sub(lambda m: placeholder(mime(m), len(m["b64"].rstrip("=")) * 3 // 4), text)
    if len(text) < min_chars:
        return text
    # Long runs of the base64 alphabet, found by a byte probe (a regex scan would cost ~20 ns a character).
    probe = text.encode("latin-1", "replace").translate(_ALPHABET)  # one byte per character: offsets align
    out, pos, needle = [], 0, b"a" * min_chars
    i = probe.find(needle)
    while i != -1:
        start, end = probe.rfind(b" ", 0, i) + 1, probe.find(b" ", i) % (len(probe) + 1)
        if text[start - 1 : start] == "\\":  # the run starts with the letter of a JSON escape (\n, \u00e9)
            start += 5 if text[start] == "u" else 1
        run = text[start:end]
        # Base64 data uses most of the alphabet: a run of one letter or dashes is not data, hex (22 symbols at
        # most) is hashes or ids more often than media, and its size would be misread.
        data = len(run) >= min_chars and len(set(run[:256])) > 22 and _BASE64.fullmatch(run)
        if data and (size := _decoded_size(run)) is not None:
            out += (text[pos:start], placeholder(_sniff(run), size))
            pos = end
        i = probe.find(needle, end)
    return "".join(out) + text[pos:] if out else text


_MARKER = "…[truncated {} chars]…"


def _cut(text: str, keep: int) -> str:
    """Keep the head and the tail (a prompt's question and a trace's error are often at the end)."""
    head = keep * 3 // 4
    return text[:head] + _MARKER.format(len(text) - keep) + text[len(text) - (keep - head) :]


def _cap_strings(value: Any, cap: int, marker: int, removed: list[int]) -> Any:
    if isinstance(value, str) and len(value) > cap + marker:
        removed[0] += len(value) - cap
        return _cut(value, cap)
    if isinstance(value, list):
        return [_cap_strings(v, cap, marker, removed) for v in value]
    if isinstance(value, dict):
        return {k: _cap_strings(v, cap, marker, removed) for k, v in value.items()}
    return value


def _string_lengths(value: Any, out: list[int]) -> list[int]:
    if isinstance(value, str):
        out.append(len(value))
    elif isinstance(value, list | dict):
        for v in value.values() if isinstance(value, dict) else value:
            _string_lengths(v, out)
    return out


def _truncate_json(text: str, limit: int) -> tuple[str, int] | None:
    """Cut the longest string values of a JSON document to one cap so that it fits; None if it is not JSON."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    lengths, marker, excess = _string_lengths(doc, []), len(_MARKER) + 6, len(text) - limit

    def saved(cap: int) -> int:  # characters saved by cutting every longer string to cap (plus its marker)
        return sum(n - cap - marker for n in lengths if n > cap + marker)

    for _ in range(3):  # escaping makes serialised lengths differ a little from string lengths: retry
        if not lengths or saved(0) < excess:
            break  # the structure alone is too big (a huge array of numbers)
        low, high = 0, max(lengths)  # the largest cap that saves enough
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if saved(mid) >= excess else (low, mid - 1)
        cut = [0]
        out = json.dumps(_cap_strings(doc, low, marker, cut), ensure_ascii=False)
        if len(out) <= limit:
            return out, cut[0]
        excess += len(out) - limit
    return _as_json_string(text, limit)


def _as_json_string(text: str, limit: int) -> tuple[str, int]:
    """Last resort for JSON whose structure alone is too big: the cut text as one JSON string, still valid JSON."""
    keep = limit
    for _ in range(3):  # quotes and backslashes grow when escaped
        out = json.dumps(_cut(text, keep), ensure_ascii=False)
        if len(out) <= limit + len(_MARKER) + 8:
            break
        keep = max(0, keep - (len(out) - limit))
    return out, len(text) - keep


def limit_text(limits: ContentLimits, text: str, counts: Counter[str] | None = None) -> str:
    """Apply the limits to one text, adding what was done into counts; returns text itself when nothing was."""
    counts = Counter() if counts is None else counts
    if len(text) <= limits.max_text_chars and len(text) < limits.binary_min_chars and "base64," not in text:
        return text  # the common case: short text, nothing to do
    text = _replace_binary(text, limits.binary_min_chars, counts)
    if len(text) <= limits.max_text_chars:
        return text
    first, limit = text.lstrip()[:1], limits.max_text_chars
    done = _truncate_json(text, limit) if first in ("{", "[", '"') else None
    new, removed = done or (_cut(text, limit), len(text) - limit)
    counts["truncated"] += 1
    counts["truncated_chars"] += removed
    return new


_SPAN_TEXT = ("input", "output", "documents", "tool_calls", "events", "prompt_template", "prompt_variables")


def limit_row(limits: ContentLimits, row: SpanRow) -> None:
    """Apply the limits to the span's content fields and attribute values in place; the counts (only non-zero
    ones: truncated, truncated_chars, binary, binary_bytes) are added to row.content_limits."""
    counts: Counter[str] = Counter()
    for field in _SPAN_TEXT:
        if value := getattr(row, field):
            setattr(row, field, limit_text(limits, value, counts))
    if any(len(v) >= limits.binary_min_chars or "base64," in v for v in row.attributes.values()):
        row.attributes = {k: limit_text(limits, v, counts) for k, v in row.attributes.items()}
    for kind, n in counts.items():
        if n:
            row.content_limits[kind] = row.content_limits.get(kind, 0) + n
