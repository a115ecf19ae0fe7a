"""Time series of volume, errors, cost, tokens, latency and TTFT, with an optional breakdown.

Hour buckets read the `spans_hourly` rollup (migration 0010; without filters on its other dimensions,
`spans_hourly_total`, 0055), day and week buckets `spans_daily` (0011),
minute buckets `spans` itself; rollup buckets are whole UTC hours or days, and their percentiles come
from log-bucketed histograms (0052, analytics/latency.py).
A breakdown by user goes through `trace_list`, since the user is a trace-level fact; its rows
are traces, so its latency is the trace's duration and it has no TTFT.
Groups beyond the top N (by spans, or by cost when sorting by cost) are folded into "(other)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analytics import pertrace
from analytics.latency import percentiles
from analytics.window import Window, bucket_expr, clean
from store.client import Store

OTHER = "(other)"
BREAKDOWNS = ("model", "provider", "service", "kind", "prompt_version", "environment", "user")
_ROLLUP_GROUP = {"model": "model", "provider": "provider", "service": "service_name", "kind": "kind",
                 "environment": "environment",
                 "prompt_version": "if(prompt_name = '' AND prompt_version = '', '', "
                                   "concat(prompt_name, ':', prompt_version))"}
_RAW_GROUP = {**_ROLLUP_GROUP, "model": "if(response_model != '', response_model, request_model)"}
_ROLLUP_METRICS = """
    sum(spans) AS span_total, sumIf(spans, is_root = 1) AS requests, sum(errors) AS errors, sum(cost_usd) AS cost_usd,
    sum(unpriced) AS unpriced, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(total_tokens) AS total_tokens, sum(duration_sum) AS duration_sum, sum(ttft_count) AS ttft_count,
    sumMap(duration_hist) AS latency_hist, sumMap(ttft_hist) AS ttft_hist
"""
_RAW_METRICS = """
    count() AS span_total, countIf(parent_span_id = '') AS requests, countIf(status = 'error') AS errors,
    sum(cost_usd) AS cost_usd, countIf(cost_source = 'unknown') AS unpriced, sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens, sum(total_tokens) AS total_tokens, sum(duration_ms) AS duration_sum,
    count(ttft_ms) AS ttft_count, quantilesTDigest(0.5, 0.95, 0.99)(duration_ms) AS latency,
    quantilesTDigest(0.5, 0.95, 0.99)(ttft_ms) AS ttft
"""


@dataclass
class SpanSelect:
    """Which spans a series counts. `root=True` keeps only request roots (request latency)."""

    service: str | None = None
    environment: str | None = None
    kind: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None
    root: bool | None = None


def _where(sel: SpanSelect, params: dict[str, Any], raw: bool) -> list[str]:
    cols = {"service": "service_name", "environment": "environment", "kind": "kind", "provider": "provider",
            "prompt_name": "prompt_name", "prompt_version": "prompt_version"}
    where = []
    for attr, column in cols.items():
        value = getattr(sel, attr)
        if value:
            params[f"f_{attr}"] = value
            where.append(f"{column} = {{f_{attr}:String}}")
    if sel.model:
        params["f_model"] = sel.model
        where.append("(response_model = {f_model:String} OR request_model = {f_model:String})" if raw
                     else "model = {f_model:String}")
    if sel.root is not None:
        root = "parent_span_id = ''" if raw else "is_root = 1"
        where.append(root if sel.root else f"NOT ({root})")
    return where


def source(bucket: str) -> tuple[str, str, str]:
    """The table a bucket reads, its time column and window condition: the coarsest that still fits."""
    if bucket == "minute":
        return "spans", "start_time", "start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}"
    if bucket == "hour":
        return "spans_hourly", "hour", "hour >= toStartOfHour({start:DateTime64(6)}) AND hour < {end:DateTime64(6)}"
    return "spans_daily", "day", "day >= toStartOfDay({start:DateTime64(6)}) AND day < {end:DateTime64(6)}"


def _totals_suffice(sel: SpanSelect) -> bool:
    """spans_hourly_total (migration 0055) keeps only kind and root of the hourly rollup's dimensions."""
    return not any(getattr(sel, a) for a in ("service", "environment", "provider", "model", "prompt_name",
                                             "prompt_version"))


