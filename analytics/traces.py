"""Trace and span queries for the read API.

Data assumptions: `spans` is append-only and deduplicated at insert (no FINAL); `trace_list` holds a
trace's facts in one row per insert, merged here with GROUP BY trace_id (analytics/tracepage.py); `scores` is a
ReplacingMergeTree read with LIMIT 1 BY its key, newest first, instead of FINAL.
Every query filters on the project first.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics import tracepage
from analytics.scoresql import UNSTAMPED, ScoreCondition, score_conditions_sql, scored_traces
from analytics.tracepage import TRACE_FIELDS
from analytics.window import Window
from store.client import Store


@dataclass
class TraceFilter:
    start: datetime | None = None
    end: datetime | None = None
    service: str | None = None
    environment: str | None = None
    model: str | None = None
    status: str | None = None  # ok | error
    session_id: str | None = None
    user_id: str | None = None
    tags: list[str] = field(default_factory=list)
    prompt_name: str | None = None
    prompt_version: str | None = None
    q: str | None = None  # text search in span input/output
    trace_ids: list[str] | None = None
    kind: str | None = None  # the trace has a span of this kind
    scores: list[ScoreCondition] = field(default_factory=list)  # e.g. groundedness<0.5, all must hold


@dataclass
class Page:
    data: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    total_exact: bool = True  # False: an estimate (see analytics/tracepage.py)


def encode_cursor(start: datetime, ident: str) -> str:
    raw = json.dumps([start.isoformat(), ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, ident = json.loads(raw)
        return datetime.fromisoformat(start), str(ident)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc


def _window(f: TraceFilter) -> tuple[datetime, datetime]:
    end = f.end or datetime.now(UTC) + timedelta(minutes=5)
    start = f.start or end - timedelta(days=30)
    return start, end


def _trace_having(f: TraceFilter, params: dict[str, Any]) -> list[str]:
    having = ["start_time >= {start:DateTime64(6)}", "start_time < {end:DateTime64(6)}"]
    simple = {"service": "service_name", "environment": "environment", "session_id": "session_id",
              "user_id": "user_id", "prompt_name": "prompt_name", "prompt_version": "prompt_version"}
    for attr, column in simple.items():
        value = getattr(f, attr)
        if value:
            params[attr] = value
            having.append(f"{column} = {{{attr}:String}}")
    if f.model:
        params["model"] = f.model
        having.append("has(models, {model:String})")
    if f.status == "error":
        having.append("error_count > 0")
    elif f.status == "ok":
        having.append("error_count = 0")
    if f.tags:
        params["tags"] = f.tags
        having.append("hasAll(tags, {tags:Array(String)})")
    return having


def _trace_where(project: str, f: TraceFilter, params: dict[str, Any]) -> list[str]:
    """Conditions on `trace_list` rows other than time (see ROWS_IN_WINDOW)."""
    params.update(project=project, **Window(*_window(f)).params())
    where = ["project = {project:String}"]
    if f.trace_ids is not None:
        params["trace_ids"] = f.trace_ids
        where.append("trace_id IN {trace_ids:Array(String)}")
    if f.q:
        params["q"] = f.q
        where.append(
            "trace_id IN (SELECT DISTINCT trace_id FROM spans WHERE project = {project:String} "
            "AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)} "
            "AND (positionCaseInsensitiveUTF8(input, {q:String}) > 0 "
            "OR positionCaseInsensitiveUTF8(output, {q:String}) > 0))")
    if f.kind:
        params["kind"] = f.kind
        where.append("trace_id IN (SELECT trace_id FROM spans WHERE project = {project:String} "
                     "AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)} "
                     "AND kind = {kind:String})")
    where += score_conditions_sql(f.scores, params)
    return where


# The rows of the traces started in the window (a trace's rows lie within a day of its start).
ROWS_IN_WINDOW = ("first_start >= {start:DateTime64(6)} - INTERVAL 1 DAY "
                  "AND first_start < {end:DateTime64(6)} + INTERVAL 1 DAY")

# Sorts other than newest page by offset (their keys are not unique in time).
SORTS = {"newest": "start_time DESC, trace_id DESC", "oldest": "start_time ASC, trace_id ASC",
         "duration": "duration_ms DESC, trace_id DESC", "cost": "cost_usd DESC, trace_id DESC",
         "tokens": "total_tokens DESC, trace_id DESC", "errors": "error_count DESC, start_time DESC"}


def list_traces(store: Store, project: str, f: TraceFilter, limit: int = 50,
                cursor: str | None = None, preview_chars: int = 300, sort: str = "newest") -> Page:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    params: dict[str, Any] = {"preview": preview_chars}
    if f.scores and sort == "newest" and _only_scores(f):
        return _scored_page(store, project, f, params, limit, decode_cursor(cursor) if cursor else None)
    base = _trace_where(project, f, params)
    params.update(sc_lo=params["start"], sc_hi=params["end"])  # score filters: traces of the whole window
    where = " AND ".join([*base, ROWS_IN_WINDOW])
    having = _trace_having(f, params)
    pre = tracepage.prefilters(f, params)
    if f.trace_ids is not None and len(set(f.trace_ids)) <= limit and not cursor:
        # A few given traces (the worst or slowest, say): one page holds every match, so it is their count.
        # Merged from their rows' facts: 6 columns read instead of 26 (61 -> 46 ms for 20 traces over 7 days).
        rows = store.query(tracepage.without_projections(
            f"SELECT {tracepage.FACTS_FIELDS} FROM ({tracepage.FACTS_ROWS} WHERE {where}) GROUP BY trace_id "
            f"HAVING {' AND '.join(having)} ORDER BY {SORTS[sort]}"), params)
        return Page(rows, len(rows), None)
    one = _one_condition(f, having, pre)
    if sort == "newest" and one is not None:
        # A sparse single filter: one pass over its rows finds the page and the total (slices would widen
        # many times). A user's or session's rows come from the projection sorted by them, so the pass
        # runs first, capped; any other condition may match most of the window and is estimated first.
        by_projection = one.startswith(tracepage.BY_PROJECTION)
        total = 0 if by_projection else _estimate(store, f, " AND ".join(base), pre, params)
        if total <= tracepage.EXACT_COUNT_LIMIT and (got := _newest_one_condition(
                store, " AND ".join(base), one, params, limit, decode_cursor(cursor) if cursor else None)):
            return _newest_page_of(store, params, *got, limit, exact_start=False)
        if by_projection:  # more rows than the pass reads
            total = _estimate(store, f, " AND ".join(base), pre, params)
        exact = False
    elif sort == "newest" and f.trace_ids is None and (got := _newest_narrowed(
            store, " AND ".join(base), pre, having, params, limit, decode_cursor(cursor) if cursor else None)):
        return _newest_page_of(store, params, *got, limit)
    else:
        total, exact = _count(store, f, " AND ".join(base), having, pre, params)
    if sort == "newest" and f.trace_ids is None:  # the hot path: sliced, see analytics/tracepage.py
        skinny = ("trace_id, min(first_start) AS start_time, sum(error_count) AS error_count"
                  + (f", {_HAVING_FIELDS}" if len(having) > 2 else ""))  # > the two window conditions
        rows = tracepage.newest_page(store, skinny, base, having, pre, params, limit,
                                     decode_cursor(cursor) if cursor else None, expected=total)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["start_time"], rows[-1]["trace_id"])
        return Page(rows, int(total), next_cursor, total_exact=exact)
    if sort != "newest":
        return tracepage.sorted_page(
            store, f"SELECT {TRACE_FIELDS} FROM trace_list WHERE {where} GROUP BY trace_id "
            f"HAVING {' AND '.join(having)} ORDER BY {SORTS[sort]}", params, limit, cursor, total, exact)
    if cursor:
        c_start, c_id = decode_cursor(cursor)
        params.update(c_start=c_start, c_id=c_id)
        having.append("(start_time, trace_id) < ({c_start:DateTime64(6)}, {c_id:String})")
    params["limit"] = limit + 1
    rows = store.query(
        f"SELECT {TRACE_FIELDS} FROM trace_list WHERE {where} GROUP BY trace_id HAVING {' AND '.join(having)} "
        "ORDER BY start_time DESC, trace_id DESC LIMIT {limit:UInt32}", params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["start_time"], rows[-1]["trace_id"])
    return Page(rows, int(total), next_cursor, total_exact=exact)


def _newest_page_of(store: Store, params: dict[str, Any], found: list[tuple[datetime, str]], total: int,
                    limit: int, exact_start: bool = True, exact: bool = True) -> Page:
    """The page of the traces found (up to limit+1, newest first), with the cursor to the next."""
    rows = tracepage.page_rows(store, params, found, exact_start=exact_start)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["start_time"], rows[-1]["trace_id"])
    return Page(rows, int(total), next_cursor, total_exact=exact)


def _after(cursor: tuple[datetime, str] | None, params: dict[str, Any]) -> str:
    """The condition that a trace comes after the cursor in a newest-first page ("1" without one)."""
    if cursor is None:
        return "1"
    params.update(c_start=cursor[0], c_id=cursor[1])
    return "(start_time, trace_id) < ({c_start:DateTime64(6)}, {c_id:String})"


def _only_scores(f: TraceFilter) -> bool:
    """The search filters on scores and the window alone."""
    return not any(getattr(f, a) for a in ("service", "environment", "model", "status", "session_id", "user_id",
                                           "tags", "prompt_name", "prompt_version", "q", "kind")) \
        and f.trace_ids is None


def _scored_page(store: Store, project: str, f: TraceFilter, params: dict[str, Any], limit: int,
                 cursor: tuple[datetime, str] | None) -> Page:
    """A search on scores alone, from `scores`: they carry their trace's start (store/scores.py), so the
    newest matching traces come from the named evaluators' scores (read by name and start through the
    projection of migration 0059), and only the page's traces are read from the trace list. A trace matches
    when, for every condition, one of its scores of that name (newest version) does.

    A search matching few score rows pages and counts in one pass over the window; a broad one (one
    condition, more than EXACT_COUNT_LIMIT rows) reports the rows matching as its total and searches the
    window in slices, newest first, as the trace list does (analytics/tracepage.py): a trace's scores all
    carry its start, so a slice holds all of a trace's scores or none."""
    window = Window(*_window(f))
    params.update(project=project, **window.params(), sc_names=sorted({c.name for c in f.scores}),
                  limit=limit + 1)
    tests = []
    for i, cond in enumerate(f.scores):
        params.update({f"sc_name{i}": cond.name, f"sc_value{i}": cond.value})
        tests.append(f"name = {{sc_name{i}:String}} AND value {cond.op} {{sc_value{i}:Float64}}")
    inner = scored_traces(store, params, " AND name IN {sc_names:Array(String)}", columns=("trace_id", "name", "value"))
    after = _after(cursor, params)
    matching = (f"SELECT trace_id, min(trace_start) AS start_time FROM ({inner}) WHERE ({') OR ('.join(tests)}) "
                f"GROUP BY trace_id HAVING {' AND '.join(f'countIf({t}) > 0' for t in tests)}")
    estimate = _score_rows(store, tests[0], params) if len(tests) == 1 else 0
    if estimate > tracepage.EXACT_COUNT_LIMIT:
        # The slice bounds the start again: a score not yet stamped is read in every slice (by trace id).
        found = tracepage.sliced(store, f"SELECT trace_id, start_time FROM ({matching}) WHERE {after} "
                                 "AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)} "
                                 "ORDER BY start_time DESC, trace_id DESC LIMIT {need:UInt32}",
                                 params, window, limit, cursor, estimate)
        total, exact = estimate, False
    else:
        found, total = tracepage.page_and_total(store, "trace_id, start_time", matching, after,
                                                "start_time DESC, trace_id DESC", params)
        exact = True
    return _newest_page_of(store, params, [(r["start_time"], r["trace_id"]) for r in found], total, limit,
                           exact_start=False, exact=exact)


