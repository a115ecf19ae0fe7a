"""Synthetic, time-stamped span and score rows for the query benchmark (rows straight into the store).

A trace is a request root (chain) with a retrieval, one to three chat calls and sometimes a tool
call: 4-8 spans, ~7 on average with the tool loop. Content is a few hundred characters per field so
the wide columns weigh what they would in production. Users, sessions, models and prompt versions
have skewed popularity, errors and slow calls are rare, and one local model has no price.

A quarter of the traces arrive in two inserts, their children first and the root with the next batch, as
an SDK's batch exporter splits a trace that spans one of its flushes (every 5 s by default, against traces
of 1-5 s): each is two trace_list rows, one without the root.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from store.rows import SCORE_COLUMNS, SPAN_COLUMNS, ScoreRow, SpanRow, score_tuple, span_tuple

MODELS = [("openai", "gpt-4o-mini", 0.5, 0.15e-6, 0.6e-6), ("openai", "gpt-4o", 0.25, 2.5e-6, 10e-6),
          ("anthropic", "claude-3-5-sonnet", 0.15, 3e-6, 15e-6), ("local", "llama-3-8b-local", 0.1, 0, 0)]
SERVICES = ["support-bot", "search-api", "agent-worker"]
PROMPTS = [("support_answer", "v1"), ("support_answer", "v2"), ("support_answer", "v3"), ("search_summary", "v1")]
WORDS = ("invoice refund shipping policy account password reset billing plan upgrade latency cluster "
         "deployment region outage ticket escalation warranty contract renewal discount coupon").split()
_COL = {name: i for i, name in enumerate(SPAN_COLUMNS)}
_SCOL = {name: i for i, name in enumerate(SCORE_COLUMNS)}


class Synth:
    def __init__(self, rng: random.Random, project: str, days: float, now: datetime, split: float = 0.25) -> None:
        self.rng, self.project, self.now, self.split = rng, project, now, split
        self.late_roots: list = []  # roots of split traces, for the next batch
        self.span_seconds = days * 86_400
        self.texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90))) for _ in range(200)]
        self.templates = {role: span_tuple(self._template(role)) for role in ("root", "retriever", "llm", "tool")}
        self.score_template = score_tuple(ScoreRow(project=project, target_type="trace", source="llm_judge",
                                                   evaluator_version="1", judge_model="judge-mini", repeated=0))
        self.n = 0

    def _template(self, role: str) -> SpanRow:
        text = self.texts[0]
        row = SpanRow(project=self.project, otel_kind="internal", convention="genai", scope_name="bench",
                      service_version="1.4.2", release="2024.06")
        if role == "root":
            row.kind, row.name, row.input, row.output = "chain", "answer_question", text[:300], text[:500]
            row.tags = ["beta"]
        elif role == "retriever":
            row.kind, row.name, row.operation = "retriever", "retrieve", "retrieval"
            row.documents = json.dumps([{"id": f"doc-{i}", "score": 0.8 - i / 10, "content": text[:400]}
                                        for i in range(3)])
        elif role == "llm":
            row.kind, row.operation, row.cost_source = "llm", "chat", "price-table"
            row.input = json.dumps([{"role": "system", "content": "You answer support questions."},
                                    {"role": "user", "content": text[:600]}])
            row.output = json.dumps([{"role": "assistant", "content": text[:400]}])
            row.model_parameters = '{"temperature": 0.2, "max_tokens": 512}'
            row.finish_reasons = ["stop"]
        else:
            row.kind, row.name, row.operation, row.tool_name = "tool", "lookup_order", "execute_tool", "lookup_order"
            row.tool_calls = '[{"id": "call_1", "name": "lookup_order", "arguments": {"order_id": "A-1"}}]'
            row.input, row.output = '{"order_id": "A-1"}', '{"status": "shipped"}'
        return row

    def _span(self, role: str, **values) -> list:
        row = list(self.templates[role])
        for name, value in values.items():
            row[_COL[name]] = value
        return row

    def _trace(self, spans: list, scores: list) -> None:
        rng = self.rng
        self.n += 1
        # Diurnal load: more traffic in the afternoon (rejection sampling keeps it cheap).
        while True:
            offset = rng.random() * self.span_seconds
            hour = (self.now - timedelta(seconds=offset)).hour
            if rng.random() < 0.4 + 0.6 * (1 - abs(hour - 14) / 14):
                break
        t0 = self.now - timedelta(seconds=offset)
        tid = f"{rng.getrandbits(128):032x}"
        root_id = f"{rng.getrandbits(64):016x}"
        user = f"user-{min(int(rng.paretovariate(1.2)), 5000):04d}"
        session = f"sess-{self.n // 4:07d}"
        env = "production" if rng.random() < 0.9 else "staging"
        service = rng.choices(SERVICES, (6, 3, 1))[0]
        prompt = rng.choices(PROMPTS, (2, 3, 4, 2))[0]
        texts = self.texts
        t = t0 + timedelta(milliseconds=5)
        children = []
        ret_ms = rng.uniform(20, 120)
        children.append(self._span("retriever", trace_id=tid, span_id=f"{rng.getrandbits(64):016x}",
                                   parent_span_id=root_id, start_time=t, end_time=t + timedelta(milliseconds=ret_ms),
                                   duration_ms=ret_ms, service_name=service, environment=env))
        t += timedelta(milliseconds=ret_ms)
        error = False
        models = set()
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            provider, model, _, pin, pout = rng.choices(MODELS, [m[2] for m in MODELS])[0]
            models.add(model)
            tin, tout = rng.randint(300, 3000), rng.randint(20, 600)
            ms = rng.lognormvariate(6.5, 0.6) * (2 if model == "gpt-4o" else 1)
            failed = rng.random() < 0.02
            error = error or failed
            stream = rng.random() < 0.6
            children.append(self._span(
                "llm", trace_id=tid, span_id=f"{rng.getrandbits(64):016x}", parent_span_id=root_id,
                name=f"chat {model}", start_time=t, end_time=t + timedelta(milliseconds=ms), duration_ms=ms,
                service_name=service, environment=env, provider=provider, request_model=model,
                response_model=model, input_tokens=tin, output_tokens=tout, total_tokens=tin + tout,
                cost_usd=tin * pin + tout * pout, cost_source="unknown" if pin == 0 else "price-table",
                ttft_ms=ms * rng.uniform(0.1, 0.3) if stream else None, stream=int(stream),
                status="error" if failed else "ok", status_message="rate limited" if failed else "",
                prompt_name=prompt[0], prompt_version=prompt[1]))
            t += timedelta(milliseconds=ms)
            if rng.random() < 0.35:
                tms = rng.uniform(5, 300)
                children.append(self._span("tool", trace_id=tid, span_id=f"{rng.getrandbits(64):016x}",
                                           parent_span_id=root_id, start_time=t, duration_ms=tms,
                                           end_time=t + timedelta(milliseconds=tms), service_name=service,
                                           environment=env))
                t += timedelta(milliseconds=tms)
        total_ms = (t - t0).total_seconds() * 1000 + 3
        root = self._span("root", trace_id=tid, span_id=root_id, start_time=t0,
                          end_time=t0 + timedelta(milliseconds=total_ms), duration_ms=total_ms,
                          service_name=service, environment=env, session_id=session, user_id=user,
                          status="error" if error else "ok", input=rng.choice(texts)[:300],
                          output=rng.choice(texts)[:500])
        (self.late_roots if rng.random() < self.split else spans).append(root)
        spans.extend(children)
        # What store/scores.py stamps on a score whose trace is stored.
        facts = {"trace_start": t0, "t_service": service, "t_environment": env, "t_user": user,
                 "t_prompt_name": prompt[0], "t_prompt_version": prompt[1], "t_release": "2024.06",
                 "t_models": sorted(models)}
        if rng.random() < 0.15:  # the judges' sample
            bad = 0.15 if prompt[1] != "v3" else 0.35  # v3 is really worse
            for name in ("groundedness", "answer_relevance", "task_completion"):
                value = rng.choice((0.0, 0.5)) if rng.random() < bad else 1.0
                scores.append(self._score(tid, t0, name, value, "llm_judge", facts))
            scores.append(self._score(tid, t0, "toxicity", 1.0 if rng.random() < 0.01 else 0.0, "llm_judge", facts))
        if rng.random() < 0.03:
            scores.append(self._score(tid, t0, "thumbs", float(rng.random() < 0.8), "user_feedback", facts, user))

    def _score(self, tid: str, t0: datetime, name: str, value: float, source: str, facts: dict,
               author: str = "") -> list:
        row = list(self.score_template)
        created = t0 + timedelta(minutes=2)
        for key, v in (*facts.items(), ("target_id", tid), ("trace_id", tid), ("name", name), ("evaluator", name),
                       ("source", source), ("value", value), ("author", author),
                       ("label", "pass" if value >= 0.5 else "fail"), ("rationale", "synthetic verdict"),
                       ("created_at", created), ("updated_at", created)):
            row[_SCOL[key]] = v
        return row

    def batch(self, n_spans: int) -> tuple[list, list]:
        """About n_spans spans (with the roots held back from the last batch) and their scores."""
        spans, self.late_roots = self.late_roots, []
        scores: list = []
        while len(spans) < n_spans:
            self._trace(spans, scores)
        ingested = datetime.now(UTC)
        for row in spans:
            row[_COL["ingested_at"]] = ingested
        return spans, scores
