"""The judges inside a running process: the evaluators, the online worker (when enabled), backfills and
the lock annotation queues assign items under. `loupe serve` makes one in its lifespan; `loupe judges`
makes one around a worker shard.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from prometheus_client import CollectorRegistry

from judges.backfill import Backfills
from judges.config import JudgesConfig, parse_judges
from judges.metrics import JudgeMetrics
from judges.registry import build_evaluators
from judges.worker import Worker
from store import judging as q
from store.client import Store

log = logging.getLogger(__name__)
_WORKER_NAME = re.compile(r"^shard-(\d+)-of-(\d+)$")


class JudgeService:
    def __init__(self, store: Store, section: dict[str, Any] | JudgesConfig | None,
                 registry: CollectorRegistry | None = None, shard: tuple[int, int] = (0, 1),
                 run_worker: bool = True) -> None:
        self.store = store
        self.config = section if isinstance(section, JudgesConfig) else parse_judges(section)
        self.metrics = JudgeMetrics(registry)
        self.evaluators = build_evaluators(self.config)
        self.worker: Worker | None = None
        if run_worker and self.config.enabled and self.config.sampling:
            self.worker = Worker(store, self.config, self.evaluators, shard=shard, metrics=self.metrics)
        self.backfills = Backfills(store, self.config, self.evaluators)
        self.queue_lock = threading.Lock()  # one reviewer at a time picks an item, in this process

    def start(self) -> JudgeService:
        if self.worker is not None:
            self.worker.start()
            log.info("judge worker %s started with %d evaluators", self.worker.name, len(self.evaluators))
        return self

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.backfills.stop()

    def status(self) -> dict[str, Any]:
        """This process's worker live, plus every shard's persisted progress (workers elsewhere too)."""
        shards = []
        for mark in q.watermarks(self.store):
            match = _WORKER_NAME.match(mark["worker"])
            entry = {**mark}
            if mark["level"] == "span" and match:
                newest, pending = q.backlog(self.store, mark["watermark"], (int(match[1]), int(match[2])))
                entry.update(pending_spans=pending, newest_ingested_at=newest,
                             lag_s=max(0.0, (newest - mark["watermark"]).total_seconds()) if newest else 0.0)
            shards.append(entry)
        return {"enabled": self.config.enabled, "running": bool(self.worker and self.worker.running),
                "evaluators": {name: {"level": ev.level, "source": ev.source, "version": ev.version}
                               for name, ev in self.evaluators.items()},
                "worker": self.worker.status() if self.worker else None, "shards": shards}


def start_judges(state: Any) -> JudgeService:
    """For the collector's lifespan: the judges of `state.settings`, their metrics on the collector's."""
    return JudgeService(state.store, state.settings.judges, registry=state.metrics.registry).start()
