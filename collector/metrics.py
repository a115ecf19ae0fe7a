"""Prometheus metrics of the collector itself, one registry per app so tests can run several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.spans_received = Counter("loupe_spans_received", "Spans in export requests", registry=r)
        self.spans_accepted = Counter("loupe_spans_accepted", "Spans written to the WAL", registry=r)
        self.spans_rejected = Counter("loupe_spans_rejected", "Spans rejected as invalid", registry=r)
        self.logs_accepted = Counter("loupe_logs_accepted", "Log records written to the WAL", registry=r)
        self.requests = Counter("loupe_requests", "Export requests by outcome", ["endpoint", "status"],
                                registry=r)
        self.spans_stored = Counter("loupe_spans_stored", "Spans inserted into the store", registry=r)
        self.store_errors = Counter("loupe_store_errors", "Failed store inserts (retried)", registry=r)
        self.rows_dropped = Counter("loupe_rows_dropped", "Records that could not be processed", registry=r)
        self.insert_seconds = Histogram(
            "loupe_insert_seconds", "Store insert latency", registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.wal_bytes = Gauge("loupe_wal_pending_bytes", "WAL bytes not yet in the store", registry=r)
        self.wal_records = Gauge("loupe_wal_pending_records", "WAL records not yet in the store", registry=r)
