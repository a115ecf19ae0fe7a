"""Runs evaluations for the online worker and backfills: loads the targets' content, evaluates in a
bounded thread pool, turns verdicts into score rows and inserts them in small batches.

An evaluator that raises, or a judge that fails, becomes a score row with `error` set and no value;
the run goes on. An evaluator with nothing to judge (a groundedness judge on an answer without
documents) returns no score and costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from judges.core import Evaluator, Score, Target
from judges.sampling import Candidate
from judges.targets import attach_logs, session_target, span_target, trace_target
from store.client import Store
from store.judging import logs_of_traces, spans_of_traces
from store.rows import ScoreRow
from store.scores import insert_scores

log = logging.getLogger(__name__)
_CHUNK = 200  # trace ids per content query
_FLUSH_ROWS, _FLUSH_S = 1000, 2.0  # scores reach the store within seconds, in few inserts


@dataclass
class Job:
    candidate: Candidate
    evaluator: str  # the configured name
    rules: list[int] = field(default_factory=list)  # the sampling rules that select it, in order
    rule: int | None = None  # the one whose budget pays for it
    reserved_usd: float = 0.0
    rows: list[ScoreRow] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str, str]:
        c = self.candidate
        return c.project, c.level, c.target_id, self.evaluator

    @property
    def cost_usd(self) -> float:
        return sum(r.judge_cost_usd for r in self.rows)

    @property
    def failed(self) -> bool:
        return any(r.error for r in self.rows)


def load_targets(store: Store, candidates: Iterable[Candidate]) -> dict[tuple[str, str, str], Target]:
    """(project, level, target_id) → Target, for the candidates whose content is in the store."""
    by_project: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_project.setdefault(c.project, []).append(c)
    out: dict[tuple[str, str, str], Target] = {}
    for project, cands in by_project.items():
        trace_ids = sorted({t for c in cands for t in c.extra.get("trace_ids", (c.trace_id,)) if t})
        traces: dict[str, list[dict[str, Any]]] = {}
        for i in range(0, len(trace_ids), _CHUNK):
            chunk = trace_ids[i:i + _CHUNK]
            spans = spans_of_traces(store, project, chunk)
            attach_logs(spans, logs_of_traces(store, project, chunk) if any(
                s.get("kind") == "llm" and not (s.get("input") and s.get("output")) for s in spans) else [])
            for span in spans:
                traces.setdefault(span["trace_id"], []).append(span)
        for c in cands:
            target: Target | None = None
            if c.level == "span":
                spans = traces.get(c.trace_id, [])
                span = next((s for s in spans if s["span_id"] == c.target_id), None)
                target = span_target(span, spans) if span else None
            elif c.level == "trace":
                target = trace_target(c.target_id, traces[c.target_id]) if c.target_id in traces else None
            else:
                members = [traces[t] for t in c.extra.get("trace_ids", ()) if t in traces]
                target = session_target(c.target_id, members) if members else None
            if target is not None:
                out[(project, c.level, c.target_id)] = target
    return out


def score_rows(job: Job, evaluator: Evaluator, target: Target, scores: list[Score], now: datetime) -> list[ScoreRow]:
    c = job.candidate
    return [ScoreRow(project=c.project, target_type=c.level, target_id=c.target_id, trace_id=target.trace_id,
                     name=s.name, source=evaluator.source, evaluator=job.evaluator,
                     evaluator_version=evaluator.version, value=None if s.error else s.value,
                     label="" if s.error else s.label, rationale=s.rationale, judge_model=s.judge_model,
                     judge_cost_usd=s.judge_cost_usd, latency_ms=s.latency_ms, error=s.error[:2000],
                     created_at=now, updated_at=now) for s in scores]


def evaluate(job: Job, evaluator: Evaluator, target: Target, clock: Callable[[], datetime]) -> Job:
    started = time.monotonic()
    try:
        scores = evaluator.evaluate(target)
    except Exception as exc:  # an evaluator bug must cost one score, not the worker
        log.warning("evaluator %s failed on %s %s: %r", job.evaluator, target.level, target.target_id, exc)
        scores = [Score(name=getattr(evaluator, "name", job.evaluator), error=f"{type(exc).__name__}: {exc}",
                        latency_ms=(time.monotonic() - started) * 1000)]
    job.rows = score_rows(job, evaluator, target, scores, clock())
    return job


class Executor:
    """One bounded pool shared by the worker's pages or a backfill's."""

    def __init__(self, store: Store, evaluators: dict[str, Evaluator], concurrency: int,
                 clock: Callable[[], datetime] | None = None, name: str = "loupe-judge") -> None:
        self.store, self.evaluators = store, evaluators
        self.clock = clock or (lambda: datetime.now(UTC))
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self.in_flight = 0
        self._lock = threading.Lock()

    def run(self, jobs: list[Job], admit: Callable[[Job], bool], on_done: Callable[[Job, bool], None],
            stop: threading.Event) -> bool:
        """Evaluate the jobs, at most `concurrency` at a time. `admit(job)` is asked just before each one
        starts (budgets: it sees the cost of those already done); `on_done(job, ran)` follows each admitted
        job (ran False: no content in the store, or nothing to judge). False if stopped early."""
        targets = load_targets(self.store, {j.key[:3]: j.candidate for j in jobs}.values())
        queue = iter(jobs)
        pending: set[Future[Job]] = set()
        buffer: list[ScoreRow] = []
        flushed = time.monotonic()
        exhausted = False
        while not stop.is_set():
            while not exhausted and len(pending) < self.concurrency:
                job = next(queue, None)
                if job is None:
                    exhausted = True
                    break
                c = job.candidate
                target = targets.get((c.project, c.level, c.target_id))
                if not admit(job):
                    continue
                if target is None:
                    on_done(job, False)
                    continue
                pending.add(self.pool.submit(self._one, job, self.evaluators[job.evaluator], target))
            if not pending:
                break
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                job = future.result()
                buffer += job.rows
                on_done(job, bool(job.rows))
            if len(buffer) >= _FLUSH_ROWS or (buffer and time.monotonic() - flushed > _FLUSH_S):
                insert_scores(self.store, buffer)
                buffer, flushed = [], time.monotonic()
        for future in pending:
            future.cancel()
        insert_scores(self.store, buffer)
        return exhausted and not pending

    def _one(self, job: Job, evaluator: Evaluator, target: Target) -> Job:
        with self._lock:
            self.in_flight += 1
        try:
            return evaluate(job, evaluator, target, self.clock)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
