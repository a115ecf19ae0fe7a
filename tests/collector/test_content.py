"""Content limits: inline binary becomes a typed placeholder with its size, long text is truncated with a marker,
and JSON content stays valid JSON."""

from __future__ import annotations

import base64
import json
import random
from collections import Counter

import pytest
from pydantic import ValidationError

from collector.content import ContentLimits, limit_row, limit_text
from store.rows import SpanRow

LIMITS = ContentLimits()
RNG = random.Random(7)  # fixed seed: the same "media" bytes every run


def media(header: bytes, size: int) -> bytes:
    return header + RNG.randbytes(size - len(header))


PNG = media(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 48_213)
JPEG = media(b"\xff\xd8\xff\xe0\x00\x10JFIF", 3_004)
WAV = media(b"RIFF\x24\x08\x00\x00WAVEfmt ", 16_044)
PDF = media(b"%PDF-1.7\n", 9_000)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(kind: str, data: bytes) -> str:
    return f"data:image/{kind};base64,{b64(data)}"


def limited(text: str, limits: ContentLimits = LIMITS) -> tuple[str, dict[str, int]]:
    counts: Counter[str] = Counter()
    return limit_text(limits, text, counts), dict(counts)


def test_openai_image_url_data_url() -> None:
    doc = json.dumps([{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": data_url("png", PNG), "detail": "high"}},
    ]}])
    out, counts = limited(doc)
    assert json.loads(out)[0]["content"][1]["image_url"] == {"url": "[binary image/png 48213 bytes]", "detail": "high"}
    assert counts == {"binary": 1, "binary_bytes": 48_213}


def test_openai_input_audio_and_otel_blob_parts_are_sniffed() -> None:
    doc = json.dumps([
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}}]},
        {"role": "user", "parts": [{"type": "blob", "modality": "image", "mime_type": "image/jpeg",
                                    "content": b64(JPEG)}]},
        {"role": "user", "content": [{"type": "document", "source": {"type": "base64", "data": b64(PDF)}}]},
    ])
    out, counts = limited(doc)
    parsed = json.loads(out)
    assert parsed[0]["content"][0]["input_audio"]["data"] == "[binary audio/wav 16044 bytes]"
    assert parsed[1]["parts"][0]["content"] == "[binary image/jpeg 3004 bytes]"
    assert parsed[2]["content"][0]["source"]["data"] == "[binary application/pdf 9000 bytes]"
    assert counts == {"binary": 3, "binary_bytes": 16_044 + 3_004 + 9_000}


def test_data_urls_in_plain_text_and_with_escaped_slashes() -> None:
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"  # a 1x1 pixel
    out, counts = limited(f'inline <img src="data:image/gif;base64,{b64(gif)}"> done')
    assert out == f'inline <img src="[binary image/gif {len(gif)} bytes]"> done'
    assert counts == {"binary": 1, "binary_bytes": len(gif)}
    escaped = '{"url": "data:audio\\/mpeg;base64,' + b64(media(b"ID3\x04", 900)) + '"}'  # some encoders escape "/"
    out, _ = limited(escaped)
    assert json.loads(out) == {"url": "[binary audio/mpeg 900 bytes]"}


def test_base64_after_a_json_escape_keeps_the_escape() -> None:
    doc = json.dumps({"content": "see attachment:\n" + b64(PNG)})
    out, counts = limited(doc)
    assert json.loads(out) == {"content": "see attachment:\n[binary image/png 48213 bytes]"}
    assert counts["binary"] == 1


@pytest.mark.parametrize("text", [
    "Encoded greeting: SGVsbG8sIHdvcmxkIQ== (short base64 stays)",
    "-" * 600 + "\nA markdown rule made of dashes is not data",
    "hash list " + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" * 10,  # hex: ids, not media
    "word " * 300,  # long prose
    "A" * 5 + "/" + "getUserProfileByIdV2Handler" * 3,  # identifiers
    "x" * 700,  # one repeated letter
])
def test_hard_negatives_are_not_binary(text: str) -> None:
    assert limited(text) == (text, {})


def test_invalid_base64_length_is_not_decoded() -> None:
    run = b64(PNG)[:801]  # 801 characters cannot be base64 (length 4n+1)
    assert limited(f"blob {run} end") == (f"blob {run} end", {})


