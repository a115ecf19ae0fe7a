"""Synthetic LLM traffic with known answers, written straight into the store as typed rows.

Every trace is one LLM call (its own root). A `Mix` says what the traffic looks like; two mixes that
differ only where a test injects a shift give data whose right answer is known. Fixed seeds throughout.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from store.client import Store
from store.rows import SPAN_COLUMNS, ScoreRow, SpanRow, span_tuple
from store.scores import insert_scores

TOPICS = {
    "billing": "invoice refund charge card payment billed twice receipt vat".split(),
    "shipping": "delivery package tracking courier shipped late address parcel".split(),
    "account": "password login reset email locked verification profile username".split(),
    "plus": "plus membership perks annual subscription benefits free shipping tier".split(),
}
COMMON = "how do i can you please my the a is why what when help with".split()
SPANISH = "cómo puedo mi la el por qué no está de para con".split()


@dataclass
class Mix:
    topics: dict[str, float] = field(default_factory=lambda: {"billing": 0.4, "shipping": 0.3, "account": 0.3})
    models: dict[str, float] = field(default_factory=lambda: {"gpt-4o-mini": 0.8, "gpt-4o": 0.2})
    prompt: tuple[str, str] = ("support_answer", "v1")
    output_tokens: float = 120.0  # mean of a lognormal
    latency_ms: float = 800.0
    spanish: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)  # name -> P(value = 1) (else 0)
    graded: dict[str, tuple[float, ...]] = field(default_factory=dict)  # name -> weights of 0, 0.5, 1
    service: str = "support-bot"
    errors: float = 0.0  # share of calls that fail


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def question(rng: random.Random, topic: str, spanish: bool = False) -> str:
    words = [rng.choice(SPANISH if spanish else COMMON) for _ in range(5)] + [rng.choice(TOPICS[topic])
                                                                              for _ in range(5)]
    rng.shuffle(words)
    return " ".join(words) + "?"


def make_traffic(store: Store, project: str, start: datetime, end: datetime, n: int, mix: Mix,
                 seed: int) -> list[str]:
    """n calls spread evenly over [start, end); returns their trace ids in time order."""
    rng = random.Random(seed)
    spans, scores, ids = [], [], []
    step = (end - start) / n
    for i in range(n):
        t0 = start + step * i + timedelta(microseconds=rng.randint(0, max(1, int(step.total_seconds() * 1e6) - 1)))
        topic = _pick(rng, mix.topics)
        q = question(rng, topic, rng.random() < mix.spanish)
        answer = f"About your {topic} question: " + " ".join(rng.choice(TOPICS[topic]) for _ in range(8))
        trace_id, span_id = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(64):016x}"
        out_tokens = int(rng.lognormvariate(0, 0.4) * mix.output_tokens)
        duration = rng.lognormvariate(0, 0.3) * mix.latency_ms
        model = _pick(rng, mix.models)
        spans.append(SpanRow(
            project=project, trace_id=trace_id, span_id=span_id, name=f"chat {model}", kind="llm", operation="chat",
            status="error" if mix.errors and rng.random() < mix.errors else "ok",
            start_time=t0, end_time=t0 + timedelta(milliseconds=duration), duration_ms=duration, ingested_at=t0,
            service_name=mix.service, environment="prod", provider="openai", request_model=model,
            response_model=model, finish_reasons=["stop"], input_tokens=rng.randint(200, 900),
            output_tokens=out_tokens, total_tokens=out_tokens + 500, cost_usd=out_tokens * 1e-6,
            cost_source="price-table", prompt_name=mix.prompt[0], prompt_version=mix.prompt[1],
            input=json.dumps([{"role": "system", "content": "You are a support assistant."},
                              {"role": "user", "content": q}]),
            output=json.dumps([{"role": "assistant", "content": answer}])))
        for name, p_one in mix.scores.items():
            scores.append(_score(project, trace_id, span_id, name, float(rng.random() < p_one), t0))
        for name, weights in mix.graded.items():
            scores.append(_score(project, trace_id, span_id, name, rng.choices((0.0, 0.5, 1.0), weights)[0], t0))
        ids.append(trace_id)
    store.insert("spans", [span_tuple(s) for s in spans], SPAN_COLUMNS)
    if scores:
        insert_scores(store, scores)
    return ids


def _score(project: str, trace_id: str, span_id: str, name: str, value: float, t: datetime) -> ScoreRow:
    source = "llm_judge" if name in ("groundedness", "answer_relevance", "task_completion", "toxicity") else "rubric"
    return ScoreRow(project=project, target_type="span", target_id=span_id, trace_id=trace_id, name=name,
                    source=source, evaluator=name, evaluator_version="1", value=value,
                    label="flagged" if value >= 0.5 else "ok", rationale=f"synthetic {name}={value}",
                    created_at=t + timedelta(seconds=5), updated_at=t + timedelta(seconds=5))
