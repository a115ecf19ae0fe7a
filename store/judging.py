"""Queries of the judges: candidates for the online worker and for backfills, the content of targets,
what was already scored, budget use and the worker's watermarks.

Data assumptions: spans are immutable and deduplicated at insert; `ingested_at` is the collector's clock
when a span arrived, and the span becomes visible a little later (after the WAL), which the worker's
overlap absorbs. `trace_list` holds a trace's facts in one row per insert, merged here with GROUP BY (a
row's `last_ingested_at` > t means the trace was touched after t; a minmax index on it skips older
granules). `scores` is read newest first with LIMIT 1 BY its key. Shards and samples hash ids with
`halfMD5`, which judges/sampling.py reproduces in Python. Aliases never reuse a column name: ClickHouse
would substitute them into WHERE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from store.client import Store

SCORE_KEY = "project, target_type, target_id, name, source, evaluator, evaluator_version, author"
_SPAN_FACTS = ("project, trace_id, span_id, toString(kind) AS span_kind, toString(service_name) AS svc, "
               "toString(request_model) AS req_model, toString(response_model) AS resp_model, "
               "toString(prompt_name) AS pn, toString(prompt_version) AS pv, arrayMap(t -> toString(t), tags) AS tg, "
               "toString(environment) AS env, session_id AS sess, ingested_at, start_time")
_TRACE_FACTS = ("project, trace_id AS tid, min(first_start) AS started, max(last_ingested_at) AS last_at, "
                "max(session_id) AS sess, argMin(service_name, pick_key) AS svc, groupUniqArrayArray(models) AS mdl, "
                "max(prompt_name) AS pn, max(prompt_version) AS pv, max(environment) AS env, "
                "groupUniqArrayArray(tags) AS tg, sum(llm_count) AS llm")


def utc(dt: datetime) -> datetime:
    """The store returns naive UTC datetimes; everything here compares aware ones."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _shard(column: str, shard: tuple[int, int], params: dict[str, Any]) -> str:
    if shard[1] <= 1:
        return ""
    params.update(shard_i=shard[0], shard_n=shard[1])
    return f" AND halfMD5({column}) % {{shard_n:UInt32}} = {{shard_i:UInt32}}"


# --- candidates ------------------------------------------------------------------------------------


