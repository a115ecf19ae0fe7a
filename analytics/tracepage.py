"""The newest-first trace list and its count, fast on millions of traces.

Both read `trace_list` (store/migrations/0050), ordered by (project, first_start): rows of a time range
are a contiguous slice of the table. A page is found slice by slice, newest first: a slice's candidates
are the traces with a row starting inside it, only those are merged (GROUP BY trace_id), and the slice
(the first sized to hold about three pages at the estimated traffic) widens fourfold until the page is
full or the window is exhausted. A trace whose merged start
lies in the slice has a row starting there, so none is missed. A candidate with a row before the slice
started earlier and belongs to an earlier slice. Only candidates without their root in the slice can
have one (a root's row starts no later than its children's), so only those are looked up, within SLACK
before the slice (the trace_id bloom index finds them).
Filters merge a trace's rows up to SLACK after the slice. So the order across slices is exact for
traces shorter than SLACK.

Filters whose merged value must appear on some row (max-type facts, models, errors, tags) also narrow
the candidates. The total is first estimated by counting the rows that match every filter (a trace
usually has one row; unfiltered, the primary key alone counts a time range). Up to EXACT_COUNT_LIMIT
the traces are then counted exactly, narrowed by the filter that matched fewest rows; above it the
estimate is the total (`total_exact: false`). A sparse search with a single such filter skips the
slices: one pass over its matching rows (a projection by user or session) finds the page
(analytics/traces.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

# How a trace's rows in trace_list merge into its facts (GROUP BY trace_id), by the read API's names: sums
# add up the inserts, root facts come from the row holding the root (pick_key = 0) or else the earliest, and
# session, user and the like from whichever row carries them. The list, the filters (analytics/traces.py)
# and the per-trace facts of sessions and series (analytics/pertrace.py) all merge with these.
MERGED = {
    "start_time": "min(first_start)",
    "end_time": "max(last_end)",
    "ingested_at": "max(last_ingested_at)",
    **{n: f"sum({n})" for n in ("span_count", "error_count", "llm_count", "input_tokens", "output_tokens",
                                "total_tokens", "cost_usd", "unpriced_count")},
    **{n: f"argMin({n}, pick_key)" for n in ("name", "root_span_id", "service_name")},
    **{n: f"max({n})" for n in ("session_id", "user_id", "environment", "release", "prompt_name", "prompt_version")},
    "tags": "groupUniqArrayArray(tags)",
    "models": "groupUniqArrayArray(models)",
}


def _list_fields(merged: dict[str, str]) -> str:
    """A trace's list fields, in the order the API lists them, merged with `merged` (as MERGED). Previews
    come from the first row that has one."""
    def fields(*names: str) -> list[str]:
        return [f"{merged[n]} AS {n}" for n in names]
    return ",\n    ".join([
        "trace_id",
        *fields("start_time", "end_time"),
        "dateDiff('microsecond', start_time, end_time) / 1000 AS duration_ms",
        *fields("ingested_at", "span_count", "error_count", "llm_count", "input_tokens", "output_tokens",
                "total_tokens", "cost_usd", "unpriced_count", "name", "root_span_id", "service_name"),
        *(f"substring(argMin({p}, ({p} = '', pick_key)), 1, {{preview:UInt32}}) AS {p}"
          for p in ("input_preview", "output_preview")),
        *fields("session_id", "user_id", "environment", "release", "prompt_name", "prompt_version"),
        *(f"arraySort({merged[n]}) AS {n}" for n in ("tags", "models")),
    ])


TRACE_FIELDS = _list_fields(MERGED)

# The columns folded into trace_list's `facts` (migration 0061), in its order, and their merged types.
FACTS_COLUMNS = ("last_end", "last_ingested_at", "span_count", "error_count", "llm_count", "input_tokens",
                 "output_tokens", "total_tokens", "cost_usd", "unpriced_count", "name", "root_span_id",
                 "service_name", "session_id", "user_id", "environment", "release", "prompt_name", "prompt_version",
                 "tags", "models")
FACTS_TUPLE = (
    "Tuple(DateTime64(6, 'UTC'), DateTime64(3, 'UTC'), UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, Float64, "
    "UInt64, String, String, String, String, String, String, String, String, String, Array(String), Array(String))")
# The same merge over each row's `facts` parsed as `f` (f.1 for last_end…): a page of traces spread over
# days reads six columns of each granule instead of twenty-six.
FACTS_FIELDS = _list_fields({
    name: re.sub(r"\((\w+)", lambda m: f"(f.{FACTS_COLUMNS.index(m[1]) + 1}" if m[1] in FACTS_COLUMNS else m[0], sql)
    for name, sql in MERGED.items()})

FIRST_SLICE = timedelta(hours=1)  # without an estimate of the traffic
MIN_SLICE = timedelta(minutes=1)
# How far a trace's rows may lie from its start (its longest expected duration); "INTERVAL 1 DAY" in the SQL.
SLACK = timedelta(days=1)
WIDE_PAGE = timedelta(days=7)  # a page spread wider reads its traces at their starts (see page_rows)
EXACT_COUNT_LIMIT = 10_000  # below this many (estimated) traces an exact count costs little
OFFSET = "offset:"  # cursors of sorted (non-time) pages
GROWTH = 4


def without_projections(sql: str) -> str:
    """`sql` told to skip projection analysis when none of trace_list's or scores' projections can serve
    it: ClickHouse weighs every projection of every part for each read of the table, ~3-5 ms a read on this
    box (a filtered page reads trace_list four times). Conditions on a user or a session (trace list
    projections by user and session) and reads of scores (by name) keep them. Not for a count of a time
    range: the implicit projection of part counts and key bounds answers that (10 vs 75 ms at 10 M spans).
    Inline, not as query settings: the embedded client applies those with extra SET queries."""
    return sql if _PROJECTED.search(sql) else f"{sql} SETTINGS optimize_use_projections = 0"


_PROJECTED = re.compile(r"\b(user_id|session_id) = |\bFROM scores\b")
# Prefilters (see `prefilters`) that trace_list's projections by user and by session serve.
BY_PROJECTION = ("user_id =", "session_id =")
# The columns of trace_list that both projections hold (migration 0063) besides `project`: what a filtered
# search merges and tests.
PROJECTED_COLUMNS = ("trace_id, first_start, pick_key, error_count, service_name, environment, session_id, user_id, "
                     "prompt_name, prompt_version, tags, models")


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# Rows of trace_list with their `facts` parsed, for `SELECT {FACTS_FIELDS} FROM ({FACTS_ROWS} WHERE …)
# GROUP BY trace_id`: for a few traces (a page, given ids); parsing costs more than it saves over a slice.
FACTS_ROWS = ("SELECT trace_id, first_start, pick_key, input_preview, output_preview, "
              f"JSONExtract(facts, {_quoted(FACTS_TUPLE)}) AS f FROM trace_list")


def _utc(t: datetime) -> datetime:
    """API times may come naive (meaning UTC), the store's are naive UTC: compare them all as aware UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def prefilters(f: Any, params: dict[str, Any]) -> list[str]:
    """Conditions on rows that every matching trace satisfies on at least one of its rows."""
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