def _score_rows(store: Store, test: str, params: dict[str, Any]) -> int:
    """Score rows in the window matching the condition `test`: about the traces matching (more when a
    trace has several scores of that name: one per span, a changed mind). Scores not yet stamped count
    when their trace was looked up (scored_traces' p_ids), all of them when there were too many to look up."""
    pending = "trace_id IN {p_ids:Array(String)}" if "p_ids" in params else "1"
    return int(store.query_rows(
        f"SELECT count() FROM scores WHERE project = {{project:String}} AND created_at >= {{day_from:Date}} "
        f"AND {test} AND (trace_start >= {{start:DateTime64(6)}} AND trace_start < {{end:DateTime64(6)}} "
        f"OR {UNSTAMPED} AND {pending})", params)[0][0])


_STARTED = "first_start >= {start:DateTime64(6)} AND first_start < {end:DateTime64(6)}"  # rows, not traces


def _estimate(store: Store, f: TraceFilter, base: str, pre: list[str], params: dict[str, Any]) -> int:
    """The rows in the window matching every filter a single row can test: an estimate of the traces
    matching (a trace usually has one row)."""
    if facets := _facet_conditions(f, params):
        return _facet_estimate(store, facets, params)
    on_rows = list(pre)
    if f.service:
        on_rows.append("service_name = {service:String}")
    if f.status == "ok":
        on_rows.append("error_count = 0")
    # Conditions in WHERE: a primary-key range alone is counted from the index, a user or session from
    # the trace list's projections sorted by them.
    return int(store.query_rows(
        f"SELECT count() FROM trace_list WHERE {' AND '.join([base, _STARTED, *on_rows])}", params)[0][0])


