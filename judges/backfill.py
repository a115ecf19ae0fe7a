"""Backfills: score history with one evaluator — an estimate first, then a job with progress.

The targets are what the online worker would have picked: the sampling rules that name the evaluator
(their filters and rates; `rate` overrides the rates) or, when no rule names it, every LLM span (at
trace and session level: those with an LLM call). Budgets do not apply (the admin saw the estimate and
said yes). Targets this evaluator version already scored without error are skipped, so a job can simply
be run again.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.cost import Pricer
from judges import candidates as cands
from judges.config import JudgesConfig, SamplingRule
from judges.core import Evaluator
from judges.execute import Executor, Job
from judges.llm import LLMJudge
from judges.sampling import Candidate, plan
from judges.templates import system_prompt
from store import judging as q
from store.client import Store
from store.judge_jobs import get_job, save_job

log = logging.getLogger(__name__)
_PAGE = 5000
_OUTPUT_TOKENS = 200  # a rationale and a verdict
_STALE_S = 60  # a running job that has not written progress for this long died with its process


@dataclass(frozen=True)
class BackfillRequest:
    project: str
    evaluator: str
    since: datetime
    until: datetime
    rate: float | None = None


class Backfills:
    def __init__(self, store: Store, config: JudgesConfig, evaluators: dict[str, Evaluator]) -> None:
        self.store, self.config, self.evaluators = store, config, evaluators
        self._threads: dict[str, threading.Thread] = {}
        self._stop = threading.Event()

    def _rules(self, req: BackfillRequest) -> list[SamplingRule]:
        rules = [r for r in self.config.sampling if req.evaluator in r.evaluators]
        if not rules:  # the answers: model calls (at trace and session level, those that made one)
            rules = [SamplingRule(evaluators=[req.evaluator], kind="llm")]
        if req.rate is not None:
            rules = [r.model_copy(update={"rate": req.rate}) for r in rules]
        return [r.model_copy(update={"project": r.project or req.project}) for r in rules]

    def _applicable(self, ev: Evaluator, c: Candidate) -> bool:
        kinds = ev.template.applies_to if isinstance(ev, LLMJudge) and ev.level == "span" else ()
        return not kinds or bool(c.kinds & set(kinds))

    def _pages(self, req: BackfillRequest, level: str):
        after = None
        need_kinds = any(r.kind for r in self._rules(req))
        if level == "session":
            rows = q.session_candidates(self.store, req.since, req.until, (0, 1), project=req.project)
            yield cands.session_candidates(self.store, rows, need_kinds)
            return
        while True:
            if level == "span":
                rows = q.backfill_span_candidates(self.store, req.project, req.since, req.until, after, _PAGE)
                found = cands.span_candidates(self.store, rows)
                after = (rows[-1]["start_time"], rows[-1]["span_id"]) if rows else None
            else:
                rows = q.backfill_trace_candidates(self.store, req.project, req.since, req.until, after, _PAGE)
                found = cands.trace_candidates(self.store, rows, need_kinds)
                after = (rows[-1]["started"], rows[-1]["tid"]) if rows else None
            yield found
            if len(rows) < _PAGE:
                return

    def select(self, req: BackfillRequest) -> tuple[int, list[Candidate], int]:
        """(targets in the window, targets to score, targets skipped as already scored)."""
        ev = self.evaluators[req.evaluator]
        rules, levels = self._rules(req), {req.evaluator: ev.level}
        scanned, chosen, done = 0, [], 0
        for page in self._pages(req, ev.level):
            scanned += len(page)
            picked = [c for c, _, _ in plan(page, rules, levels) if self._applicable(ev, c)]
            ok = q.scored(self.store, req.project, ev.level, [c.target_id for c in picked], [req.evaluator])
            for c in picked:
                hit = ok.get((c.target_id, req.evaluator, ev.version))
                if hit is not None and hit[1]:
                    done += 1
                else:
                    chosen.append(c)
        return scanned, chosen, done

    def _cost(self, req: BackfillRequest, chosen: list[Candidate]) -> tuple[float | None, str]:
        ev = self.evaluators[req.evaluator]
        if not isinstance(ev, LLMJudge):
            return 0.0, "free"
        n, mean = q.mean_cost(self.store, req.project, req.evaluator, datetime.now(UTC) - timedelta(days=30))
        if n >= 5:
            return round(mean * len(chosen), 6), "history"
        # Tokens: the fixed prompt, plus each target's content up to the judge's limits, ~4 chars a token.
        t, lim = ev.template, ev.limits
        fixed = len(system_prompt(t)) + len(t.user) + sum(len(json.dumps(x.model_dump())) for x in t.examples)
        cap = sum({"question": lim.question_chars, "answer": lim.answer_chars, "context": lim.context_chars,
                   "transcript": lim.transcript_chars, "tool_calls": lim.tool_calls_chars}[n] for n in t.inputs)
        chars = sum(fixed + min(int(c.extra.get("chars") or cap), cap) for c in chosen)
        usd, source = Pricer().price(ev.config.provider or "openai", ev.config.model or "", datetime.now(UTC),
                                     chars // 4, _OUTPUT_TOKENS * len(chosen))
        return (None, "unknown-price") if source == "unknown" else (round(usd, 6), "tokens")

    def estimate(self, req: BackfillRequest) -> dict[str, Any]:
        scanned, chosen, done = self.select(req)
        cost, method = self._cost(req, chosen)
        return self._summary(req, scanned, len(chosen), done, cost, method)

    def _summary(self, req: BackfillRequest, scanned: int, selected: int, done: int, cost: float | None,
                 method: str) -> dict[str, Any]:
        return {"evaluator": req.evaluator, "level": self.evaluators[req.evaluator].level,
                "since": req.since, "until": req.until, "rate": req.rate, "candidates": scanned,
                "already_scored": done, "to_score": selected, "estimated_cost_usd": cost, "cost_method": method}

    def start(self, req: BackfillRequest, author: str) -> dict[str, Any]:
        scanned, chosen, done = self.select(req)
        cost, method = self._cost(req, chosen)
        now = datetime.now(UTC)
        job = {"project": req.project, "job_id": uuid.uuid4().hex[:16], "evaluator": req.evaluator,
               "params": json.dumps({"since": req.since.isoformat(), "until": req.until.isoformat(),
                                     "rate": req.rate}),
               "status": "running", "total": len(chosen), "done": 0, "scored": 0, "errors": 0, "skipped": 0,
               "cost_usd": 0.0, "estimated_cost_usd": cost, "message": "", "created_by": author,
               "created_at": now, "updated_at": now}
        save_job(self.store, job)
        thread = threading.Thread(target=self._run, args=(job, chosen), name=f"loupe-backfill-{job['job_id']}",
                                  daemon=True)
        self._threads[job["job_id"]] = thread
        thread.start()
        return {**self._summary(req, scanned, len(chosen), done, cost, method), "job": self.describe(job)}

    def _run(self, job: dict[str, Any], chosen: list[Candidate]) -> None:
        executor = Executor(self.store, self.evaluators, self.config.concurrency, name="loupe-backfill")
        lock, last = threading.Lock(), [datetime.now(UTC)]

        def done(j: Job, ran: bool) -> None:
            with lock:
                job["done"] += 1
                job["scored" if ran and not j.failed else "errors" if ran else "skipped"] += 1
                job["cost_usd"] += j.cost_usd
                if (datetime.now(UTC) - last[0]).total_seconds() >= 1.0:  # progress doubles as a heartbeat
                    last[0] = datetime.now(UTC)
                    save_job(self.store, job)

        try:
            jobs = [Job(c, job["evaluator"]) for c in chosen]
            for i in range(0, len(jobs), _PAGE):
                if not executor.run(jobs[i:i + _PAGE], lambda j: True, done, self._stop):
                    raise RuntimeError("stopped: the server is shutting down; run the backfill again to finish")
            job["status"] = "done"
        except Exception as exc:  # a failed job says why; the server goes on
            log.warning("backfill %s failed: %s", job["job_id"], exc)
            job["status"], job["message"] = "failed", f"{type(exc).__name__}: {exc}"[:500]
        finally:
            executor.close()
            save_job(self.store, job)

    def job(self, project: str, job_id: str) -> dict[str, Any] | None:
        found = get_job(self.store, project, job_id)
        if found is not None and found["status"] == "running" and job_id not in self._threads and \
                (datetime.now(UTC) - found["updated_at"]).total_seconds() > _STALE_S:
            found["status"], found["message"] = "interrupted", "the server stopped during the job; run it again"
        return None if found is None else self.describe(found)

    @staticmethod
    def describe(job: dict[str, Any]) -> dict[str, Any]:
        total = job["total"]
        return {"id": job["job_id"], "evaluator": job["evaluator"], "status": job["status"],
                "params": json.loads(job["params"] or "{}"), "total": total, "done": job["done"],
                "scored": job["scored"], "errors": job["errors"], "not_applicable": job["skipped"],
                "progress": 1.0 if not total else round(job["done"] / total, 4), "cost_usd": round(job["cost_usd"], 6),
                "estimated_cost_usd": job["estimated_cost_usd"], "message": job["message"],
                "created_by": job["created_by"], "created_at": job["created_at"], "updated_at": job["updated_at"]}

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads.values():
            thread.join(timeout)