def span_candidates(store: Store, lo: datetime, hi: datetime, shard: tuple[int, int],
                    after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    """Spans ingested in (lo, hi], in (ingested_at, span_id) order, after the cursor."""
    params: dict[str, Any] = {"lo": lo, "hi": hi, "limit": limit}
    where = "ingested_at > {lo:DateTime64(6)} AND ingested_at <= {hi:DateTime64(6)}" + _shard("span_id", shard, params)
    if after is not None:
        params.update(a_at=after[0], a_id=after[1])
        where += " AND (ingested_at, span_id) > ({a_at:DateTime64(6)}, {a_id:String})"
    return store.query(f"SELECT {_SPAN_FACTS} FROM spans WHERE {where} ORDER BY ingested_at, span_id "
                       "LIMIT {limit:UInt32}", params)


def backfill_span_candidates(store: Store, project: str, since: datetime, until: datetime,
                             after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    """A project's spans that started in [since, until), in (start_time, span_id) order."""
    params: dict[str, Any] = {"p": project, "since": since, "until": until, "limit": limit}
    where = "project = {p:String} AND start_time >= {since:DateTime64(6)} AND start_time < {until:DateTime64(6)}"
    if after is not None:
        params.update(a_at=after[0], a_id=after[1])
        where += " AND (start_time, span_id) > ({a_at:DateTime64(6)}, {a_id:String})"
    # The content's size, for the cost estimate (reading it decompresses the content: not for the worker).
    return store.query(f"SELECT {_SPAN_FACTS}, length(input) + length(output) + length(documents) AS chars "
                       f"FROM spans WHERE {where} ORDER BY start_time, span_id "
                       "LIMIT {limit:UInt32}", params)


def trace_candidates(store: Store, lo: datetime, hi: datetime, shard: tuple[int, int],
                     after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    """Traces whose newest span was ingested in (lo, hi]: quiet since hi, touched since lo."""
    params: dict[str, Any] = {"lo": lo, "hi": hi, "limit": limit}
    having = "last_at > {lo:DateTime64(6)} AND last_at <= {hi:DateTime64(6)}"
    if after is not None:
        params.update(a_at=after[0], a_id=after[1])
        having += " AND (last_at, tid) > ({a_at:DateTime64(6)}, {a_id:String})"
    return store.query(
        f"SELECT {_TRACE_FACTS} FROM trace_list WHERE (project, trace_id) IN (SELECT project, trace_id FROM trace_list "
        f"WHERE last_ingested_at > {{lo:DateTime64(6)}}){_shard('trace_id', shard, params)} "
        f"GROUP BY project, trace_id HAVING {having} ORDER BY last_at, tid LIMIT {{limit:UInt32}}", params)


def backfill_trace_candidates(store: Store, project: str, since: datetime, until: datetime,
                              after: tuple[datetime, str] | None, limit: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"p": project, "since": since, "until": until, "limit": limit}
    having = "started >= {since:DateTime64(6)} AND started < {until:DateTime64(6)}"
    if after is not None:
        params.update(a_at=after[0], a_id=after[1])
        having += " AND (started, tid) > ({a_at:DateTime64(6)}, {a_id:String})"
    return store.query(
        # A trace's rows start within a day after it does; rows of the day before show a trace that
        # started before `since` (HAVING drops it) instead of merging it from its later rows only.
        f"SELECT {_TRACE_FACTS} FROM trace_list WHERE project = {{p:String}} "
        "AND first_start >= {since:DateTime64(6)} - INTERVAL 1 DAY "
        "AND first_start < {until:DateTime64(6)} + INTERVAL 1 DAY "
        f"GROUP BY project, trace_id HAVING {having} ORDER BY started, tid LIMIT {{limit:UInt32}}", params)


def session_candidates(store: Store, lo: datetime, hi: datetime, shard: tuple[int, int],
                       project: str | None = None) -> list[dict[str, Any]]:
    """Sessions touched since lo whose newest span was ingested by hi, with their traces' facts.
    With `project`, (lo, hi] are start times instead: the sessions that a backfill window covers."""
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    if project is None:
        touched = "SELECT project, trace_id FROM trace_list WHERE last_ingested_at > {lo:DateTime64(6)}"
        having = "last_at > {lo:DateTime64(6)} AND last_at <= {hi:DateTime64(6)}"
    else:
        params["p"] = project
        touched = ("SELECT project, trace_id FROM trace_list WHERE project = {p:String} "
                   "AND first_start >= {lo:DateTime64(6)} AND first_start < {hi:DateTime64(6)}")
        having = "1"
    sessions = (f"SELECT project, session_id FROM trace_list WHERE session_id != '' "
                f"AND (project, trace_id) IN ({touched})")
    members = (f"SELECT project, trace_id FROM trace_list WHERE session_id != '' "
               f"AND (project, session_id) IN ({sessions})")
    return store.query(
        "SELECT project, sess, max(last_at) AS last_at, argMax(tid, started) AS latest_trace, "
        "arrayMap(x -> x.2, arraySort(groupArray((started, tid)))) AS trace_ids, "  # oldest first
        "groupUniqArray(svc) AS svcs, groupUniqArrayArray(mdl) AS mdl, "
        "groupUniqArray(pn) AS pns, groupUniqArray(pv) AS pvs, groupUniqArray(env) AS envs, "
        "groupUniqArrayArray(tg) AS tg, sum(llm) AS llm "
        f"FROM (SELECT {_TRACE_FACTS} FROM trace_list WHERE (project, trace_id) IN ({members}) "
        "GROUP BY project, trace_id) "
        f"WHERE sess != ''{_shard('sess', shard, params)} GROUP BY project, sess HAVING {having} "
        "ORDER BY last_at, sess LIMIT 100000", params)


def trace_facts(store: Store, project: str, trace_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Trace-level facts (session, environment, tags) that may sit on another span than the one judged."""
    if not trace_ids:
        return {}
    rows = store.query(
        "SELECT trace_id AS tid, max(session_id) AS sess, max(environment) AS env, groupUniqArrayArray(tags) AS tg "
        "FROM trace_list WHERE project = {p:String} AND trace_id IN {ids:Array(String)} GROUP BY trace_id",
        {"p": project, "ids": trace_ids})
    return {r["tid"]: r for r in rows}


def kinds_by_trace(store: Store, project: str, trace_ids: list[str]) -> dict[str, list[str]]:
    if not trace_ids:
        return {}
    rows = store.query_rows(
        "SELECT trace_id, groupUniqArray(toString(kind)) FROM spans WHERE project = {p:String} "
        "AND trace_id IN {ids:Array(String)} GROUP BY trace_id", {"p": project, "ids": trace_ids})
    return {r[0]: list(r[1]) for r in rows}


# --- content ---------------------------------------------------------------------------------------


def spans_of_traces(store: Store, project: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    if not trace_ids:
        return []
    return store.query(
        "SELECT * EXCEPT (project, attributes, resource_attributes, prompt_template) FROM spans "
        "WHERE project = {p:String} AND trace_id IN {ids:Array(String)} ORDER BY start_time, span_id",
        {"p": project, "ids": trace_ids})


def logs_of_traces(store: Store, project: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    if not trace_ids:
        return []
    return store.query(
        "SELECT trace_id, span_id, time, event_name, body FROM logs WHERE project = {p:String} "
        "AND trace_id IN {ids:Array(String)} ORDER BY time", {"p": project, "ids": trace_ids})


# --- scores ----------------------------------------------------------------------------------------


def scored(store: Store, project: str, target_type: str, target_ids: list[str],
           evaluators: list[str]) -> dict[tuple[str, str, str], tuple[datetime, bool]]:
    """(target_id, evaluator, version) → (newest created_at, any row without error), for judge scores."""
    if not target_ids or not evaluators:
        return {}
    rows = store.query_rows(
        "SELECT target_id, evaluator, evaluator_version, max(created_at), countIf(error = '') > 0 FROM "
        "(SELECT target_id, evaluator, evaluator_version, created_at, error FROM scores WHERE project = {p:String} "
        "AND target_type = {t:String} AND target_id IN {ids:Array(String)} AND evaluator IN {ev:Array(String)} "
        f"AND source IN ('llm_judge', 'rubric') ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY}) "
        "GROUP BY target_id, evaluator, evaluator_version",
        {"p": project, "t": target_type, "ids": target_ids, "ev": evaluators})
    return {(r[0], r[1], r[2]): (utc(r[3]), bool(r[4])) for r in rows}


def budget_usage(store: Store, since: datetime, evaluators: list[str], project: str | None,
                 shard: tuple[int, int]) -> tuple[int, float]:
    """Evaluations (distinct target × evaluator × version) and judge dollars since `since`."""
    params: dict[str, Any] = {"since": since, "ev": evaluators}
    where = ("created_at >= {since:DateTime64(6)} AND evaluator IN {ev:Array(String)} "
             "AND source IN ('llm_judge', 'rubric')") + _shard("target_id", shard, params)
    if project is not None:
        params["p"] = project
        where += " AND project = {p:String}"
    row = store.query_rows(
        "SELECT uniqExact(project, target_type, target_id, evaluator, evaluator_version), sum(judge_cost_usd) FROM "
        f"(SELECT * FROM scores WHERE {where} ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY})", params)[0]
    return int(row[0]), float(row[1] or 0.0)


def mean_cost(store: Store, project: str, evaluator: str, since: datetime) -> tuple[int, float]:
    """(evaluations, mean judge dollars) of an evaluator's successful scores since `since`."""
    row = store.query_rows(
        "SELECT count(), avg(judge_cost_usd) FROM (SELECT judge_cost_usd FROM scores WHERE project = {p:String} "
        "AND evaluator = {e:String} AND error = '' AND created_at >= {since:DateTime64(6)} "
        f"ORDER BY updated_at DESC LIMIT 1 BY {SCORE_KEY})", {"p": project, "e": evaluator, "since": since})[0]
    return int(row[0]), float(row[1] or 0.0) if row[0] else 0.0


# --- the worker's progress -------------------------------------------------------------------------


def watermarks(store: Store, worker: str | None = None) -> list[dict[str, Any]]:
    where = "WHERE worker = {w:String}" if worker else ""
    rows = store.query(f"SELECT worker, level, watermark, updated_at FROM judge_watermarks FINAL {where} "
                       "ORDER BY worker, level", {"w": worker} if worker else None)
    for r in rows:
        r["watermark"], r["updated_at"] = utc(r["watermark"]), utc(r["updated_at"])
    return rows


def save_watermark(store: Store, worker: str, level: str, mark: datetime) -> None:
    store.insert("judge_watermarks", [(worker, level, mark, datetime.now(UTC))],
                 ("worker", "level", "watermark", "updated_at"))


def backlog(store: Store, mark: datetime, shard: tuple[int, int]) -> tuple[datetime | None, int]:
    """(newest ingested_at past the watermark, spans past it) in a shard."""
    params: dict[str, Any] = {"m": mark}
    row = store.query_rows("SELECT max(ingested_at), count() FROM spans WHERE ingested_at > {m:DateTime64(6)}"
                           + _shard("span_id", shard, params), params)[0]
    return (utc(row[0]) if row[1] else None), int(row[1])