def test_plain_text_truncation_keeps_head_and_tail_with_a_marker() -> None:
    limits = ContentLimits(max_text_chars=1_000)
    text = "BEGIN " + "lorem ipsum dolor sit amet " * 400 + " QUESTION: what is the refund policy?"
    out, counts = limited(text, limits)
    removed = len(text) - 1_000
    assert out.startswith("BEGIN lorem") and out.endswith("what is the refund policy?")
    assert f"…[truncated {removed} chars]…" in out
    assert len(out) == 1_000 + len(f"…[truncated {removed} chars]…")
    assert counts == {"truncated": 1, "truncated_chars": removed}


def test_json_truncation_cuts_the_longest_strings_and_stays_valid() -> None:
    limits = ContentLimits(max_text_chars=5_000)
    doc = json.dumps([
        {"role": "system", "content": "You answer from the context. " + "The warranty lasts two years. " * 400},
        {"role": "user", "content": "How long is the warranty?"},
        {"role": "assistant", "content": "Two years. " * 100, "tool_calls": [{"name": "lookup", "arguments": "{}"}]},
    ])
    out, counts = limited(doc, limits)
    parsed = json.loads(out)
    assert len(out) <= 5_000
    assert [m["role"] for m in parsed] == ["system", "user", "assistant"]  # the structure is intact
    assert parsed[1]["content"] == "How long is the warranty?"  # short strings are untouched
    assert parsed[2]["tool_calls"] == [{"name": "lookup", "arguments": "{}"}]
    assert "…[truncated" in parsed[0]["content"] and parsed[0]["content"].startswith("You answer from the context.")
    assert counts["truncated"] == 1 and counts["truncated_chars"] > len(doc) - 5_000


def test_json_whose_structure_alone_is_too_big_becomes_one_json_string() -> None:
    limits = ContentLimits(max_text_chars=2_000)
    doc = json.dumps({"embedding": [round(RNG.random(), 6) for _ in range(3_000)]})
    out, counts = limited(doc, limits)
    value = json.loads(out)  # still valid JSON: a string now
    assert isinstance(value, str) and value.startswith('{"embedding": [') and "…[truncated" in value
    assert counts["truncated"] == 1


def test_binary_is_replaced_before_truncation_is_considered() -> None:
    limits = ContentLimits(max_text_chars=2_000)
    doc = json.dumps([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": data_url("png", PNG)}}]}])
    out, counts = limited(doc, limits)
    assert "truncated" not in counts and counts["binary"] == 1 and json.loads(out)


def test_limit_row_covers_content_fields_and_counts_only_what_happened() -> None:
    limits = ContentLimits(max_text_chars=1_000)
    row = SpanRow(
        input=json.dumps([{"role": "user", "content": [{"type": "image_url",
                                                        "image_url": {"url": data_url("jpeg", JPEG)}}]}]),
        output="x y " * 1_000,
        documents=json.dumps([{"id": "d1", "content": "short"}]),
        tool_calls="",
        events=json.dumps([{"name": "audio", "attributes": {"data": b64(WAV)}}]),
        prompt_template="Answer briefly.",
        attributes={"gen_ai.prompt.0.content": data_url("png", PNG), "llm.model": "gpt-4o"},
        resource_attributes={"service.name": "support-bot"},
        content_limits={"binary": 1},  # counts from an earlier pass add up
    )
    documents, template = row.documents, row.prompt_template
    limit_row(limits, row)
    assert row.content_limits == {"binary": 1 + 3, "binary_bytes": 3_004 + 16_044 + 48_213,
                                  "truncated": 1, "truncated_chars": 3_000}
    assert row.documents is documents and row.prompt_template is template  # short fields: no work, no copy
    assert row.attributes == {"gen_ai.prompt.0.content": "[binary image/png 48213 bytes]", "llm.model": "gpt-4o"}
    assert json.loads(row.events)[0]["attributes"]["data"] == "[binary audio/wav 16044 bytes]"


def test_nothing_to_do_leaves_the_row_and_its_counts_alone() -> None:
    row = SpanRow(input=json.dumps([{"role": "user", "content": "hi"}]), output="hello")
    limit_row(LIMITS, row)
    assert row.content_limits == {}


def test_limits_are_validated() -> None:
    with pytest.raises(ValidationError):
        ContentLimits(max_text_chars=10)
    with pytest.raises(ValidationError):
        ContentLimits(binary_min_chars=8)
