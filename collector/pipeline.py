"""WAL records → canonical rows: decode, normalise, limit content, redact, price.

Pure given the settings: replaying the same record yields the same rows, which is what makes
insert deduplication by WAL batch work after a crash.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collector.content import ContentLimits, limit_row, limit_text
from collector.cost import PriceOverride, Pricer, price_row
from collector.normalize import normalize_log, normalize_span
from collector.otlp import KIND_LOGS, KIND_TRACES, iter_logs, iter_spans, parse_request
from collector.redaction import RedactionConfig, Redactor, redact_log_row, redact_row
from collector.settings import Settings
from store.rows import LogRow, SpanRow, log_tuple, span_tuple

log = logging.getLogger(__name__)


@dataclass
class Rows:
    spans: list[SpanRow] = field(default_factory=list)
    logs: list[LogRow] = field(default_factory=list)


class _ProjectEnrichment:
    def __init__(self, settings: Settings, project: str) -> None:
        project_settings = settings.project(project)
        redaction = project_settings.redaction if project_settings.redaction is not None else settings.redaction
        self.redactor = Redactor(RedactionConfig(**redaction))
        overrides = [*project_settings.price_overrides, *settings.price_overrides]
        self.pricer = Pricer([PriceOverride(**o) for o in overrides])


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = ContentLimits(max_text_chars=settings.limits.max_text_chars,
                                    binary_min_chars=settings.limits.binary_min_chars)
        self._projects: dict[str, _ProjectEnrichment] = {}

    def _enrichment(self, project: str) -> _ProjectEnrichment:
        found = self._projects.get(project)
        if found is None:
            found = self._projects[project] = _ProjectEnrichment(self.settings, project)
        return found

    def process(self, kind: int, project: str, received_at_ns: int, payload: bytes, out: Rows) -> None:
        """Append the rows of one WAL record to `out`. Raises only on a record that cannot be decoded."""
        ingested_at = datetime.fromtimestamp(received_at_ns / 1e9, UTC)
        enrich = self._enrichment(project)
        request = parse_request(payload, "application/x-protobuf", kind)
        if kind == KIND_TRACES:
            for raw in iter_spans(request):
                row = normalize_span(raw, project, ingested_at)
                limit_row(self.limits, row)
                redact_row(enrich.redactor, row)
                price_row(enrich.pricer, row)
                out.spans.append(row)
        elif kind == KIND_LOGS:
            for raw_log in iter_logs(request):
                log_row = normalize_log(raw_log, project, ingested_at)
                log_row.body = limit_text(self.limits, log_row.body)
                redact_log_row(enrich.redactor, log_row)
                out.logs.append(log_row)


# --- worker processes -------------------------------------------------------------------------
# Normalising is CPU-bound Python; with `ingest_workers` > 0 it runs in spawned processes (never forked:
# the parent holds the embedded engine and its threads) and only insert-ready tuples come back.

_worker_pipeline: Pipeline | None = None


def init_worker(settings_data: dict, collector_pid: int) -> None:
    global _worker_pipeline
    # A collector killed outright (SIGKILL, the OOM killer) cannot shut its pool down, and a worker holds an
    # end of its own task queue, so it would wait for work forever: it leaves when its collector is gone
    # (the pid comes from the collector: a worker still starting up may already have been orphaned).
    threading.Thread(target=_exit_with_parent, args=(collector_pid,), name="loupe-parent-watch", daemon=True).start()
    _worker_pipeline = Pipeline(Settings.model_validate(settings_data))


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def process_in_worker(kind: int, project: str, received_at_ns: int, payload: bytes) -> tuple[list, list, str]:
    """(span tuples, log tuples, error) for one WAL record; errors are returned, not raised, to be counted."""
    assert _worker_pipeline is not None, "init_worker was not run"
    rows = Rows()
    try:
        _worker_pipeline.process(kind, project, received_at_ns, payload, rows)
    except (ValueError, RecursionError) as exc:
        return [], [], str(exc)
    return [span_tuple(r) for r in rows.spans], [log_tuple(r) for r in rows.logs], ""