def newest_page(store: Any, skinny: str, where: list[str], having: list[str], pre: list[str],
                params: dict[str, Any], limit: int, cursor: tuple[datetime, str] | None,
                expected: int = 0) -> list[dict[str, Any]]:
    """Up to limit+1 traces, newest first, strictly after the cursor; see the module docstring.

    Slices are searched with `skinny` fields only (start time and what HAVING reads); the full fields
    are merged for the page's traces alone. `where` holds the conditions on rows other than time.
    `expected` (traces in the window, an estimate) sizes the first slice to hold a few pages.
    """
    start, hi = _utc(params["start"]), _utc(params["end"])
    end = hi
    conditions = list(having)
    if cursor:
        params.update(c_start=cursor[0], c_id=cursor[1])
        conditions.append("(start_time, trace_id) < ({c_start:DateTime64(6)}, {c_id:String})")
        hi = min(hi, _utc(cursor[0]) + timedelta(microseconds=1))
    # Rows up to s_top: unfiltered, later rows cannot change the order, so the slice's end; filters read
    # every row of the trace, so a day more.
    filtered = len(having) > 2
    upper = "{s_top:DateTime64(6)}"
    rows_where = " AND ".join([*where, "first_start >= {s_lo:DateTime64(6)}", f"first_start < {upper}"])
    rootless = ("project = {project:String} AND first_start >= {s_lo:DateTime64(6)} "
                "AND first_start < {s_hi:DateTime64(6)} AND pick_key > 0")
    earlier = ("project = {project:String} AND first_start >= {s_lo:DateTime64(6)} - INTERVAL 1 DAY "
               f"AND first_start < {{s_lo:DateTime64(6)}} AND trace_id IN (SELECT trace_id FROM trace_list "
               f"WHERE {rootless})")
    # Each narrowing condition may hold on a different row of the trace: the traces with a row matching
    # each. A user's or a session's rows come from their projection, one IN each; the other conditions
    # share one pass over the slice's rows (one IN per condition read them once each: 61 -> 51 ms).
    rows_of_slice = ("SELECT trace_id FROM trace_list WHERE project = {project:String} "
                     f"AND first_start >= {{s_lo:DateTime64(6)}} AND first_start < {upper} AND ")
    projected = [c for c in pre if c.startswith(BY_PROJECTION)]
    shared = [c for c in pre if c not in projected]
    for condition in projected:
        rows_where += f" AND trace_id IN ({rows_of_slice}{condition})"
    if len(shared) == 1:
        rows_where += f" AND trace_id IN ({rows_of_slice}{shared[0]})"
    elif shared:
        each = " AND ".join(f"countIf({c}) > 0" for c in shared)
        rows_where += f" AND trace_id IN ({rows_of_slice}({' OR '.join(shared)}) GROUP BY trace_id HAVING {each})"
    tail = (f"GROUP BY trace_id HAVING {' AND '.join(conditions)} AND start_time >= {{s_lo:DateTime64(6)}} "
            "AND start_time < {s_hi:DateTime64(6)} ORDER BY start_time DESC, trace_id DESC LIMIT {need:UInt32}")
    # The lookup of earlier rows is a subquery that costs more to plan than to run (~8 ms of a newest page's
    # ~28): a slice is read without it. A trace whose root row is among the slice's rows started in the
    # slice (a root's row starts no later than its children's). Only the traces returned without their
    # root (`_rootless`, dropped from the rows: traces still running, or that started before the slice) are
    # looked up by id in the day before; the slice is read again with the lookup only if one is there.
    flag = ", countIf(pick_key = 0) = 0 AS _rootless"
    started_before = ("SELECT 1 FROM trace_list WHERE project = {project:String} AND first_start >= "
                      "{s_lo:DateTime64(6)} - INTERVAL 1 DAY AND first_start < {s_lo:DateTime64(6)} "
                      "AND trace_id IN {rootless_ids:Array(String)} LIMIT 1")
    fast = f"FROM trace_list WHERE {rows_where} {tail}"
    checked = (f"FROM trace_list WHERE {rows_where} AND trace_id NOT IN (SELECT trace_id FROM trace_list "
               f"WHERE {earlier}) {tail}")
    if cursor is None and where == ["project = {project:String}"] and not pre:
        # The window ends a little in the future (clocks differ) and traffic has quiet hours: start at the
        # newest row, which reading in order finds in the last granule.
        newest = store.query_rows(without_projections(
            "SELECT first_start FROM trace_list WHERE project = {project:String} AND first_start >= "
            "{start:DateTime64(6)} AND first_start < {end:DateTime64(6)} ORDER BY first_start DESC LIMIT 1"), params)
        if not newest:
            return []
        hi = min(hi, _utc(newest[0][0]) + timedelta(microseconds=1))
    found: list[tuple[datetime, str]] = []
    step = first_slice(end - start, limit, expected)
    first = step
    while hi > start and len(found) <= limit:
        lo = max(start, hi - step)
        # On the first page, while nothing newer was found, a slice's rows up to the window's end are its
        # traces' rows: merge every field there (while the slice is small), and when it fills the page that
        # is the last query.
        whole = cursor is None and not found and step <= first * GROWTH
        top = hi + timedelta(days=1) if filtered else (end if whole else hi)
        slice_params = {**params, "s_lo": lo, "s_hi": hi, "s_top": top, "sc_lo": lo, "sc_hi": hi,
                        "need": limit + 1 - len(found)}
        fields = TRACE_FIELDS if whole else skinny
        rows = store.query(without_projections(f"SELECT {fields}{flag} {fast}"), slice_params)
        rootless = [r["trace_id"] for r in rows if r.pop("_rootless")]
        if rootless and store.query_rows(without_projections(started_before),
                                         {**slice_params, "rootless_ids": rootless}):
            rows = store.query(without_projections(f"SELECT {fields} {checked}"), slice_params)
        if whole and len(rows) > limit:
            return rows
        found += [(r["start_time"], r["trace_id"]) for r in rows]
        hi, step = lo, step * GROWTH
    return page_rows(store, params, found[:limit + 1])