def _point(row: dict[str, Any]) -> dict[str, Any]:
    if "latency_hist" in row:  # rollups: histograms (analytics/latency.py); spans and traces: quantiles
        latency, ttft = percentiles(row.pop("latency_hist")), percentiles(row.pop("ttft_hist"))
    else:
        latency, ttft = row.pop("latency"), row.pop("ttft")
    # SQL calls it span_total: an alias named like the rollup's `spans` column would shadow it.
    spans = row["spans"] = row.pop("span_total")
    duration_sum = row.pop("duration_sum")
    has_ttft = row.pop("ttft_count") > 0
    row.update(
        error_rate=row["errors"] / spans if spans else None,
        latency_avg=duration_sum / spans if spans else None,
        latency_p50=clean(latency[0]), latency_p95=clean(latency[1]), latency_p99=clean(latency[2]),
        ttft_p50=clean(ttft[0]) if has_ttft else None, ttft_p95=clean(ttft[1]) if has_ttft else None,
        ttft_p99=clean(ttft[2]) if has_ttft else None,
        cost_per_request=row["cost_usd"] / row["requests"] if row["requests"] else None,
    )
    return row


def span_series(store: Store, project: str, w: Window, bucket: str, sel: SpanSelect,
                breakdown: str | None = None, top: int = 10, rank_by: str = "spans") -> dict[str, Any]:
    if breakdown and breakdown not in BREAKDOWNS:
        raise ValueError(f"breakdown must be one of {', '.join(BREAKDOWNS)}")
    params: dict[str, Any] = {"project": project, **w.params(), "top": top}
    if breakdown == "user":
        return _user_series(store, project, w, bucket, sel, params, top, rank_by)
    raw = bucket == "minute"
    table, time_col, window_sql = source(bucket)
    if table == "spans_hourly" and not breakdown and _totals_suffice(sel):
        table = "spans_hourly_total"
    where = ["project = {project:String}", window_sql, *_where(sel, params, raw)]
    clause = " AND ".join(where)
    metrics = _RAW_METRICS if raw else _ROLLUP_METRICS
    group_expr, groups = "''", []
    if breakdown:
        expr = (_RAW_GROUP if raw else _ROLLUP_GROUP)[breakdown]
        order = "sum(cost_usd)" if rank_by == "cost_usd" else ("count()" if raw else "sum(spans)")
        groups = [r[0] for r in store.query_rows(
            f"SELECT {expr} AS g FROM {table} WHERE {clause} GROUP BY g ORDER BY {order} DESC, g "
            "LIMIT {top:UInt32}", params)]
        params["groups"] = groups
        group_expr = f"if({expr} IN {{groups:Array(String)}}, {expr}, '{OTHER}')"
    rows = store.query(
        f"SELECT {bucket_expr(bucket, time_col)} AS time, {group_expr} AS group, {metrics} FROM {table} "
        f"WHERE {clause} GROUP BY time, group ORDER BY time, group", params)
    return {"bucket": bucket, "breakdown": breakdown, "groups": groups, "data": [_point(r) for r in rows]}


