"""Which targets get which evaluators: rule matching, deterministic sampling, shards and daily budgets.

Sampling and sharding hash the target id (span id, trace id or session id) with MD5, read the way
ClickHouse's `halfMD5` reads it (first 8 bytes, big-endian), so the store can filter a shard in SQL
and a re-run, a restart or a backfill picks exactly the same targets. One sample point per target,
shared by all rules: a 10% rule picks a subset of what a 20% rule picks, so evaluators sampled at
different rates still overlap on the same answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from judges.config import SamplingRule
from judges.core import Level

_SAMPLE_SALT = ":sample"
_TWO_64 = float(1 << 64)


def stable_hash(text: str) -> int:
    """= ClickHouse `halfMD5(text)`."""
    return int.from_bytes(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).digest()[:8], "big")


def shard_of(target_id: str, shards: int) -> int:
    return stable_hash(target_id) % shards


def sample_point(target_id: str) -> float:
    """Where a target sits in [0, 1): sampled at rate r when below r."""
    return stable_hash(target_id + _SAMPLE_SALT) / _TWO_64


def parse_shard(text: str) -> tuple[int, int]:
    """`i/N` → (i, N), 0 ≤ i < N."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must look like i/N (e.g. 0/2), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard {text!r}: need N ≥ 1 and 0 ≤ i < N")
    return i, n


@dataclass(frozen=True)
class Candidate:
    """A target the worker may score, with the facts rules filter on (sets: a trace has many models)."""

    level: Level
    project: str
    target_id: str
    trace_id: str = ""  # the span's or trace's; for a session its latest trace
    last_ingested_at: datetime | None = None
    kinds: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    prompt_names: frozenset[str] = frozenset()
    prompt_versions: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)  # ids the target builder needs (trace ids…)


def facts(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in values if v not in (None, ""))


def rule_matches(rule: SamplingRule, c: Candidate) -> bool:
    checks = ((rule.project, {c.project}), (rule.kind, c.kinds), (rule.service, c.services),
              (rule.model, c.models), (rule.prompt_name, c.prompt_names),
              (rule.prompt_version, c.prompt_versions), (rule.environment, c.environments))
    if any(want is not None and want not in have for want, have in checks):
        return False
    return all(t in c.tags for t in rule.tags)


def sampled(rule: SamplingRule, c: Candidate) -> bool:
    return rule.rate >= 1.0 or (rule.rate > 0.0 and sample_point(c.target_id) < rule.rate)


class Budget:
    """Daily budgets of the rules, per worker shard: used = what the store says was scored today (so a
    restart keeps the count) + what this process reserved since. A shard gets its share (1/N) of each
    budget, counted on its own targets only, so N shards together never pass the whole budget.
    Dollars are reserved at the evaluator's running mean cost and settled with the real cost, so the
    dollar budget can be passed by at most the evaluations already in flight."""

    def __init__(self, rules: list[SamplingRule], shards: int = 1) -> None:
        self.rules, self.shards = rules, shards
        self._lock = threading.Lock()
        self.day: str = ""
        self.evals = [0.0] * len(rules)
        self.usd = [0.0] * len(rules)
        self.exhausted = [False] * len(rules)
        self._mean: dict[str, tuple[int, float]] = {}  # evaluator -> (n, total usd)

    def reset(self, day: str, used: list[tuple[int, float]]) -> None:
        with self._lock:
            self.day = day
            self.evals = [float(n) for n, _ in used]
            self.usd = [float(u) for _, u in used]
            self.exhausted = [False] * len(self.rules)

    def limits(self, i: int) -> tuple[float | None, float | None]:
        r = self.rules[i]
        share = 1.0 / self.shards
        return (None if r.daily_budget_evals is None else r.daily_budget_evals * share,
                None if r.daily_budget_usd is None else r.daily_budget_usd * share)

    def expected_usd(self, evaluator: str) -> float:
        n, total = self._mean.get(evaluator, (0, 0.0))
        return total / n if n else 0.0

    def reserve(self, i: int, evaluator: str) -> float | None:
        """Reserve one evaluation under rule i; the dollars reserved, or None when the budget is spent."""
        max_evals, max_usd = self.limits(i)
        with self._lock:
            cost = self.expected_usd(evaluator)
            over_evals = max_evals is not None and self.evals[i] + 1 > max_evals + 1e-9
            over_usd = max_usd is not None and (self.usd[i] >= max_usd or self.usd[i] + cost > max_usd)
            if over_evals or over_usd:
                self.exhausted[i] = True
                return None
            self.evals[i] += 1
            self.usd[i] += cost
            return cost

    def settle(self, i: int, evaluator: str, reserved: float, actual: float | None) -> None:
        """The evaluation finished (actual cost) or did not run at all (None: give the reservation back)."""
        with self._lock:
            if actual is None:
                self.evals[i] -= 1
                self.usd[i] -= reserved
                return
            self.usd[i] += actual - reserved
            n, total = self._mean.get(evaluator, (0, 0.0))
            self._mean[evaluator] = (n + 1, total + actual)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for i, rule in enumerate(self.rules):
                max_evals, max_usd = self.limits(i)
                out.append({"rule": i, "evaluators": list(rule.evaluators), "day": self.day,
                            "evals_used": int(self.evals[i]), "evals_limit": max_evals,
                            "usd_used": round(self.usd[i], 6), "usd_limit": max_usd,
                            "exhausted": self.exhausted[i]})
            return out


def plan(candidates: Iterable[Candidate], rules: list[SamplingRule], levels: Mapping[str, str],
         only: str | None = None) -> list[tuple[Candidate, str, list[int]]]:
    """(candidate, evaluator, rules that select it, in config order) for every evaluator of the
    candidate's level that some rule matches and samples; `only` keeps one evaluator (backfills)."""
    out = []
    for c in candidates:
        chosen: dict[str, list[int]] = {}
        for i, rule in enumerate(rules):
            names = [n for n in rule.evaluators if levels.get(n) == c.level and (only is None or n == only)]
            if names and rule_matches(rule, c) and sampled(rule, c):
                for name in names:
                    chosen.setdefault(name, []).append(i)
        out += [(c, name, idx) for name, idx in chosen.items()]
    return out