# Filters the hourly facet counts answer (trace_facets_hourly, migration 0058): column, or the conditions
# on (facet rows, trace_list rows) for status.
_FACETS = {"service": "service_name", "environment": "environment", "prompt_name": "prompt_name",
           "prompt_version": "prompt_version"}
_STATUS = {"error": ("has_error = 1", "error_count > 0"), "ok": ("has_error = 0", "error_count = 0")}


def _facet_conditions(f: TraceFilter, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(on facet rows, on trace_list rows) per filter, when the search filters on facets alone (and on
    one at least: unfiltered, the primary key counts a range faster)."""
    if (f.session_id or f.user_id or f.tags or f.q or f.kind or f.scores or f.trace_ids is not None
            or (f.status and f.status not in _STATUS)):
        return []
    out = []
    for attr, column in _FACETS.items():
        if value := getattr(f, attr):
            params[attr] = value
            out.append((f"{column} = {{{attr}:String}}",) * 2)
    if f.model:
        params["model"] = f.model
        out.append(("has(models, {model:String})",) * 2)
    if f.status:
        out.append(_STATUS[f.status])
    return out


def _facet_estimate(store: Store, facets: list[tuple[str, str]], params: dict[str, Any]) -> int:
    """The rows matching: the window's whole hours from the facet counts, its partial hours (at most an
    hour at each end) from trace_list."""
    start, end = params["start"], params["end"]
    h_lo = start.replace(minute=0, second=0, microsecond=0)
    h_lo += timedelta(hours=1) if h_lo < start else timedelta(0)
    h_hi = end.replace(minute=0, second=0, microsecond=0)
    if h_hi <= h_lo:  # no whole hour: every row from trace_list
        h_lo = h_hi = end
    on_facets = " AND ".join(c for c, _ in facets)
    on_rows = " AND ".join(c for _, c in facets)
    return int(store.query_rows(tracepage.without_projections(
        "SELECT (SELECT sum(rows) FROM trace_facets_hourly WHERE project = {project:String} "
        f"AND hour >= {{h_lo:DateTime64(6)}} AND hour < {{h_hi:DateTime64(6)}} AND {on_facets}) "
        "+ (SELECT count() FROM trace_list WHERE project = {project:String} "
        "AND (first_start >= {start:DateTime64(6)} AND first_start < {h_lo:DateTime64(6)} "
        f"OR first_start >= {{h_hi:DateTime64(6)}} AND first_start < {{end:DateTime64(6)}}) AND {on_rows})"),
        {**params, "h_lo": h_lo, "h_hi": h_hi})[0][0])


def _count(store: Store, f: TraceFilter, base: str, having: list[str], pre: list[str],
           params: dict[str, Any]) -> tuple[int, bool]:
    """(traces matching, exact?): estimated from rows first; see analytics/tracepage.py."""
    estimate = _estimate(store, f, base, pre, params)
    if estimate > tracepage.EXACT_COUNT_LIMIT:
        return estimate, False
    if one := _one_condition(f, having, pre):
        return _count_one_condition(store, base, one, params), True
    narrow = ""
    if pre:  # the filter that matched fewest rows narrows the merge; HAVING checks them all
        counts = store.query_rows(f"SELECT {', '.join(f'countIf({c})' for c in pre)} FROM trace_list "
                                  f"WHERE {base} AND {_STARTED}", params)[0]
        fewest = pre[min(range(len(pre)), key=lambda i: counts[i])]
        narrow = f" AND trace_id IN (SELECT trace_id FROM trace_list WHERE {base} AND {ROWS_IN_WINDOW} AND {fewest})"
    total = store.query_rows(
        f"SELECT count() FROM (SELECT trace_id, min(first_start) AS start_time, sum(error_count) AS error_count, "
        f"{_HAVING_FIELDS} FROM trace_list WHERE {base} AND {ROWS_IN_WINDOW}{narrow} GROUP BY trace_id "
        f"HAVING {' AND '.join(having)})", params)[0][0]
    return int(total), True


def _one_condition(f: TraceFilter, having: list[str], pre: list[str]) -> str | None:
    """The filter, when the search has one that some row of a trace must match (and nothing else to merge);
    several tags must all be present, which is not one row's test."""
    return pre[0] if len(pre) == 1 and len(having) == 3 and len(f.tags) < 2 else None


