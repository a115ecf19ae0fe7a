"""The online judge worker: new spans → sampling rules → evaluators → scores.

Each cycle, per level: read the candidates ingested since the watermark minus an overlap (late spans
become visible after the WAL), keep those a rule matches and samples, drop what this evaluator version
already scored (and, for traces and sessions, scored after their last span), reserve the rule's daily
budget, evaluate in the shared pool, then move the watermark. Trace and session targets are read only
once quiet for `quiet_s`. Everything is keyed by the score key, so a crash, a restart or an overlap
re-read replaces instead of duplicating; shards split targets by a hash of their id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from judges import candidates as cands
from judges.config import JudgesConfig
from judges.core import Evaluator
from judges.execute import Executor, Job
from judges.metrics import JudgeMetrics
from judges.sampling import Budget, Candidate, plan
from store import judging as q
from store.client import Store

log = logging.getLogger(__name__)
_TICK = timedelta(microseconds=1)
_OUTCOMES = ("scored", "error", "not_applicable", "skipped_scored", "skipped_budget")


class Worker:
    def __init__(self, store: Store, config: JudgesConfig, evaluators: dict[str, Evaluator],
                 shard: tuple[int, int] = (0, 1), metrics: JudgeMetrics | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store, self.config, self.evaluators, self.shard = store, config, evaluators, shard
        self.name = f"shard-{shard[0]}-of-{shard[1]}"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.metrics = metrics or JudgeMetrics()
        self.budget = Budget(config.sampling, shards=shard[1])
        self.executor = Executor(store, evaluators, config.concurrency, self.clock)
        self.levels = {name: ev.level for name, ev in evaluators.items()}
        used = {n for r in config.sampling for n in r.evaluators}
        self.active_levels = [lv for lv in ("span", "trace", "session") if lv in {self.levels[n] for n in used}]
        self.counts: dict[str, dict[str, int]] = {}
        self.marks: dict[str, datetime] = {}
        # Targets already decided in the overlap window (key → ingestion time it was decided at): a
        # re-read costs one query instead of the whole decision again. Pruned as the window moves.
        self._seen: dict[str, dict[tuple[str, str], datetime]] = {lv: {} for lv in ("span", "trace", "session")}
        self.lag_s, self.pending, self.newest = 0.0, 0, None
        self.cycles, self.last_cycle_at, self.last_error = 0, None, ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._label = f"{shard[0]}/{shard[1]}"
        self.metrics.in_flight.labels(self._label).set_function(lambda: self.executor.in_flight)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"loupe-judges-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self.executor.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        backoff = self.config.poll_interval_s
        while not self._stop.is_set():
            try:
                self.cycle()
                backoff = self.config.poll_interval_s
            except Exception as exc:  # the worker outlives a store outage or a bug in one cycle
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.metrics.cycle_errors.labels(self._label).inc()
                log.warning("judge worker %s: cycle failed, retrying in %.1fs: %s", self.name, backoff, exc)
                backoff = min(backoff * 2, 60.0)
            self._stop.wait(backoff)

    # --- one cycle -------------------------------------------------------------------------------

    def cycle(self) -> None:
        """Judge everything that is due now. Public so that tests and `loupe judges --once` can drive it."""
        now = self.clock()
        self._refresh_budget(now)
        self.update_lag()
        for level in self.active_levels:
            if self._stop.is_set():
                return
            getattr(self, f"_{level}s")(now)
        self.cycles += 1
        self.last_cycle_at = self.clock()
        self.last_error = ""
        self.update_lag()

    def _mark(self, level: str, now: datetime) -> datetime:
        if level not in self.marks:
            saved = {r["level"]: r["watermark"] for r in q.watermarks(self.store, self.name)}
            self.marks[level] = saved.get(level) or now - timedelta(seconds=self.config.initial_lookback_s)
        return self.marks[level]

    def _advance(self, level: str, mark: datetime) -> None:
        if mark > self.marks[level]:
            self.marks[level] = mark
            q.save_watermark(self.store, self.name, level, mark)

    def _prune(self, level: str, lo: datetime) -> None:
        seen = self._seen[level]
        for key in [k for k, at in seen.items() if at <= lo]:
            del seen[key]

    def _fresh(self, level: str, rows: list[dict[str, Any]], id_key: str, at_key: str) -> list[dict[str, Any]]:
        """The rows not decided yet at their current ingestion time."""
        seen = self._seen[level]
        return [r for r in rows if seen.get((r["project"], r[id_key])) != q.utc(r[at_key])]

    def _decided(self, level: str, rows: list[dict[str, Any]], id_key: str, at_key: str) -> None:
        self._seen[level].update(((r["project"], r[id_key]), q.utc(r[at_key])) for r in rows)

    def _spans(self, now: datetime) -> None:
        lo = self._mark("span", now) - timedelta(seconds=self.config.overlap_s)
        self._prune("span", lo)
        after = None
        while True:
            rows = q.span_candidates(self.store, lo, now, self.shard, after, self.config.page_size)
            if rows:
                fresh = self._fresh("span", rows, "span_id", "ingested_at")
                if fresh and not self._judge(cands.span_candidates(self.store, fresh)):
                    return  # stopped midway: the watermark stays before this page
                self._decided("span", fresh, "span_id", "ingested_at")
                after = (q.utc(rows[-1]["ingested_at"]), rows[-1]["span_id"])
                self._advance("span", min(now, after[0] - _TICK))  # ties at after[0] may be on the next page
            if len(rows) < self.config.page_size:
                self._advance("span", now)
                return
            self.update_lag()

    def _traces(self, now: datetime) -> None:
        hi = now - timedelta(seconds=self.config.quiet_s)
        lo = self._mark("trace", hi) - timedelta(seconds=self.config.overlap_s)
        self._prune("trace", lo)
        after, need = None, self._needs_kinds("trace")
        while lo < hi:
            rows = q.trace_candidates(self.store, lo, hi, self.shard, after, self.config.page_size)
            if rows:
                fresh = self._fresh("trace", rows, "tid", "last_at")
                if fresh and not self._judge(cands.trace_candidates(self.store, fresh, need)):
                    return
                self._decided("trace", fresh, "tid", "last_at")
                after = (q.utc(rows[-1]["last_at"]), rows[-1]["tid"])
                self._advance("trace", min(hi, after[0] - _TICK))
            if len(rows) < self.config.page_size:
                break
        self._advance("trace", hi)

    def _sessions(self, now: datetime) -> None:
        hi = now - timedelta(seconds=self.config.quiet_s)
        lo = self._mark("session", hi) - timedelta(seconds=self.config.overlap_s)
        if lo >= hi:
            return
        self._prune("session", lo)
        rows = self._fresh("session", q.session_candidates(self.store, lo, hi, self.shard), "sess", "last_at")
        size = self.config.page_size
        for i in range(0, len(rows), size):
            page = rows[i:i + size]
            if not self._judge(cands.session_candidates(self.store, page, self._needs_kinds("session"))):
                return
            self._decided("session", page, "sess", "last_at")
        self._advance("session", hi)

    def _needs_kinds(self, level: str) -> bool:
        return any(r.kind for r in self.config.sampling if any(self.levels[n] == level for n in r.evaluators))

    # --- selection and evaluation ----------------------------------------------------------------

    def _count(self, evaluator: str, outcome: str, n: int = 1) -> None:
        self.counts.setdefault(evaluator, dict.fromkeys(_OUTCOMES, 0))[outcome] += n
        self.metrics.evaluations.labels(evaluator, outcome).inc(n)

    def _judge(self, found: list[Candidate]) -> bool:
        """Score what the rules pick among `found`; False if stopped before the end."""
        if self._stop.is_set():
            return False
        pairs = plan(found, self.config.sampling, self.levels)
        if not pairs:
            return True
        done_before = self._already_scored(pairs)
        jobs = []
        for c, name, rules in pairs:
            seen = done_before.get((c.project, c.target_id, name, self.evaluators[name].version))
            if seen is not None and (c.level == "span" or c.last_ingested_at is None or seen >= c.last_ingested_at):
                self._count(name, "skipped_scored")
            else:
                jobs.append(Job(c, name, rules=rules))
        return self.executor.run(jobs, self._admit, self._finished, self._stop) if jobs else True

    def _already_scored(self, pairs: list[tuple[Candidate, str, list[int]]]) -> dict[tuple, datetime]:
        groups: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for c, name, _ in pairs:
            ids, names = groups.setdefault((c.project, c.level), (set(), set()))
            ids.add(c.target_id)
            names.add(name)
        out: dict[tuple, datetime] = {}
        for (project, level), (ids, names) in groups.items():
            found = q.scored(self.store, project, level, sorted(ids), sorted(names))
            for (tid, name, version), (created, _ok) in found.items():
                out[(project, tid, name, version)] = created
        return out

    def _admit(self, job: Job) -> bool:
        """Under the first of its rules with budget left; else skipped for today."""
        for i in job.rules:
            reserved = self.budget.reserve(i, job.evaluator)
            if reserved is not None:
                job.rule, job.reserved_usd = i, reserved
                return True
        self._count(job.evaluator, "skipped_budget")
        return False

    def _finished(self, job: Job, ran: bool) -> None:
        if job.rule is not None:
            self.budget.settle(job.rule, job.evaluator, job.reserved_usd, job.cost_usd if ran else None)
        if not ran:
            self._count(job.evaluator, "not_applicable")
            return
        self._count(job.evaluator, "error" if job.failed else "scored")
        if job.cost_usd:
            self.metrics.cost.labels(job.evaluator).inc(job.cost_usd)

    def _refresh_budget(self, now: datetime) -> None:
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        used = [q.budget_usage(self.store, day, rule.evaluators, rule.project, self.shard)
                if rule.daily_budget_evals is not None or rule.daily_budget_usd is not None else (0, 0.0)
                for rule in self.config.sampling]
        self.budget.reset(day.date().isoformat(), used)

    # --- lag and status --------------------------------------------------------------------------

    def update_lag(self) -> None:
        if "span" not in self.active_levels:
            return
        mark = self._mark("span", self.clock())
        self.newest, self.pending = q.backlog(self.store, mark, self.shard)
        self.lag_s = max(0.0, (self.newest - mark).total_seconds()) if self.newest else 0.0
        self.metrics.lag.labels(self._label).set(self.lag_s)
        self.metrics.pending.labels(self._label).set(self.pending)

    def status(self) -> dict[str, Any]:
        return {"worker": self.name, "shard": self._label, "running": self.running, "cycles": self.cycles,
                "last_cycle_at": self.last_cycle_at, "last_error": self.last_error,
                "watermarks": dict(self.marks), "lag_s": round(self.lag_s, 3),
                "pending": self.pending + self.executor.in_flight, "pending_spans": self.pending,
                "in_flight": self.executor.in_flight, "newest_ingested_at": self.newest,
                "levels": self.active_levels, "evaluations": {n: dict(c) for n, c in list(self.counts.items())},
                "budgets": self.budget.snapshot()}
