"""Scores from OpenTelemetry GenAI evaluation results, at ingestion.

The semantic conventions define `gen_ai.evaluation.result` with `gen_ai.evaluation.name` (required),
`gen_ai.evaluation.score.value`, `gen_ai.evaluation.score.label`, `gen_ai.evaluation.explanation` and
`error.type`; it SHOULD be parented to the GenAI operation span being evaluated. It arrives as a span
event, as a log record (events are log records in current OTel) or, from some instrumentations, as
the attributes of an evaluation span of its own.

Target: the span that carries the event or whose context the log record has; an event or attributes
on an `evaluator` span score that span's parent (the evaluation span is the judge, not the answer);
a log record with a trace but no span scores the trace. Rows are pure functions of the ingested
record — times come from the event and the ingestion, never the clock — so a WAL replay writes the
same rows, which the scores table (ReplacingMergeTree) collapses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from store.rows import LOG_COLUMNS, SPAN_COLUMNS, LogRow, ScoreRow, SpanRow

EVENT = "gen_ai.evaluation.result"
NAME, VALUE, LABEL = "gen_ai.evaluation.name", "gen_ai.evaluation.score.value", "gen_ai.evaluation.score.label"
EXPLANATION, ERROR = "gen_ai.evaluation.explanation", "error.type"
SOURCE = "otel_event"
_EVENTS_AT = SPAN_COLUMNS.index("events")
_ATTRS_AT = SPAN_COLUMNS.index("attributes")
_LOG_EVENT_AT = LOG_COLUMNS.index("event_name")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return default


def _score(attrs: Mapping[str, Any], *, project: str, target_type: str, target_id: str, trace_id: str,
           evaluator: str, created: datetime, ingested: datetime) -> ScoreRow | None:
    name = _text(attrs.get(NAME)).strip()
    if not name:
        return None  # required by the convention: without it there is nothing to name the score by
    error = _text(attrs.get(ERROR))[:500]
    return ScoreRow(project=project, target_type=target_type, target_id=target_id, trace_id=trace_id,
                    name=name[:128], source=SOURCE, evaluator=evaluator[:128],
                    value=None if error else _number(attrs.get(VALUE)),
                    label="" if error else _text(attrs.get(LABEL))[:256],
                    rationale=_text(attrs.get(EXPLANATION)), error=error, created_at=created, updated_at=ingested)


def _span_target(row: SpanRow) -> tuple[str, str]:
    if row.kind == "evaluator" and row.parent_span_id:
        return "span", row.parent_span_id
    return "span", row.span_id


def scores_from_span(row: SpanRow) -> list[ScoreRow]:
    """The scores a span's evaluation events (or an evaluation span's own attributes) carry."""
    target_type, target_id = _span_target(row)
    common = dict(project=row.project, target_type=target_type, target_id=target_id, trace_id=row.trace_id,
                  evaluator=row.scope_name or row.name, ingested=row.ingested_at)
    out: list[ScoreRow] = []
    if row.events and EVENT in row.events:
        try:
            events = json.loads(row.events)
        except ValueError:
            events = []
        for event in events if isinstance(events, list) else []:
            if isinstance(event, dict) and event.get("name") == EVENT and isinstance(event.get("attributes"), dict):
                score = _score(event["attributes"], created=_time(event.get("time"), row.end_time), **common)
                if score is not None:
                    out.append(score)
    if NAME in row.attributes and row.kind == "evaluator":
        score = _score(row.attributes, created=row.end_time, **common)
        if score is not None:
            out.append(score)
    return out


def scores_from_log(row: LogRow) -> list[ScoreRow]:
    if row.event_name != EVENT or not (row.span_id or row.trace_id):
        return []
    attrs: dict[str, Any] = dict(row.attributes)
    try:  # some SDKs put the event's fields in the body instead of the attributes
        body = json.loads(row.body) if row.body[:1] == "{" else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        attrs = {**body, **attrs}
    score = _score(attrs, project=row.project, target_type="span" if row.span_id else "trace",
                   target_id=row.span_id or row.trace_id, trace_id=row.trace_id,
                   evaluator=row.service_name or "otel", created=row.time, ingested=row.ingested_at)
    return [score] if score is not None else []


def evaluation_scores(spans: Iterable[Sequence[Any]], logs: Iterable[Sequence[Any]]) -> list[ScoreRow]:
    """Score rows from insert-ready span and log tuples (what the writer holds, whether the rows were
    made in this process or in ingest worker processes). Cheap when there is nothing to find."""
    out: list[ScoreRow] = []
    for t in spans:
        if (t[_EVENTS_AT] and EVENT in t[_EVENTS_AT]) or NAME in t[_ATTRS_AT]:
            out += scores_from_span(SpanRow(*t))
    for t in logs:
        if t[_LOG_EVENT_AT] == EVENT:
            out += scores_from_log(LogRow(*t))
    return out
