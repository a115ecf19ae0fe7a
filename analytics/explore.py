"""Slowest traces, filter values for the dashboard's pickers, and streaming export of a trace search."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from analytics import traces as tq
from analytics.window import Window
from store.client import Store

EXPORT_COLUMNS = ("trace_id", "start_time", "end_time", "duration_ms", "name", "service_name", "environment",
                  "release", "session_id", "user_id", "prompt_name", "prompt_version", "models", "tags",
                  "span_count", "error_count", "llm_count", "input_tokens", "output_tokens", "total_tokens",
                  "cost_usd", "unpriced_count", "input_preview", "output_preview")


def slowest_traces(store: Store, project: str, w: Window, service: str | None = None,
                   environment: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Requests by root-span duration, slowest first. Reads two skinny span columns, then the page's traces."""
    params: dict[str, Any] = {"project": project, "start": w.start, "end": w.end, "limit": limit}
    where = ["project = {project:String}", "start_time >= {start:DateTime64(6)}", "start_time < {end:DateTime64(6)}",
             "parent_span_id = ''"]
    for name, column, value in (("service", "service_name", service), ("environment", "environment", environment)):
        if value:
            params[name] = value
            where.append(f"{column} = {{{name}:String}}")
    roots = store.query_rows(
        f"SELECT trace_id, duration_ms FROM spans WHERE {' AND '.join(where)} "
        "ORDER BY duration_ms DESC LIMIT {limit:UInt32}", params)
    if not roots:
        return []
    page = tq.list_traces(store, project, tq.TraceFilter(start=w.start, end=w.end,
                                                         trace_ids=[r[0] for r in roots]), limit=limit)
    by_id = {t["trace_id"]: t for t in page.data}
    out = []
    for trace_id, duration in roots:
        if trace_id in by_id:
            out.append({**by_id[trace_id], "root_duration_ms": duration})
    return out


def facets(store: Store, project: str, w: Window) -> dict[str, list[str]]:
    """Distinct values seen in the window (whole days), for filter pickers: read from the daily rollup."""
    params = {"project": project, "start": w.start, "end": w.end}
    rows = store.query(
        "SELECT groupUniqArray(service_name) AS services, groupUniqArray(environment) AS environments, "
        "groupUniqArray(kind) AS kinds, groupUniqArray(model) AS models, groupUniqArray(provider) AS providers, "
        "groupUniqArrayIf(concat(prompt_name, ':', prompt_version), prompt_name != '') AS prompts "
        "FROM spans_daily WHERE project = {project:String} AND day >= toStartOfDay({start:DateTime64(6)}) "
        "AND day < {end:DateTime64(6)}", params)
    names = store.query_rows(
        "SELECT DISTINCT name FROM scores WHERE project = {project:String} AND created_at >= {start:DateTime64(6)} "
        "LIMIT 200", params)
    out = {k: sorted(x for x in v if x) for k, v in rows[0].items()} if rows else {}
    out["score_names"] = sorted(r[0] for r in names)
    return out


def iter_traces(store: Store, project: str, f: tq.TraceFilter, sort: str = "newest",
                max_rows: int = 100_000, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every trace of a search, page by page, so an export never holds the whole result in memory."""
    cursor, sent = None, 0
    while sent < max_rows:
        page = tq.list_traces(store, project, f, limit=min(page_size, max_rows - sent), cursor=cursor,
                              sort=sort, preview_chars=2000)
        yield from page.data
        sent += len(page.data)
        cursor = page.next_cursor
        if not cursor:
            return


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def export_lines(rows: Iterator[dict[str, Any]], fmt: str) -> Iterator[str]:
    """JSON Lines (one trace per line) or CSV with a header; lists become JSON in CSV cells."""
    if fmt == "jsonl":
        for row in rows:
            yield json.dumps({c: _plain(row.get(c)) for c in EXPORT_COLUMNS}, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([json.dumps(v) if isinstance(v, list) else _plain(v)
                         for v in (row.get(c) for c in EXPORT_COLUMNS)])
        yield buffer.getvalue()