def _user_series(store: Store, project: str, w: Window, bucket: str, sel: SpanSelect,
                 params: dict[str, Any], top: int, rank_by: str) -> dict[str, Any]:
    where = ["user != ''"]
    filters = []  # the facts the filters read
    for attr, column in {"service": "service", "environment": "env", "prompt_name": "pname",
                         "prompt_version": "pversion"}.items():
        if value := getattr(sel, attr):
            params[f"f_{attr}"] = value
            where.append(f"{column} = {{f_{attr}:String}}")
            filters.append(column)
    if sel.model:
        params["f_model"] = sel.model
        where.append("has(models, {f_model:String})")
        filters.append("models")

    traces = pertrace.traces_in_window(["user", "errs", "cost", "unpriced_n", "in_tok", "out_tok", "tokens", "dur",
                                        *filters], " AND ".join(where))
    # One pass: per bucket and user, ranked by the user's total (cost or traces) over the window; the top
    # users keep their name, the rest fold into OTHER (t-digest states merge, sums add up).
    per_user = (
        f"SELECT {bucket_expr(bucket, 't_start')} AS time, user, count() AS n, countIf(errs > 0) AS errs, "
        "sum(cost) AS cost, sum(unpriced_n) AS unpriced, sum(in_tok) AS it, sum(out_tok) AS ot, sum(tokens) AS tt, "
        "sum(dur) AS ds, quantilesTDigestState(0.5, 0.95, 0.99)(dur) AS lat "
        f"FROM ({traces}) "
        "GROUP BY time, user")
    total = "cost" if rank_by == "cost_usd" else "n"
    ranked = (f"SELECT *, dense_rank() OVER (ORDER BY user_total DESC, user) AS rnk FROM (SELECT *, "
              f"sum({total}) OVER (PARTITION BY user) AS user_total FROM ({per_user}))")
    rows = store.query(
        f"SELECT time, if(rnk <= {{top:UInt32}}, user, '{OTHER}') AS group, min(rnk) AS rank, sum(n) AS span_total, "
        "sum(n) AS requests, sum(errs) AS errors, sum(cost) AS cost_usd, sum(unpriced) AS unpriced, "
        "sum(it) AS input_tokens, sum(ot) AS output_tokens, sum(tt) AS total_tokens, sum(ds) AS duration_sum, "
        "0 AS ttft_count, quantilesTDigestMerge(0.5, 0.95, 0.99)(lat) AS latency, [nan, nan, nan] AS ttft "
        f"FROM ({ranked}) GROUP BY time, group ORDER BY time, group", params)
    ranks: dict[str, int] = {}
    for r in rows:
        rank = r.pop("rank")
        if r["group"] != OTHER:
            ranks[r["group"]] = rank
    groups = sorted(ranks, key=ranks.__getitem__)
    return {"bucket": bucket, "breakdown": "user", "groups": groups, "data": [_point(r) for r in rows]}


def unpriced_models(store: Store, project: str, w: Window) -> list[dict[str, Any]]:
    """Models whose calls had no price: their cost is unknown, never silently zero."""
    return store.query(
        "SELECT provider, model, sum(unpriced) AS spans, sum(input_tokens) AS input_tokens, "
        "sum(output_tokens) AS output_tokens, max(last_seen) AS last_seen FROM spans_hourly "
        "WHERE project = {project:String} AND hour >= toStartOfHour({start:DateTime64(6)}) "
        "AND hour < {end:DateTime64(6)} AND unpriced > 0 GROUP BY provider, model ORDER BY spans DESC, model",
        {"project": project, **w.params()})


def totals(store: Store, project: str, w: Window, sel: SpanSelect) -> dict[str, Any]:
    """One row of the same metrics over the whole window (headline numbers)."""
    params: dict[str, Any] = {"project": project, **w.params()}
    where = " AND ".join(["project = {project:String}",
                          "hour >= toStartOfHour({start:DateTime64(6)}) AND hour < {end:DateTime64(6)}",
                          *_where(sel, params, raw=False)])
    table = "spans_hourly_total" if _totals_suffice(sel) else "spans_hourly"
    row = store.query(f"SELECT {_ROLLUP_METRICS} FROM {table} WHERE {where}", params)[0]
    return _point(row)


def spend(store: Store, project: str, w: Window) -> float:
    """All spend in the window's hours (no quantiles to merge: cheap)."""
    rows = store.query_rows(
        "SELECT sum(cost_usd) FROM spans_hourly_total WHERE project = {project:String} "
        "AND hour >= toStartOfHour({start:DateTime64(6)}) AND hour < {end:DateTime64(6)}", {"project": project,
                                                                                            **w.params()})
    return float(rows[0][0] or 0.0)

