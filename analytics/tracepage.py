"""The newest-first trace list and its count, fast on millions of traces.

Merging the `traces` rollup for every trace of a 30-day window costs seconds at 10^6 traces, and a page
needs 50. So a page is found slice by slice, newest first: a slice's candidates are the trace ids
with a partial row starting inside it (cheap: the day partitions and one column), only those are
merged, and the slice widens (1 h, 4 h, 16 h…) until the page is full or the window is exhausted.
A trace whose merged start lies in the slice always has a partial row starting there, so no trace is
missed; HAVING keeps only merged starts inside the slice, so the order across slices is exact.

Filters whose merged value must appear on some partial row (max-type facts, models, errors, tags)
also narrow the candidates. An unfiltered (or service/environment) search is first estimated from
`spans_hourly`: root spans in the window's whole hours plus the edge hours counted in `spans`. Up to
EXACT_COUNT_LIMIT the traces are then counted exactly; above it the estimate is the total
(`total_exact: false`): it counts traces whose root has arrived, once per root span.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

FIRST_SLICE = timedelta(hours=1)
EXACT_COUNT_LIMIT = 50_000  # below this many (estimated) traces an exact count costs little
OFFSET = "offset:"  # cursors of sorted (non-time) pages
GROWTH = 4
_ROLLUP_COUNTABLE = {"service", "environment"}  # facts of the root span, a dimension of spans_hourly


def _utc(t: datetime) -> datetime:
    """API times may come naive (meaning UTC), the store's are naive UTC: compare them all as aware UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def prefilters(f: Any, params: dict[str, Any]) -> list[str]:
    """Conditions on partial rows that every matching trace satisfies on at least one of its rows."""
    out = []
    for attr, column in {"environment": "environment", "session_id": "session_id", "user_id": "user_id",
                         "prompt_name": "prompt_name", "prompt_version": "prompt_version"}.items():
        if getattr(f, attr):
            params[attr] = getattr(f, attr)
            out.append(f"{column} = {{{attr}:String}}")
    if f.model:
        params["model"] = f.model
        out.append("has(models, {model:String})")
    if f.status == "error":
        out.append("error_count > 0")
    if f.tags:
        params["tags"] = f.tags
        out.append("hasAny(tags, {tags:Array(String)})")
    return out