def _one_condition_traces(base: str, condition: str, cap: str = "") -> str:
    """(trace_id, start_time, n rows, started) of the traces with a row in the window matching the
    condition; `started` is false for those with a row in the day before (they started earlier). Shared by
    the count and the page of a single-filter search; the condition alone in WHERE lets its projection
    (user, session) serve the read. `cap` limits the rows read ("LIMIT …")."""
    return ("SELECT trace_id, min(first_start) AS start_time, count() AS n, trace_id NOT IN (SELECT trace_id "
            "FROM trace_list WHERE project = {project:String} AND first_start >= {start:DateTime64(6)} - INTERVAL "
            "1 DAY AND first_start < {start:DateTime64(6)}) AS started FROM (SELECT trace_id, first_start FROM "
            f"trace_list WHERE {base} AND first_start >= {{start:DateTime64(6)}} AND first_start < "
            f"{{end:DateTime64(6)}} AND {condition} {cap}) GROUP BY trace_id")


def _newest_one_condition(store: Store, base: str, condition: str, params: dict[str, Any], limit: int,
                          cursor: tuple[datetime, str] | None) -> tuple[list[tuple[datetime, str]], int] | None:
    """The page's (start, trace id) after the cursor, and the total; None when more than EXACT_COUNT_LIMIT
    rows match (the pass reads no more than that). One pass: rows after the cursor sort first, so past the
    last page a row before it still carries the count."""
    after = _after(cursor, params)
    rows = store.query(
        "SELECT trace_id, start_time, countIf(started) OVER () AS total, sum(n) OVER () AS matched, "
        f"started AND {after} AS on_page FROM ({_one_condition_traces(base, condition, 'LIMIT {cap:UInt32}')}) "
        "ORDER BY on_page DESC, start_time DESC, trace_id DESC LIMIT {limit:UInt32}",
        {**params, "limit": limit + 1, "cap": tracepage.EXACT_COUNT_LIMIT + 1})
    if rows and rows[0]["matched"] > tracepage.EXACT_COUNT_LIMIT:
        return None
    return [(r["start_time"], r["trace_id"]) for r in rows if r["on_page"]], int(rows[0]["total"]) if rows else 0


