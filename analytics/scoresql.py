"""SQL building blocks over `scores` shared by trace search, quality series and measures.

`scores` is a ReplacingMergeTree: a re-scored key leaves older rows until a merge. Instead of FINAL,
reads take the newest row per key with argMax(…, updated_at), and only for the keys the writer marked
`repeated` (store/scores.py); the rest, nearly all, are read as they are.
Scores are tied to time through their trace (see analytics/window.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_KEY = "score_key"
_STAMPED_READS = {"model": "t_models", "prompt_version": "t_prompt_name, t_prompt_version", "service": "t_service",
                  "environment": "t_environment", "user": "t_user"}
UNSTAMPED = "trace_start = toDateTime64(0, 6, 'UTC')"
_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.:-]{1,128})\s*(<=|>=|!=|<|>|=)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "!="}


@dataclass(frozen=True)
class ScoreCondition:
    """`groundedness<0.5`: the trace has a score of that name (on any span or the trace) matching it."""

    name: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> ScoreCondition:
        match = _CONDITION.match(text)
        if not match:
            raise ValueError(f"invalid score filter {text!r}: use NAME<op>NUMBER, e.g. groundedness<0.5 "
                             "(op one of < <= > >= = !=)")
        return cls(match.group(1), _OPS[match.group(2)], float(match.group(3)))


_LATEST = {
    "trace_id": "any(trace_id)", "target_type": "any(target_type)", "target_id": "any(target_id)",
    "name": "any(name)", "source": "any(source)", "evaluator": "any(evaluator)", "author": "any(author)",
    "value": "argMax(value, updated_at)", "label": "argMax(label, updated_at)", "scored_at": "max(created_at)",
    "rationale": "argMax(rationale, updated_at)",
}
_AS_STORED = {"scored_at": "created_at"}  # a key with one row: its columns as they are
SCORE_FIELDS = ("trace_id", "target_type", "target_id", "name", "source", "evaluator", "author", "value", "label",
                "scored_at")
SCORE_ROW = ("trace_id", "target_type", "target_id", "name", "source", "author", "value", "label")
_READS = {"value": "value, updated_at", "label": "label, updated_at", "scored_at": "created_at",
          "rationale": "rationale, updated_at"}


def latest_scores(where: str, extra: dict[str, str] | None = None, inner: str = "",
                  columns: tuple[str, ...] = SCORE_FIELDS, reads: str = "", repeated: str | None = "") -> str:
    """The newest value per score key among rows matching `where` (which must filter on the project).

    Only keys marked `repeated` (written more than once, store/scores.py) are grouped; every other row is
    its key's only row and is read as it is, so a window of a million scores costs a scan, not a GROUP BY
    of a million keys. `repeated` is the SQL set of those keys when the caller looked them up
    (repeated_keys), None when there are none, and by default a subquery. `inner` adds columns computed
    per row (", expr AS s_x") from the table's columns `reads`; `extra` names output columns over them
    ({"trace_start": "s_start"}: a key's value is any of its rows'). Ask only for the `columns` used:
    ClickHouse prunes neither unused aggregates nor `SELECT *` in a subquery (each ~20-40 % on 1.4M rows).
    """
    extra = extra or {}
    names = {n.strip() for c in columns for n in _READS.get(c, c).split(",")} | {n.strip() for n in reads.split(",")}
    read = ", ".join(sorted(names - {""}))
    single = [*(f"{_AS_STORED.get(c, c)} AS {c}" for c in columns), *(f"{e} AS {a}" for a, e in extra.items())]
    rows = f"FROM scores WHERE {where} AND value IS NOT NULL"
    if repeated is None:
        return f"SELECT {', '.join(single)} FROM (SELECT {read}{inner} {rows} AND repeated = 0)"
    repeated = repeated or f"(SELECT score_key FROM scores WHERE {where} AND repeated = 1)"
    grouped = [*(f"{_LATEST[c]} AS {c}" for c in columns), *(f"any({e}) AS {a}" for a, e in extra.items())]
    # score_key: the stored 64-bit hash of the replacing key (0053), read instead of its seven strings.
    return (f"SELECT {', '.join(single)} FROM (SELECT {read}{inner} {rows} AND repeated = 0 "
            f"AND score_key NOT IN {repeated}) UNION ALL SELECT {', '.join(grouped)} FROM (SELECT {read}, "
            f"score_key AS s_key{inner} {rows} AND score_key IN {repeated}) GROUP BY s_key")


# Repeated keys passed to a read as a parameter (~100 KB of query at most); beyond, a subquery finds them.
MAX_REPEATED = 5000


def repeated_keys(store: Any, where: str, params: dict[str, Any]) -> str | None:
    """latest_scores' `repeated` for rows matching `where`: the keys looked up (most windows have none or
    a few; a superset does no harm), passed as the parameter r_keys."""
    keys = store.query_rows(f"SELECT DISTINCT score_key FROM scores WHERE {where} AND repeated = 1 "
                            f"LIMIT {MAX_REPEATED + 1}", params)
    if len(keys) > MAX_REPEATED:
        return ""
    if not keys:
        return None
    params["r_keys"] = [k[0] for k in keys]
    return "{r_keys:Array(UInt64)}"


def score_conditions_sql(conditions: list[ScoreCondition], params: dict[str, Any]) -> list[str]:
    """WHERE clauses (`trace_id IN (…)`) for `trace_list`, one per condition, all must hold.

    Only scores of traces started in [sc_lo, sc_hi) (params the caller sets per query: a page slice
    reads a slice's scores) or not stamped yet are read.
    """
    clauses = []
    for i, cond in enumerate(conditions):
        params[f"sc_name{i}"] = cond.name
        params[f"sc_value{i}"] = cond.value
        inner = latest_scores(f"project = {{project:String}} AND name = {{sc_name{i}:String}} "
                              "AND created_at >= {day_from:Date} AND (trace_start >= {sc_lo:DateTime64(6)} "
                              f"AND trace_start < {{sc_hi:DateTime64(6)}} OR {UNSTAMPED})",
                              columns=("trace_id", "value"))
        clauses.append(f"trace_id IN (SELECT trace_id FROM ({inner}) "
                       f"WHERE value {cond.op} {{sc_value{i}:Float64}})")
    return clauses


# A segment from the trace list's rows (merged per trace), and from a score's stamped facts.
SEGMENTS = {
    "model": "groupUniqArrayArray(models)",
    "prompt_version": "concat(max(prompt_name), ':', max(prompt_version))",
    "service": "argMin(service_name, pick_key)",
    "environment": "max(environment)",
    "user": "max(user_id)",
}
STAMPED = {
    "model": "t_models",
    "prompt_version": "concat(t_prompt_name, ':', t_prompt_version)",
    "service": "t_service",
    "environment": "t_environment",
    "user": "t_user",
}


MAX_PENDING = 5000  # unstamped traces looked up per read; beyond, they are joined (slower, as exact)


def _pending_traces(segment: str | None, ids: str) -> str:
    """Start (and segment) of the traces `ids` (a set in SQL) that started in the window: from the narrow
    `trace_bounds` sorted by trace id, or `trace_list` for a segment."""
    seg = f", {SEGMENTS[segment]} AS segment" if segment else ""
    return (f"SELECT trace_id, min(first_start) AS t_start{seg} FROM {'trace_list' if segment else 'trace_bounds'} "
            "WHERE project = {project:String} AND first_start >= {start:DateTime64(6)} - INTERVAL 1 DAY "
            f"AND first_start < {{end:DateTime64(6)}} + INTERVAL 1 DAY AND trace_id IN {ids} GROUP BY trace_id "
            "HAVING t_start >= {start:DateTime64(6)} AND t_start < {end:DateTime64(6)}")


def _unstamped_ids(where: str) -> str:
    return f"(SELECT trace_id FROM scores WHERE {where} AND {UNSTAMPED})"


def _pending(store: Any, segment: str | None, where: str, params: dict[str, Any]) -> list[tuple] | None:
    """(trace id, start[, segment]) of the traces of unstamped scores that started in the window; None
    past MAX_PENDING such traces. Their ids come from `scores` first: the usual answer is none, and then
    the trace list is not read."""
    ids = store.query_rows(f"SELECT DISTINCT trace_id FROM {_unstamped_ids(where)} LIMIT {MAX_PENDING + 1}", params)
    if len(ids) > MAX_PENDING:
        return None
    if not ids:
        return []
    return store.query_rows(_pending_traces(segment, "{pending_ids:Array(String)}"),
                            {**params, "pending_ids": [i[0] for i in ids]})


def scored_traces(store: Any, params: dict[str, Any], score_where: str = "", segment: str | None = None,
                  columns: tuple[str, ...] = ("trace_id", "target_type", "target_id", "name", "source", "author",
                                              "value", "label")) -> str:
    """Latest scores with their trace's start time (and one trace-level segment), in the window.

    Expects params project, start, end, day_from, day_to (and adds its own). `score_where` narrows the
    scores (" AND name = …"). Columns: `columns` (of SCORE_FIELDS), trace_start[, segment]. Stamped scores
    (store/scores.py) carry the trace's start and facts; the traces of the rest (written before their
    trace arrived) are looked up first, and their facts passed in as arrays, so one pass over `scores`
    takes the newest version of every key.
    """
    where = f"project = {{project:String}} AND created_at >= {{day_from:Date}} AND trace_id != ''{score_where}"
    pending = _pending(store, segment, where, params)
    if pending is None:
        return _scored_traces_joined(where, segment)
    stamped = "trace_start >= {start:DateTime64(6)} AND trace_start < {end:DateTime64(6)}"
    reads = "trace_start" + (f", {_STAMPED_READS[segment]}" if segment else "")
    inner = ", trace_start AS s_start" + (f", {STAMPED[segment]} AS s_segment" if segment else "")
    if pending:  # the usual case has none, and then reads no trace ids
        params.update(p_ids=[r[0] for r in pending], p_starts=[r[1] for r in pending])
        at = "indexOf({p_ids:Array(String)}, trace_id)"
        inner = f", if({UNSTAMPED}, {{p_starts:Array(DateTime64(6, 'UTC'))}}[{at}], trace_start) AS s_start"
        if segment:
            params["p_segments"] = [r[2] for r in pending]
            kind = "Array(Array(String))" if segment == "model" else "Array(String)"
            inner += f", if({UNSTAMPED}, {{p_segments:{kind}}}[{at}], {STAMPED[segment]}) AS s_segment"
        stamped = f"({stamped} OR {UNSTAMPED} AND trace_id IN {{p_ids:Array(String)}})"
        reads += ", trace_id"
    # No `trace_id != ''` here: a stamped score or a looked-up one has a trace, and the test would read every id.
    repeated = repeated_keys(store, f"project = {{project:String}} AND created_at >= {{day_from:Date}}{score_where}",
                             params)
    latest = latest_scores(
        f"project = {{project:String}} AND created_at >= {{day_from:Date}}{score_where} AND {stamped}",
        {"trace_start": "s_start", **({"segment": "s_segment"} if segment else {})}, inner, columns, reads, repeated)
    return f"SELECT {', '.join(columns)}, trace_start{', segment' if segment else ''} FROM ({latest})"


def _scored_traces_joined(where: str, segment: str | None) -> str:
    """scored_traces for many unstamped scores (e.g. just after an upgrade): stamped ones, plus the rest
    joined to their traces unless a stamped version replaced them."""
    cols = "trace_id, target_type, target_id, name, source, author, value, label, trace_start"
    stamped = latest_scores(
        f"{where} AND trace_start >= {{start:DateTime64(6)}} AND trace_start < {{end:DateTime64(6)}}",
        {"trace_start": "trace_start", **({"segment": STAMPED[segment]} if segment else {})}, columns=SCORE_ROW,
        reads="trace_start" + (f", {_STAMPED_READS[segment]}" if segment else ""))
    pending = (f"{where} AND {UNSTAMPED} AND {_KEY} NOT IN (SELECT {_KEY} FROM scores WHERE {where} "
               f"AND NOT {UNSTAMPED} AND trace_id IN {_unstamped_ids(where)})")
    joined = (
        "SELECT s.trace_id AS trace_id, s.target_type AS target_type, s.target_id AS target_id, s.name AS name, "
        "s.source AS source, s.author AS author, s.value AS value, s.label AS label, t.t_start AS trace_start"
        f"{', t.segment AS segment' if segment else ''} "
        f"FROM ({latest_scores(pending, columns=SCORE_ROW)}) AS s "
        f"INNER JOIN ({_pending_traces(segment, _unstamped_ids(where))}) AS t "
        "ON s.trace_id = t.trace_id"
    )
    return f"SELECT {cols}{', segment' if segment else ''} FROM ({stamped}) UNION ALL {joined}"
