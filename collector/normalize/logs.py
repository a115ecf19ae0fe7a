"""OTLP log records: rows for the `logs` table, and the canonical messages inside GenAI content records."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from collector.normalize import messages as m
from collector.normalize.values import datetime_from_ns, dumps, json_value
from collector.otlp import RawLog
from store.rows import LogRow

log = logging.getLogger(__name__)

# util-genai's `gen_ai.client.inference.operation.details` carries the content in *attributes* (structured
# values) and leaves the body empty; content belongs in the body, where the read API and redaction look.
CONTENT_KEYS = ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages",
                "gen_ai.prompt", "gen_ai.completion")
EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def normalize_log(raw: RawLog, project: str, ingested_at: datetime) -> LogRow:
    """One decoded log record into its row; content attributes move into the body. Never raises."""
    attributes, body = raw.attributes, raw.body
    try:
        moved = {key: attributes[key] for key in CONTENT_KEYS if key in attributes}
        if moved and (body is None or body == "" or isinstance(body, dict)):
            body = {**moved, **body} if isinstance(body, dict) else moved
            attributes = {k: val for k, val in attributes.items() if k not in moved}
    except Exception as exc:  # garbage must not stop the batch; keep the record as it came
        log.warning("normalize_log: %r", exc)
    service = raw.resource.get("service.name")
    return LogRow(
        project=project, trace_id=raw.trace_id, span_id=raw.span_id,
        time=datetime_from_ns(raw.time_ns) if raw.time_ns else ingested_at, ingested_at=ingested_at,
        event_name=raw.event_name, severity=raw.severity,
        service_name=service if isinstance(service, str) else "",
        body="" if body is None else dumps(body),
        attributes={k: val if isinstance(val, str) else dumps(val) for k, val in attributes.items()},
    )


def messages_from_log_body(records: Iterable[tuple[str, Any]] | dict[str, Any]
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(input messages, output messages) from GenAI content records, as (event name, body) pairs.

    Understands the current `gen_ai.client.inference.operation.details` body (structured
    `gen_ai.input.messages` / `gen_ai.output.messages` / `gen_ai.system_instructions`), the legacy
    per-message events (`gen_ai.user.message`, `gen_ai.choice`…) and `gen_ai.content.prompt/completion`.
    A single body (a dict) is accepted too. Anything else is skipped.
    """
    if isinstance(records, dict):
        records = [("", records)]
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for name, body in records:
        try:
            _one(name, json_value(body) if isinstance(body, str) else body, inputs, outputs)
        except RecursionError:
            continue
    return inputs, outputs


def _one(name: str, body: Any, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
    if isinstance(body, dict) and any(key in body for key in CONTENT_KEYS[:3]):
        system = m.system_message(body["gen_ai.system_instructions"]) if body.get(
            "gen_ai.system_instructions") else None
        found = m.messages(body.get("gen_ai.input.messages"), "user") or []
        if system and not (found and found[0]["role"] == "system"):
            found.insert(0, system)
        inputs.extend(found)
        outputs.extend(m.messages(body.get("gen_ai.output.messages"), "assistant") or [])
    elif name in EVENT_ROLES:
        if isinstance(body, dict) and "content" not in body and "message" not in body:
            body = {**body, "content": ""}  # an assistant turn with only tool calls
        msg = m.message(body, EVENT_ROLES[name])
        if msg:
            inputs.append(msg)
    elif name == "gen_ai.choice":
        msg = m.message(body, "assistant")
        if msg:
            outputs.append(msg)
    elif name == "gen_ai.content.prompt" and isinstance(body, dict):
        inputs.extend(m.messages(body.get("gen_ai.prompt"), "user") or [])
    elif name == "gen_ai.content.completion" and isinstance(body, dict):
        outputs.extend(m.messages(body.get("gen_ai.completion"), "assistant") or [])
