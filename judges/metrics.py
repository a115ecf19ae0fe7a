"""Prometheus metrics of the judges, registered on the collector's registry (or their own, standalone)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class JudgeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.evaluations = Counter("loupe_judge_evaluations", "Evaluations by evaluator and outcome "
                                   "(scored, error, not_applicable, skipped_scored, skipped_budget)",
                                   ["evaluator", "outcome"], registry=r)
        self.cost = Counter("loupe_judge_cost_usd", "Judge spend in USD", ["evaluator"], registry=r)
        self.lag = Gauge("loupe_judge_lag_seconds", "Newest ingested span minus the worker's watermark",
                         ["shard"], registry=r)
        self.pending = Gauge("loupe_judge_pending_spans", "Spans ingested past the worker's watermark",
                             ["shard"], registry=r)
        self.in_flight = Gauge("loupe_judge_in_flight", "Evaluations running now", ["shard"], registry=r)
        self.cycle_errors = Counter("loupe_judge_cycle_errors", "Worker cycles that failed (retried)",
                                    ["shard"], registry=r)