def first_slice(window: timedelta, limit: int, expected: int) -> timedelta:
    """A slice of the window expected to hold about three pages (`expected` matches in the window)."""
    if expected <= 0:
        return min(FIRST_SLICE, window)
    return min(max(window * min(1.0, 3 * (limit + 1) / expected), MIN_SLICE), window)


def sliced(store: Any, sql: str, params: dict[str, Any], window: Any, limit: int,
           cursor: tuple[datetime, str] | None, expected: int) -> list[dict[str, Any]]:
    """Up to limit+1 rows of `sql`, a newest-first search of the window [{start}, {end}) that returns up to
    {need} rows: run over slices of the window, newest first, from the cursor back, each GROWTH times the
    last, until the page is full. For searches whose rows each lie in one slice."""
    start, hi = _utc(window.start), _utc(window.end)
    if cursor:
        hi = min(hi, _utc(cursor[0]) + timedelta(microseconds=1))
    step = first_slice(_utc(window.end) - start, limit, expected)
    found: list[dict[str, Any]] = []
    while hi > start and len(found) <= limit:
        lo = max(start, hi - step)
        found += store.query(sql, {**params, "start": lo, "end": hi, "need": limit + 1 - len(found)})
        hi, step = lo, step * GROWTH
    return found


def page_rows(store: Any, params: dict[str, Any], found: list[tuple[datetime, str]],
              exact_start: bool = True) -> list[dict]:
    """The list fields of the traces found (start, id), newest first, merged from their rows' `facts`. A
    trace's rows lie within a day after its start, or also before it when the start found is not the merged
    one (`exact_start` False: a child row may start before its root's row).

    A page spread over weeks (a rare filter's) reads each trace's rows at their starts, which `trace_bounds`
    (sorted by trace id) lists: finding the ids in the whole range (primary key and bloom index) weighs
    every granule of those weeks, ~1 ms a day at 10 M spans, and reads the ids of a quarter of the rows
    when that many traces arrive in pieces (children before their root): 138 -> 78 ms for a user's page
    over 30 days."""
    if not found:
        return []
    before = "" if exact_start else " - INTERVAL 1 DAY"
    params = {**params, "p_lo": min(t for t, _ in found), "p_hi": max(t for t, _ in found),
              "page_ids": [i for _, i in found]}
    rows_near = (f"first_start >= {{p_lo:DateTime64(6)}}{before} AND first_start < {{p_hi:DateTime64(6)}} "
                 "+ INTERVAL 1 DAY AND trace_id IN {page_ids:Array(String)}")
    if params["p_hi"] - params["p_lo"] > WIDE_PAGE:
        params["starts"] = sorted({t for (t,) in store.query_rows(
            f"SELECT first_start FROM trace_bounds WHERE project = {{project:String}} AND {rows_near}", params)})
        rows_near = "first_start IN {starts:Array(DateTime64(6))} AND trace_id IN {page_ids:Array(String)}"
    rows = store.query(without_projections(
        f"SELECT {FACTS_FIELDS} FROM ({FACTS_ROWS} WHERE project = {{project:String}} AND {rows_near}) "
        "GROUP BY trace_id"), params)
    return sorted(rows, key=lambda r: (r["start_time"], r["trace_id"]), reverse=True)


def page_and_total(store: Any, columns: str, source: str, after: str, order: str,
                   params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Up to {limit} rows of the subquery `source` for which `after` (a cursor condition, or "1") holds, in
    `order`, and how many rows `source` has: one pass (count() OVER ()). Rows after the cursor sort first,
    so past the last page a row before it still carries the count."""
    rows = store.query(f"SELECT {columns}, count() OVER () AS _total, {after} AS _on_page FROM ({source}) "
                       f"ORDER BY _on_page DESC, {order} LIMIT {{limit:UInt32}}", params)
    total = int(rows[0]["_total"]) if rows else 0
    return [{k: v for k, v in r.items() if k not in ("_total", "_on_page")} for r in rows if r["_on_page"]], total


def sorted_page(store: Any, sql: str, params: dict[str, Any], limit: int, cursor: str | None,
                total: int, total_exact: bool = True) -> Any:
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
    return tq.Page(rows, int(total), next_cursor, total_exact)
