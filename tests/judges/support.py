"""Canonical rows written straight into the store, with chosen ingestion times: the worker tests' traffic."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from store.client import Store
from store.rows import SPAN_COLUMNS, SpanRow, span_tuple

DOCS = [{"id": "kb-returns", "score": 0.9, "content": "Laptops can be returned within 14 days of delivery."}]


def hexid(n: int) -> str:
    return os.urandom(n).hex()


def llm_row(trace_id: str, *, project: str = "default", parent: str = "", ingested_at: datetime | None = None,
            question: str = "How long can I return a laptop?", answer: str = "Within 14 days of delivery.",
            **fields: Any) -> SpanRow:
    at = ingested_at or datetime.now(UTC)
    messages = [{"role": "user", "content": question}]
    row = SpanRow(project=project, trace_id=trace_id, span_id=hexid(8), parent_span_id=parent, name="chat",
                  kind="llm", operation="chat", start_time=at - timedelta(seconds=2),
                  end_time=at - timedelta(seconds=1), duration_ms=1000, ingested_at=at, service_name="shop",
                  request_model="gpt-4o-mini", response_model="gpt-4o-mini-2024-07-18",
                  input=json.dumps(messages), output=json.dumps([{"role": "assistant", "content": answer}]))
    for key, value in fields.items():
        setattr(row, key, value)
    return row


def retriever_row(trace_id: str, parent: str, ingested_at: datetime, project: str = "default") -> SpanRow:
    return SpanRow(project=project, trace_id=trace_id, span_id=hexid(8), parent_span_id=parent, name="retrieve",
                   kind="retriever", start_time=ingested_at - timedelta(seconds=3),
                   end_time=ingested_at - timedelta(seconds=2.5), ingested_at=ingested_at, service_name="shop",
                   input="laptop returns", documents=json.dumps(DOCS))


def rag_trace(at: datetime, project: str = "default", **fields: Any) -> list[SpanRow]:
    """A root chain span, a retriever and an LLM answer: one RAG request."""
    tid = hexid(16)
    root = SpanRow(project=project, trace_id=tid, span_id=hexid(8), name="answer", kind="chain",
                   start_time=at - timedelta(seconds=4), end_time=at - timedelta(seconds=0.5), ingested_at=at,
                   service_name="shop", input="How long can I return a laptop?",
                   output="Within 14 days of delivery.", session_id=fields.pop("session_id", ""))
    service = fields.pop("service_name", "shop")
    rows = [root, retriever_row(tid, root.span_id, at, project),
            llm_row(tid, project=project, parent=root.span_id, ingested_at=at, **fields)]
    for row in rows:
        row.service_name = service
    return rows


def insert_spans(store: Store, rows: list[SpanRow]) -> None:
    store.insert("spans", [span_tuple(r) for r in rows], SPAN_COLUMNS)


def score_rows(store: Store, **where: str) -> list[dict[str, Any]]:
    """Every stored row of `scores` (no dedup: duplicates must show)."""
    cond = " AND ".join(f"{k} = {{{k}:String}}" for k in where) or "1"
    return store.query(f"SELECT * FROM scores WHERE {cond} ORDER BY target_id, evaluator", where)
