"""The one store writer: WAL batches → canonical rows → batched inserts → checkpoint.

Exactly-once into ClickHouse rests on two facts. Each insert carries a token derived from the WAL
batch's sequence range, and the range is written to an intent file before the insert, so a restart
re-reads exactly that range and a replayed insert is dropped by the table's deduplication window.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from collector.metrics import Metrics
from collector.otlp import OTLPDecodeError
from collector.pipeline import Pipeline, Rows, init_worker, process_in_worker
from collector.wal import WAL, Batch
from judges.otel_events import evaluation_scores
from store.client import Store, StoreError
from store.rows import LOG_COLUMNS, SPAN_COLUMNS, log_tuple, span_tuple
from store.scores import insert_scores

log = logging.getLogger(__name__)

InsertFn = Callable[[str, Sequence[Sequence[Any]], Sequence[str], str], None]


class Writer:
    def __init__(self, wal: WAL, store: Store, pipeline: Pipeline, metrics: Metrics,
                 batch_records: int = 2000, batch_bytes: int = 16 << 20, flush_interval_s: float = 0.2,
                 insert: InsertFn | None = None, workers: int = 0) -> None:
        self.wal = wal
        self.store = store
        self.pipeline = pipeline
        self.metrics = metrics
        self.batch_records = batch_records
        self.batch_bytes = batch_bytes
        self.flush_interval_s = flush_interval_s
        # The seam tests use to make the store fail; by default the real store.
        self.insert: InsertFn = insert or (lambda t, rows, cols, tok: store.insert(t, rows, cols, tok))
        self._intent = Path(wal.directory) / "inflight.json"
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str = ""
        self.consecutive_failures = 0
        self._pool: ProcessPoolExecutor | None = None
        self._current: tuple[Batch, list[Future] | None] | None = None  # being inserted (kept across retries)
        self._ahead: tuple[Batch, list[Future] | None] | None = None  # read and being normalised
        if workers > 0:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker,
                                             initargs=(pipeline.settings.model_dump(), os.getpid()))

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loupe-writer", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True, timeout: float = 30.0) -> None:
        if drain:
            self.wait_idle(timeout)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        if self._pool:
            self._pool.shutdown(cancel_futures=True)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until everything in the WAL so far is in the store (tests, shutdown, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.wal.pending_records == 0 and not self._intent.exists() and self._current is None:
                return True
            time.sleep(0.01)
        return False

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0

    # --- work --------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                done = self.step()
            except Exception as exc:  # the writer must outlive any one bad batch or store outage
                self.consecutive_failures += 1
                self.last_error = str(exc)
                self.metrics.store_errors.inc()
                log.warning("store write failed (attempt %d), retrying in %.1fs: %s",
                            self.consecutive_failures, backoff, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            self.metrics.wal_bytes.set(self.wal.pending_bytes)
            self.metrics.wal_records.set(self.wal.pending_records)
            if not done:
                self._stop.wait(self.flush_interval_s)

    def _next_batch(self) -> Batch | None:
        """After a crash, exactly the range that was being inserted; else the oldest pending records."""
        if self._intent.exists():
            intent = json.loads(self._intent.read_text())
            first, last = intent["first"], intent["last"]
            batch = self.wal.read_batch(max_records=last - first + 1, max_bytes=1 << 62, after=first - 1)
            if batch is not None and (batch.first_seq, batch.last_seq) == (first, last):
                return batch
            log.warning("WAL intent %s-%s does not match the log; reading afresh", first, last)
            self._intent.unlink(missing_ok=True)
        return self.wal.read_batch(max_records=self.batch_records, max_bytes=self.batch_bytes)

    def _write_intent(self, batch: Batch) -> None:
        tmp = self._intent.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({"first": batch.first_seq, "last": batch.last_seq}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._intent)

    def _dropped(self, seq: int, project: str, error: object) -> None:
        # Validated at the door, so this means a bug or a corrupt record: count it, keep going.
        self.metrics.rows_dropped.inc()
        log.error("dropping WAL record %d (%s): %s", seq, project, error)

    def _submit(self, batch: Batch) -> list[Future]:
        assert self._pool is not None
        return [self._pool.submit(process_in_worker, r.kind, r.project, r.received_at_ns, r.payload)
                for r in batch.records]

    def _rows(self, batch: Batch, futures: list[Future] | None) -> tuple[list[tuple], list[tuple]]:
        if futures is not None:
            spans: list[tuple] = []
            logs: list[tuple] = []
            for record, future in zip(batch.records, futures, strict=True):
                span_rows, log_rows, error = future.result()
                if error:
                    self._dropped(record.seq, record.project, error)
                spans += span_rows
                logs += log_rows
            return spans, logs
        rows = Rows()
        for record in batch.records:
            try:
                self.pipeline.process(record.kind, record.project, record.received_at_ns, record.payload, rows)
            except (OTLPDecodeError, ValueError, RecursionError) as exc:
                self._dropped(record.seq, record.project, exc)
        return [span_tuple(r) for r in rows.spans], [log_tuple(r) for r in rows.logs]

    def step(self) -> bool:
        """Move one WAL batch into the store. Returns False when there was nothing to do.

        With worker processes the next batch is read and handed to them before this one is inserted, so
        normalising and inserting overlap. A failed insert leaves both in place for the retry.
        """
        if self._current is None:
            batch = self._next_batch()
            if batch is None:
                return False
            self._current = (batch, self._submit(batch) if self._pool else None)
        batch, futures = self._current
        if self._pool is not None and self._ahead is None:
            ahead = self.wal.read_batch(max_records=self.batch_records, max_bytes=self.batch_bytes,
                                        after=batch.last_seq)
            if ahead is not None:
                self._ahead = (ahead, self._submit(ahead))
        spans, logs = self._rows(batch, futures)
        self._write_intent(batch)
        started = time.perf_counter()
        if spans:
            self.insert("spans", spans, SPAN_COLUMNS, f"{batch.token}-s")
        if logs:
            self.insert("logs", logs, LOG_COLUMNS, f"{batch.token}-l")
        if scores := evaluation_scores(spans, logs):  # OTel evaluation results; scores replace, so no token
            # After the spans: the trace's root, when in this batch, stamps its scores.
            insert_scores(self.store, scores, lambda table, rows, cols: self.insert(table, rows, cols, ""))
        self.metrics.insert_seconds.observe(time.perf_counter() - started)
        self.metrics.spans_stored.inc(len(spans))
        self.wal.checkpoint(batch.last_seq)
        self._intent.unlink(missing_ok=True)
        self._current, self._ahead = self._ahead, None
        self.consecutive_failures = 0
        self.last_error = ""
        return True


__all__ = ["Writer", "StoreError"]
