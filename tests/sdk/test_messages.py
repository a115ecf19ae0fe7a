"""Message shapes -> the conventions' parts schema (pure functions, no spans)."""

from __future__ import annotations

import json

from openai.types.chat import ChatCompletionMessage

from loupe._encode import to_json
from loupe._messages import input_messages, output_messages


def test_multimodal_chat_content() -> None:
    messages, system = input_messages(
        [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                ],
            },
        ]
    )
    assert system == [{"type": "text", "content": "Be brief."}]
    assert messages[0]["parts"] == [
        {"type": "text", "content": "What is this?"},
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
        {"type": "uri", "modality": "image", "uri": "https://example.com/cat.jpg"},
        {"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "UklGRg=="},
    ]


def test_responses_items_fold_into_one_assistant_turn() -> None:
    out = output_messages(
        [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Need the weather."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
        ],
        ["tool_calls"],
    )
    assert out == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Need the weather."},
                {"type": "text", "content": "Checking."},
                {"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Oslo"}},
            ],
            "finish_reason": "tool_calls",
        }
    ]
    history, _ = input_messages(
        [
            {"role": "user", "content": "Weather in Oslo?"},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "not json"},
            {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        ]
    )
    assert history[1]["parts"][0]["arguments"] == "not json"  # kept as sent when it is not JSON
    assert history[2] == {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rain"}]}


def test_chat_history_is_not_merged_and_app_data_is_not_mutated() -> None:
    parts_message = {"role": "assistant", "parts": [{"type": "text", "content": "a"}]}
    history = [parts_message, {"role": "assistant", "content": "b"}]
    messages, _ = input_messages(history)
    assert [m["parts"][0]["content"] for m in messages] == ["a", "b"]
    out = output_messages([parts_message], ["stop"])
    assert out[0]["finish_reason"] == "stop" and "finish_reason" not in parts_message


def test_openai_objects_and_plain_strings() -> None:
    message = ChatCompletionMessage(role="assistant", content="Hello")
    assert output_messages(message) == [{"role": "assistant", "parts": [{"type": "text", "content": "Hello"}]}]
    assert input_messages("hi") == ([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}], [])


def test_to_json_budget_keeps_json_valid() -> None:
    value = [{"role": "user", "content": "x" * 5000} for _ in range(10)]
    text = to_json(value, 2000)
    decoded = json.loads(text)
    assert len(decoded) == 10 and len(text) < 2000 + 10 * 200
    assert decoded[0]["content"].endswith("chars]")
    assert json.loads(to_json({"k": float("inf"), 1: b"ab"}, 100)) == {"k": "inf", "1": "<bytes: 2 bytes>"}
