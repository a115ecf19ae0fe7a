"""Weeks of realistic, time-stamped traffic for the read API and dashboard tests.

Spans go over real OTLP/HTTP into the collector; judge verdicts go through store/scores.py (the path the
judge worker writes with) and end-user feedback through POST /api/scores. Deterministic for a seed.
Prompt `support_answer` v2 is really worse than v1; one model has no price; a few answers are toxic,
some conversations escalate to a human. Written to be swapped for `loupe demo`'s backfill later:
`seed(...)` returns what tests need to know, nothing else depends on how it made the data.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from store.rows import ScoreRow
from store.scores import insert_scores
from tests.support.otlp import new_span_id, new_trace_id, span, trace_request

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("local", "llama-local-unpriced")]
SERVICES = ("support-bot", "search-api")
QUESTIONS = ["How do I reset my password?", "Where is my refund for order A-1042?",
             "Can I upgrade my plan mid-cycle?", "Why was my card charged twice?",
             "What is your warranty on the X200?", "How do I export my invoices?"]


@dataclass
class SeedInfo:
    now: datetime
    days: int
    trace_ids: list[str] = field(default_factory=list)
    sessions: dict[str, list[str]] = field(default_factory=dict)  # session -> trace ids in order
    users: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    scored: dict[str, dict[str, float]] = field(default_factory=dict)  # trace -> name -> value
    llm_spans: dict[str, str] = field(default_factory=dict)  # trace -> its first llm span id


def _ns(t: datetime) -> int:
    return int(t.timestamp() * 1e9)


def _trace(rng: random.Random, info: SeedInfo, t0: datetime, session: str, user: str, turn: int) -> tuple:
    tid, root = new_trace_id(), new_span_id()
    question = rng.choice(QUESTIONS)
    provider, model = rng.choices(MODELS, (6, 3, 1))[0]
    version = "v1" if t0 < info.now - timedelta(days=info.days / 2) else rng.choice(("v1", "v2"))
    failed = rng.random() < 0.08
    answer = f"Here is how: step {turn + 1}. See the help centre article on {question.split()[-1].strip('?')}."
    ret_id, llm_id, tool_id = new_span_id(), new_span_id(), new_span_id()
    llm_ms = rng.lognormvariate(6.3, 0.5) * (2.2 if model == "gpt-4o" else 1)
    docs = [{"id": f"kb-{rng.randint(1, 99)}", "score": round(0.9 - i * 0.2, 2),
             "content": f"Help article {i}: {question} — follow the steps in settings."} for i in range(3)]
    t = _ns(t0)
    spans = [
        span(tid, ret_id, root, "retrieve", start_ns=t + 2_000_000, duration_ms=rng.uniform(20, 90), attrs={
            "gen_ai.operation.name": "retrieval", "gen_ai.retrieval.query.text": question,
            "gen_ai.retrieval.documents": json.dumps(docs)}),
        span(tid, llm_id, root, f"chat {model}", start_ns=t + 100_000_000, duration_ms=llm_ms, error=failed, attrs={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
            "gen_ai.response.model": model, "gen_ai.usage.input_tokens": rng.randint(200, 1500),
            "gen_ai.usage.output_tokens": rng.randint(20, 300), "gen_ai.request.stream": True,
            "gen_ai.response.time_to_first_chunk": llm_ms / 1000 * rng.uniform(0.1, 0.3),
            "loupe.prompt.name": "support_answer", "loupe.prompt.version": version,
            "gen_ai.input.messages": json.dumps([
                {"role": "system", "parts": [{"type": "text", "content": "You are a support assistant."}]},
                {"role": "user", "parts": [{"type": "text", "content": question}]}]),
            "gen_ai.output.messages": json.dumps([
                {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]),
        }),
    ]
    end_ms = 100 + llm_ms
    if rng.random() < 0.4:
        spans.append(span(tid, tool_id, root, "lookup_order", start_ns=t + int(end_ms * 1e6), duration_ms=40, attrs={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.arguments": '{"order_id": "A-1042"}',
            "gen_ai.tool.call.result": '{"status": "shipped"}'}))
        end_ms += 45
    spans.insert(0, span(tid, root, "", "handle_request", start_ns=t, duration_ms=end_ms + 5, error=failed, attrs={
        "session.id": session, "user.id": user, "loupe.span.kind": "chain", "loupe.input": question,
        "loupe.output": answer, "loupe.tags": ["support", "beta"] if turn == 0 else ["support"]}))
    info.trace_ids.append(tid)
    info.sessions.setdefault(session, []).append(tid)
    info.users.add(user)
    info.llm_spans[tid] = llm_id
    if failed:
        info.errors.add(tid)
    return tid, spans, version


def _verdicts(rng: random.Random, project: str, tid: str, t0: datetime, version: str, info: SeedInfo) -> list:
    bad = 0.5 if version == "v2" else 0.1
    values = {n: (rng.choice((0.0, 0.5)) if rng.random() < bad else 1.0)
              for n in ("groundedness", "answer_relevance", "context_relevance", "task_completion")}
    values["toxicity"] = 1.0 if rng.random() < 0.05 else 0.0
    values["escalation"] = 1.0 if rng.random() < 0.1 else 0.0
    info.scored[tid] = values
    created = t0 + timedelta(minutes=3)
    rows = []
    for name, value in values.items():
        source = "rubric" if name == "escalation" else "llm_judge"
        span_level = name == "groundedness"
        rows.append(ScoreRow(project=project, target_type="span" if span_level else "trace",
                             target_id=info.llm_spans[tid] if span_level else tid, trace_id=tid, name=name,
                             source=source, evaluator=name, evaluator_version="1", value=value,
                             label="pass" if value >= 0.5 else "fail", judge_model="judge-mini",
                             rationale=f"{name}: {'supported by kb docs' if value >= 0.5 else 'claim not in docs'}",
                             created_at=created, updated_at=created))
    return rows


def seed(url: str, ingest_key: str, store, project: str = "default", days: int = 14, sessions: int = 40,
         rng_seed: int = 5, now: datetime | None = None) -> SeedInfo:
    """Send `sessions` conversations (1-4 turns each) spread over the last `days` days."""
    rng = random.Random(rng_seed)
    info = SeedInfo(now=now or datetime.now(UTC).replace(microsecond=0), days=days)
    by_service: dict[str, list] = {s: [] for s in SERVICES}
    verdicts, feedback = [], []
    for i in range(sessions):
        start = info.now - timedelta(days=days) + timedelta(seconds=rng.uniform(60, days * 86_400 - 3_600))
        session, user = f"sess-{i:03d}", f"user-{rng.randint(1, 12):02d}"
        service = SERVICES[i % 3 == 2]
        for turn in range(rng.randint(1, 4)):
            t0 = start + timedelta(minutes=2 * turn)
            tid, spans, version = _trace(rng, info, t0, session, user, turn)
            by_service[service].extend(spans)
            if rng.random() < 0.7:
                verdicts += _verdicts(rng, project, tid, t0, version, info)
            if rng.random() < 0.3:
                feedback.append({"target_type": "trace", "target_id": tid, "name": "thumbs",
                                 "value": float(rng.random() < (0.4 if version == "v2" else 0.85)), "author": user})
    headers = {"Authorization": f"Bearer {ingest_key}", "Content-Type": "application/x-protobuf"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for service, spans in by_service.items():
            for i in range(0, len(spans), 200):
                body = trace_request(spans[i:i + 200], service=service,
                                     resource={"deployment.environment.name": "production"}).SerializeToString()
                client.post("/v1/traces", content=body, headers=headers).raise_for_status()
        for item in feedback:
            client.post("/api/scores", json=item, headers={"Authorization": f"Bearer {ingest_key}"}).raise_for_status()
    insert_scores(store, verdicts)
    return info