def _newest_narrowed(store: Store, base: str, pre: list[str], having: list[str], params: dict[str, Any],
                     limit: int, cursor: tuple[datetime, str] | None) -> tuple[list[tuple[datetime, str]], int] | None:
    """A user's or a session's traces that match the other filters too: the page's (start, trace id) after
    the cursor and the exact total. None without such a filter, or when more than EXACT_COUNT_LIMIT rows
    carry it (slices then: a newest page over millions of merged traces would cost more).

    The traces are merged from the rows carrying the user, read from its projection (which holds the
    columns the filters read: migration 0063), and their other rows (a trace sent in pieces, the user on
    some: children sent before their root are common), found by the hash of their trace id (migration
    0064: a scan of that column, where the user's hundreds of ids would weigh against every granule's bloom
    index and then read the ids whole)."""
    narrow = next((c for c in pre if c.startswith(tracepage.BY_PROJECTION)), None)
    if narrow is None:
        return None
    rows_of = (f"FROM trace_list WHERE {base} AND first_start >= {{start:DateTime64(6)}} "
               f"AND first_start < {{end:DateTime64(6)}} AND {narrow}")
    capped = {**params, "cap": tracepage.EXACT_COUNT_LIMIT + 1}
    if store.query_rows(f"SELECT count() FROM (SELECT 1 {rows_of} LIMIT {{cap:UInt32}})",
                        capped)[0][0] > tracepage.EXACT_COUNT_LIMIT:
        return None
    columns, rows_in = tracepage.PROJECTED_COLUMNS, f"FROM trace_list WHERE {base} AND {ROWS_IN_WINDOW}"
    # The hash computed, not read: the projection serving the user's rows holds trace_id, not trace_hash.
    hashes = f"SELECT xxHash32(trace_id) {rows_in} AND {narrow}"
    after = _after(cursor, params)
    rows = store.query(
        f"SELECT trace_id, start_time, count() OVER () AS total, {after} AS on_page FROM (SELECT trace_id, "
        f"min(first_start) AS start_time, sum(error_count) AS error_count{_having_fields(having)} FROM ("
        f"SELECT {columns} {rows_in} AND {narrow} UNION ALL "
        f"SELECT {columns} {rows_in} AND NOT ({narrow}) AND trace_hash IN ({hashes})) GROUP BY trace_id "
        f"HAVING {' AND '.join(having)}) ORDER BY on_page DESC, start_time DESC, trace_id DESC LIMIT {{limit:UInt32}}",
        {**params, "limit": limit + 1})
    return [(r["start_time"], r["trace_id"]) for r in rows if r["on_page"]], int(rows[0]["total"]) if rows else 0


