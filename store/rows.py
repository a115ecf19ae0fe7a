"""Typed rows, in the column order of their tables. The collector fills them; writers insert them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class SpanRow:
    """One canonical span (DESIGN.md, "The canonical span"). Content fields hold redacted JSON text."""

    project: str = ""
    trace_id: str = ""  # 32 lowercase hex
    span_id: str = ""  # 16 lowercase hex
    parent_span_id: str = ""
    name: str = ""
    kind: str = "other"  # llm embedding retriever reranker tool agent chain guardrail evaluator other
    operation: str = ""  # chat, completion, responses, embeddings, execute_tool, invoke_agent, retrieval…
    otel_kind: str = ""  # internal server client producer consumer
    status: str = "ok"  # ok | error
    status_message: str = ""
    start_time: datetime = _EPOCH
    end_time: datetime = _EPOCH
    duration_ms: float = 0.0
    ingested_at: datetime = _EPOCH
    service_name: str = ""
    service_version: str = ""
    environment: str = ""
    release: str = ""
    session_id: str = ""
    user_id: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    convention: str = ""  # genai, openinference, openllmetry, langfuse, loupe, none
    scope_name: str = ""
    provider: str = ""
    request_model: str = ""
    response_model: str = ""
    model_parameters: str = ""  # JSON object: temperature, max_tokens, top_p…
    stream: int = 0
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    cost_source: str = ""  # price-table | reported | override | unknown | "" (not a model call)
    ttft_ms: float | None = None
    prompt_name: str = ""
    prompt_version: str = ""
    prompt_template: str = ""
    prompt_variables: str = ""  # JSON object
    tool_name: str = ""
    input: str = ""  # LLM spans: JSON list of messages; others: the value (JSON when structured)
    output: str = ""
    documents: str = ""  # JSON list of {id, score, content, metadata}
    tool_calls: str = ""  # JSON list of {id, name, arguments, result?}
    redactions: dict[str, int] = field(default_factory=dict)  # kind -> count
    content_limits: dict[str, int] = field(default_factory=dict)  # truncated / binary -> count
    attributes: dict[str, str] = field(default_factory=dict)  # attributes no mapping consumed
    resource_attributes: dict[str, str] = field(default_factory=dict)
    events: str = ""  # JSON list of {name, time, attributes}


@dataclass(slots=True)
class LogRow:
    project: str = ""
    trace_id: str = ""
    span_id: str = ""
    time: datetime = _EPOCH
    ingested_at: datetime = _EPOCH
    event_name: str = ""
    severity: str = ""
    service_name: str = ""
    body: str = ""  # JSON
    attributes: dict[str, str] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ScoreRow:
    project: str = ""
    target_type: str = "trace"  # span | trace | session
    target_id: str = ""
    trace_id: str = ""
    name: str = ""
    source: str = ""  # rubric llm_judge human user_feedback sdk experiment otel_event
    evaluator: str = ""
    evaluator_version: str = ""
    author: str = ""
    value: float | None = None
    label: str = ""
    rationale: str = ""
    comment: str = ""
    judge_model: str = ""
    judge_cost_usd: float = 0.0
    latency_ms: float = 0.0
    error: str = ""
    created_at: datetime = _EPOCH
    updated_at: datetime = _EPOCH
    # The judged trace's start and trace-level facts, stamped on write (store/scores.py) so score views
    # need no join; the epoch means "not known yet" and such rows are joined at read time.
    trace_start: datetime = _EPOCH
    t_service: str = ""
    t_environment: str = ""
    t_user: str = ""
    t_prompt_name: str = ""
    t_prompt_version: str = ""
    t_release: str = ""
    t_models: list[str] = field(default_factory=list)
    # 1 when the key may have another row (store/migrations/0054); store/scores.py sets it on write.
    repeated: int = 1


def columns(row_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(row_type))


SPAN_COLUMNS = columns(SpanRow)
LOG_COLUMNS = columns(LogRow)
SCORE_COLUMNS = columns(ScoreRow)

# attrgetter over all fields is the cheapest way from a slots dataclass to an insert tuple.
span_tuple = attrgetter(*SPAN_COLUMNS)
log_tuple = attrgetter(*LOG_COLUMNS)
score_tuple = attrgetter(*SCORE_COLUMNS)
