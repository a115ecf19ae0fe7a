"""The evaluator core: an evaluator turns a target (a span, a trace or a session) into scores.

Evaluators are synchronous: rubric checks are CPU-bound and fast, LLM judges block on HTTP, and the
online worker runs either kind in a bounded thread pool. One interface, no async twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Level = Literal["span", "trace", "session"]
SOURCES = ("rubric", "llm_judge", "human", "user_feedback", "sdk", "experiment", "otel_event")


@dataclass(frozen=True, slots=True)
class Target:
    """What an evaluator sees. Text fields are plain text; the raw canonical rows ride along."""

    level: Level
    target_id: str  # span id, trace id or session id
    trace_id: str = ""
    input: str = ""  # the user's question / the text that went in (last user message for LLM spans)
    output: str = ""  # the answer that came out
    messages: tuple[dict[str, Any], ...] = ()  # canonical chat messages (role, content, tool_calls…)
    documents: tuple[dict[str, Any], ...] = ()  # retrieved context {id, score, content}
    spans: tuple[dict[str, Any], ...] = ()  # canonical span rows (one for a span target)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Score:
    """One verdict. `error` set means the evaluation failed: value and label are then empty, never faked."""

    name: str
    value: float | None = None
    label: str = ""
    rationale: str = ""
    error: str = ""
    judge_model: str = ""
    judge_cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0


@runtime_checkable
class Evaluator(Protocol):
    name: str
    version: str
    source: str  # "rubric" or "llm_judge"
    level: Level

    def evaluate(self, target: Target) -> list[Score]: ...