def _count_one_condition(store: Store, base: str, condition: str, params: dict[str, Any]) -> int:
    """Traces started in the window with a row matching `condition`."""
    return int(store.query_rows(f"SELECT countIf(started) FROM ({_one_condition_traces(base, condition)})",
                                params)[0][0])


# Only the columns HAVING filters read, so counting does not merge the content previews.
_HAVING_FIELD = {n: tracepage.MERGED[n] for n in ("service_name", "environment", "session_id", "user_id",
                                                  "prompt_name", "prompt_version", "tags", "models")}
_HAVING_FIELDS = ", ".join(f"{merged} AS {name}" for name, merged in _HAVING_FIELD.items())


def _having_fields(having: list[str]) -> str:
    """The merged fields that the HAVING conditions read (each one read for every matching row)."""
    return "".join(f", {merged} AS {name}" for name, merged in _HAVING_FIELD.items()
                   if any(re.search(rf"\b{name}\b", h) for h in having))


SPAN_LIST_COLUMNS = (
    "trace_id, span_id, parent_span_id, name, kind, operation, status, status_message, start_time, end_time, "
    "duration_ms, service_name, environment, session_id, user_id, provider, request_model, response_model, "
    "input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, total_tokens, cost_usd, cost_source, "
    "ttft_ms, prompt_name, prompt_version, tool_name"
)