def newest_page(store: Any, fields: str, skinny: str, where: str, having: list[str], pre: list[str],
                params: dict[str, Any], limit: int, cursor: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    """Up to limit+1 traces, newest first, strictly after the cursor; see the module docstring.

    Slices are searched with `skinny` fields only (start time and what HAVING reads); the full fields
    are merged for the page's traces alone, and their previews come from the spans that start them.
    """
    start, hi = _utc(params["start"]), _utc(params["end"])
    conditions = list(having)
    if cursor:
        params.update(c_start=cursor[0], c_id=cursor[1])
        conditions.append("(start_time, trace_id) < ({c_start:DateTime64(6)}, {c_id:String})")
        hi = min(hi, _utc(cursor[0]) + timedelta(microseconds=1))
    candidate_where = " AND ".join(["project = {project:String}", "day BETWEEN toDate({s_lo:DateTime64(6)}) "
                                    "AND toDate({s_hi:DateTime64(6)})", "start_time >= {s_lo:DateTime64(6)}",
                                    "start_time < {s_hi:DateTime64(6)}", *pre])
    sql = (f"SELECT {skinny} FROM traces WHERE {where} AND day >= toDate({{s_lo:DateTime64(6)}}) "
           f"AND trace_id IN (SELECT trace_id FROM traces WHERE {candidate_where}) GROUP BY trace_id "
           f"HAVING {' AND '.join(conditions)} AND start_time >= {{s_lo:DateTime64(6)}} "
           "AND start_time < {s_hi:DateTime64(6)} ORDER BY start_time DESC, trace_id DESC LIMIT {need:UInt32}")
    found: list[tuple[datetime, str]] = []
    step = FIRST_SLICE
    while hi > start and len(found) <= limit:
        lo = max(start, hi - step)
        found += [(r["start_time"], r["trace_id"]) for r in
                  store.query(sql, {**params, "s_lo": lo, "s_hi": hi, "need": limit + 1 - len(found)})]
        hi, step = lo, step * GROWTH
    if not found:
        return []
    found = found[:limit + 1]
    ids = [i for _, i in found]
    # The rollup's content states are the heavy columns: merge everything else from `traces`, and take
    # the previews from the root spans in `spans`, whose time and trace-id bloom index find them cheaply.
    light = "\n".join(line for line in fields.splitlines() if "_preview" not in line)
    rows = store.query(
        f"SELECT {light} FROM traces WHERE project = {{project:String}} AND day BETWEEN {{p_from:Date}} "
        "AND {day_to:Date} AND trace_id IN {page_ids:Array(String)} GROUP BY trace_id "
        "ORDER BY start_time DESC, trace_id DESC",
        {**params, "p_from": min(t for t, _ in found).date(), "page_ids": ids})
    previews = {r[0]: r[1:] for r in store.query_rows(
        "SELECT trace_id, substring(argMin(input, toUInt8(parent_span_id != '' OR input = '')), 1, {preview:UInt32}), "
        "substring(argMin(output, toUInt8(parent_span_id != '' OR output = '')), 1, {preview:UInt32}) FROM spans "
        "WHERE project = {project:String} AND start_time >= {p_lo:DateTime64(6)} "
        "AND start_time <= {p_hi:DateTime64(6)} AND trace_id IN {page_ids:Array(String)} GROUP BY trace_id",
        {"project": params["project"], "preview": params["preview"], "page_ids": ids,
         "p_lo": min(t for t, _ in found), "p_hi": max(t for t, _ in found)})}
    for row in rows:
        row["input_preview"], row["output_preview"] = previews.get(row["trace_id"], ("", ""))
    return rows


def rollup_countable(f: Any) -> bool:
    used = {name for name in ("service", "environment", "model", "status", "session_id", "user_id", "prompt_name",
                              "prompt_version", "q", "kind") if getattr(f, name)}
    return used <= _ROLLUP_COUNTABLE and not f.tags and not f.scores and f.trace_ids is None


def rollup_count(store: Any, f: Any, params: dict[str, Any]) -> int:
    """Traces (roots) in [start, end): whole hours from spans_hourly, the partial edge hours from spans."""
    start, end = _utc(params["start"]), _utc(params["end"])
    first = start.replace(minute=0, second=0, microsecond=0)
    first = first if first == start else first + timedelta(hours=1)
    last = end.replace(minute=0, second=0, microsecond=0)
    p = {"project": params["project"], "start": start, "end": end, "h1": first, "h2": last}
    where = ""
    for attr, column in (("service", "service_name"), ("environment", "environment")):
        if getattr(f, attr):
            p[attr] = getattr(f, attr)
            where += f" AND {column} = {{{attr}:String}}"
    if first >= last:  # a window within two hours: count it all in spans
        edges, whole = "start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}", 0
    else:
        edges = ("(start_time >= {start:DateTime64(6)} AND start_time < {h1:DateTime64(6)} OR "
                 "start_time >= {h2:DateTime64(6)} AND start_time < {end:DateTime64(6)})")
        whole = store.query_rows(
            "SELECT sum(spans) FROM spans_hourly WHERE project = {project:String} AND is_root = 1 "
            f"AND hour >= {{h1:DateTime64(6)}} AND hour < {{h2:DateTime64(6)}}{where}", p)[0][0] or 0
    edge = store.query_rows(
        f"SELECT count() FROM spans WHERE project = {{project:String}} AND {edges} AND parent_span_id = ''{where}",
        p)[0][0]
    return int(whole) + int(edge)


def sorted_page(store: Any, sql: str, params: dict[str, Any], limit: int, cursor: str | None,
                 total: int) -> Any:
    """A page of a search sorted by something other than time: offset pagination in an opaque cursor."""
    from analytics import traces as tq  # the caller's module: imported late, it imports this one

    offset = 0
    if cursor:
        _, ident = tq.decode_cursor(cursor)
        if not ident.startswith(OFFSET) or not ident[len(OFFSET):].isdigit():
            raise ValueError("invalid cursor")
        offset = int(ident[len(OFFSET):])
    params.update(limit=limit + 1, offset=offset)
    rows = store.query(f"{sql} LIMIT {{limit:UInt32}} OFFSET {{offset:UInt64}}", params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = tq.encode_cursor(datetime.fromtimestamp(0, UTC), f"{OFFSET}{offset + limit}")
    return tq.Page(rows, int(total), next_cursor)
