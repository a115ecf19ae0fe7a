"""normalize_span: gather attributes into slots through the convention's table, then assemble columns."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from collector.normalize import assemble
from collector.normalize.tables import (
    PREFIX_HANDLERS,
    PREFIX_MAX_DOTS,
    SPAN_NAME_OPERATIONS,
    TABLES,
    TTFT_EVENTS,
    detect,
)
from collector.normalize.values import datetime_from_ns, dumps, iso, text
from collector.otlp import RawSpan
from store.rows import SpanRow

log = logging.getLogger(__name__)

_RESOURCE_COLUMNS = {"service.name": "service_name", "service.version": "service_version",
                     "deployment.environment.name": "environment", "deployment.environment": "environment",
                     "langfuse.environment": "environment", "langfuse.release": "release",
                     "loupe.release": "release"}  # the loupe SDK's resource (loupe.release on spans is mapped too)
_CONTENT_EVENTS = frozenset({"gen_ai.content.prompt", "gen_ai.content.completion", "gen_ai.system.message",
                             "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message", "gen_ai.choice"})
_resource_cache: dict[int, tuple[dict[str, Any], dict[str, str], dict[str, str]]] = {}


def stringify(attributes: dict[str, Any]) -> dict[str, str]:
    return {k: val if isinstance(val, str) else text(val) or "" for k, val in attributes.items()}


def _resource(resource: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(column values, remaining attributes as strings). Spans of one export share the resource dict."""
    hit = _resource_cache.get(id(resource))
    if hit is not None and hit[0] is resource:
        return hit[1], hit[2]
    columns: dict[str, str] = {}
    rest: dict[str, str] = {}
    for key, value in resource.items():
        column = _RESOURCE_COLUMNS.get(key)
        if column and isinstance(value, str) and value and column not in columns:
            columns[column] = value
        else:
            rest[key] = value if isinstance(value, str) else dumps(value)
    if len(_resource_cache) > 256:
        _resource_cache.clear()
    _resource_cache[id(resource)] = (resource, columns, rest)  # holds the dict so its id is not reused
    return columns, rest


def gather(attributes: dict[str, Any], table: dict[str, tuple[int, str, str, Any]], acc: dict[str, Any],
           leftovers: dict[str, str]) -> None:
    """One pass over the attributes: each lands in a slot, or in `leftovers` (as text) if nothing took it."""
    for key, value in attributes.items():
        rule = table.get(key)
        if rule is None:
            if not _prefixed(key, value, acc):
                leftovers[key] = value if isinstance(value, str) else text(value) or ""
            continue
        mode, slot, item, convert = rule
        if mode == 4:
            continue
        converted = value if convert is None else convert(value)
        if converted is None:
            leftovers[key] = value if isinstance(value, str) else text(value) or ""
        elif mode == 0:
            if slot not in acc:
                acc[slot] = converted
            elif acc[slot] != converted:  # a second, different value: keep it rather than lose it
                leftovers[key] = value if isinstance(value, str) else text(value) or ""
        elif mode == 1:
            acc.setdefault(slot, {})[item] = converted
        elif mode == 2:
            acc.setdefault(slot, []).extend(converted)
        else:
            acc.setdefault(slot, {}).update(converted)


def _prefixed(key: str, value: Any, acc: dict[str, Any]) -> bool:
    """Flattened and open-ended keys: try the key's first dotted prefixes against the handler table."""
    dot = key.find(".")
    for _ in range(PREFIX_MAX_DOTS):
        if dot < 0:
            return False
        handle = PREFIX_HANDLERS.get(key[: dot + 1])
        if handle is not None:
            return handle(key[dot + 1:], value, acc)
        dot = key.find(".", dot + 1)
    return False


def _events(raw: RawSpan, acc: dict[str, Any]) -> str:
    """Events as JSON; TTFT, exceptions and legacy content events are read on the way."""
    out = []
    for event in raw.events:
        name = event.name
        if name in TTFT_EVENTS and "ttft_event_ns" not in acc:
            acc["ttft_event_ns"] = event.time_ns
        elif name == "exception" and "exception" not in acc:
            attrs = event.attributes
            acc["exception"] = str(attrs.get("exception.message") or attrs.get("exception.type") or "exception")
        elif name in _CONTENT_EVENTS:
            acc.setdefault("content_events", []).append((name, event.attributes))
            continue  # its content lands in input/output; stored once
        out.append({"name": name, "time": iso(event.time_ns), "attributes": event.attributes})
    return dumps(out) if out else ""


def normalize_span(raw: RawSpan, project: str, ingested_at: datetime) -> SpanRow:
    """One decoded span into the canonical row. Never raises: on a bug, the row keeps the raw attributes."""
    try:
        return _normalize(raw, project, ingested_at)
    except Exception as exc:  # the one broad except: a bad span must not poison its batch
        log.warning("normalize_span failed for span %s: %r", raw.span_id, exc)
        row = _identity(raw, project, ingested_at)
        row.attributes = stringify(raw.attributes)
        row.attributes["loupe.normalize_error"] = repr(exc)[:500]
        return row


def _identity(raw: RawSpan, project: str, ingested_at: datetime) -> SpanRow:
    return SpanRow(
        project=project, trace_id=raw.trace_id, span_id=raw.span_id, parent_span_id=raw.parent_span_id,
        name=raw.name, otel_kind=raw.kind, scope_name=raw.scope_name, ingested_at=ingested_at,
        start_time=datetime_from_ns(raw.start_ns), end_time=datetime_from_ns(raw.end_ns),
        duration_ms=max(0, raw.end_ns - raw.start_ns) / 1e6,
        status="error" if raw.status_code == 2 else "ok", status_message=raw.status_message,
    )


def _normalize(raw: RawSpan, project: str, ingested_at: datetime) -> SpanRow:
    row = _identity(raw, project, ingested_at)
    convention = detect(raw.scope_name, raw.attributes)
    row.convention = convention
    acc: dict[str, Any] = {}
    leftovers: dict[str, str] = {}
    gather(raw.attributes, TABLES[convention], acc, leftovers)
    named_op = SPAN_NAME_OPERATIONS.get(convention, {}).get(raw.name)
    if named_op:
        acc["named_op"] = named_op
    row.events = _events(raw, acc) if raw.events else ""
    columns, rest = _resource(raw.resource)
    row.resource_attributes = dict(rest)  # a copy: redaction edits rows in place
    if columns:
        row.service_name = columns.get("service_name", "")
        row.service_version = columns.get("service_version", "")
        row.environment = columns.get("environment", "")
        row.release = columns.get("release", "")
    assemble.prepare(acc)
    assemble.context(row, acc)
    assemble.model(row, acc)
    assemble.usage(row, acc, raw.start_ns)
    assemble.content(row, acc, raw.name, leftovers)
    assemble.status(row, acc, raw.attributes)
    row.attributes = leftovers
    return row