@dataclass
class SpanFilter:
    start: datetime | None = None
    end: datetime | None = None
    trace_id: str | None = None
    kind: str | None = None
    service: str | None = None
    model: str | None = None
    status: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    q: str | None = None


def list_spans(store: Store, project: str, f: SpanFilter, limit: int = 50, cursor: str | None = None) -> Page:
    end = f.end or datetime.now(UTC) + timedelta(minutes=5)
    start = f.start or end - timedelta(days=30)
    params: dict[str, Any] = {"project": project, "start": start, "end": end}
    where = ["project = {project:String}", "start_time >= {start:DateTime64(6)}",
             "start_time < {end:DateTime64(6)}"]
    for attr, column in {"trace_id": "trace_id", "kind": "kind", "service": "service_name",
                         "status": "status", "session_id": "session_id", "user_id": "user_id"}.items():
        value = getattr(f, attr)
        if value:
            params[attr] = value
            where.append(f"{column} = {{{attr}:String}}")
    if f.model:
        params["model"] = f.model
        where.append("(response_model = {model:String} OR request_model = {model:String})")
    if f.q:
        params["q"] = f.q
        where.append("(positionCaseInsensitiveUTF8(input, {q:String}) > 0 "
                     "OR positionCaseInsensitiveUTF8(output, {q:String}) > 0)")
    clause = " AND ".join(where)
    total = store.query_rows(f"SELECT count() FROM spans WHERE {clause}", params)[0][0]
    if cursor:
        c_start, c_id = decode_cursor(cursor)
        params.update(c_start=c_start, c_id=c_id)
        clause += " AND (start_time, span_id) < ({c_start:DateTime64(6)}, {c_id:String})"
    params["limit"] = limit + 1
    rows = store.query(f"SELECT {SPAN_LIST_COLUMNS} FROM spans WHERE {clause} "
                       "ORDER BY start_time DESC, span_id DESC LIMIT {limit:UInt32}", params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["start_time"], rows[-1]["span_id"])
    return Page(rows, int(total), next_cursor)


def trace_bounds(store: Store, project: str, trace_id: str) -> tuple[datetime, datetime] | None:
    """A trace's first start and last end, from its own narrow table sorted by trace id (migration 0060)."""
    rows = store.query_rows(
        "SELECT min(first_start), max(last_end), count() FROM trace_bounds "
        "WHERE project = {p:String} AND trace_id = {t:String}", {"p": project, "t": trace_id})
    if not rows or not rows[0][2]:
        return None
    return rows[0][0], rows[0][1]


def trace_spans(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    bounds = trace_bounds(store, project, trace_id)
    if bounds is None:
        return []
    # The rollup's time range lets the spans query prune partitions and granules.
    return store.query(
        "SELECT * EXCEPT (project) FROM spans WHERE project = {p:String} AND trace_id = {t:String} "
        "AND start_time >= {s:DateTime64(6)} AND start_time <= {e:DateTime64(6)} ORDER BY start_time, span_id",
        {"p": project, "t": trace_id, "s": bounds[0], "e": bounds[1]})


def trace_logs(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    return store.query(
        "SELECT span_id, time, event_name, body, attributes FROM logs "
        "WHERE project = {p:String} AND trace_id = {t:String} ORDER BY time", {"p": project, "t": trace_id})


SCORE_COLUMNS = (
    "target_type, target_id, trace_id, name, source, evaluator, evaluator_version, author, value, label, "
    "rationale, comment, judge_model, judge_cost_usd, latency_ms, error, created_at, updated_at"
)


def trace_scores(store: Store, project: str, trace_id: str) -> list[dict[str, Any]]:
    return store.query(
        f"SELECT {SCORE_COLUMNS} FROM scores WHERE project = {{p:String}} AND trace_id = {{t:String}} "
        "ORDER BY updated_at DESC LIMIT 1 BY target_type, target_id, name, source, evaluator, "
        "evaluator_version, author", {"p": project, "t": trace_id})
