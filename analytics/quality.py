"""Scores over time, their distributions, quality by segment, and the worst traces per evaluator.

Rows come from analytics/scoresql.scored_traces: the newest value per score key, timed by its trace.
A score on a span counts once per span, so a trace with three judged LLM calls weighs three times.
"""

from __future__ import annotations

from typing import Any

from analytics.scoresql import SEGMENTS, scored_traces
from analytics.window import Window, bucket_expr, higher_is_better
from store.client import Store

QUALITY_SEGMENTS = tuple(SEGMENTS)


def _score_where(names: list[str] | None, source: str | None, params: dict[str, Any]) -> str:
    where = ""
    if names:
        params["names"] = names
        where += " AND name IN {names:Array(String)}"
    if source:
        params["source"] = source
        where += " AND source = {source:String}"
    return where


def score_series(store: Store, project: str, w: Window, bucket: str, names: list[str] | None = None,
                 source: str | None = None, breakdown: str | None = None, top: int = 8) -> dict[str, Any]:
    if breakdown and breakdown not in SEGMENTS:
        raise ValueError(f"breakdown must be one of {', '.join(SEGMENTS)}")
    params: dict[str, Any] = {"project": project, **w.params(), "top": top}
    inner = scored_traces(store, params, _score_where(names, source, params), breakdown, ("name", "source", "value"))
    seg = "''"
    if breakdown:
        seg = "arrayJoin(if(empty(segment), [''], segment))" if breakdown == "model" else "segment"
    rows = store.query(
        f"SELECT {bucket_expr(bucket, 'trace_start')} AS time, name, source, {seg} AS group, count() AS n, "
        f"avg(value) AS mean, countIf(value >= 0.5) / count() AS share_high FROM ({inner}) "
        "GROUP BY time, name, source, group ORDER BY time, name, source, group", params)
    return {"bucket": bucket, "breakdown": breakdown, "data": rows}


def score_summary(store: Store, project: str, w: Window, names: list[str] | None = None,
                  source: str | None = None) -> list[dict[str, Any]]:
    """Per evaluator and source: count, mean, direction, value histogram and label counts."""
    params: dict[str, Any] = {"project": project, **w.params()}
    inner = scored_traces(store, params, _score_where(names, source, params),
                          columns=("name", "source", "value", "label"))
    rows = store.query(
        f"SELECT name, source, round(value, 2) AS v, label, count() AS n FROM ({inner}) "
        "GROUP BY name, source, v, label ORDER BY name, source, v", params)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        item = out.setdefault((r["name"], r["source"]), {
            "name": r["name"], "source": r["source"], "n": 0, "sum": 0.0, "values": {}, "labels": {},
            "higher_is_better": higher_is_better(r["name"])})
        item["n"] += r["n"]
        item["sum"] += r["v"] * r["n"]
        item["values"][r["v"]] = item["values"].get(r["v"], 0) + r["n"]
        if r["label"]:
            item["labels"][r["label"]] = item["labels"].get(r["label"], 0) + r["n"]
    result = []
    for item in out.values():
        item["mean"] = item.pop("sum") / item["n"] if item["n"] else None
        item["distribution"] = [{"value": v, "count": c} for v, c in sorted(item.pop("values").items())]
        result.append(item)
    return result


def quality_by_segment(store: Store, project: str, w: Window, by: str, names: list[str] | None = None,
                       source: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
    if by not in SEGMENTS:
        raise ValueError(f"by must be one of {', '.join(SEGMENTS)}")
    params: dict[str, Any] = {"project": project, **w.params(), "limit": limit}
    inner = scored_traces(store, params, _score_where(names, source, params), by, ("trace_id", "name", "value"))
    seg = "arrayJoin(if(empty(segment), [''], segment))" if by == "model" else "segment"
    return store.query(
        f"SELECT {seg} AS segment, name, count() AS n, avg(value) AS mean, uniqExact(trace_id) AS traces "
        f"FROM ({inner}) GROUP BY segment, name ORDER BY segment, name LIMIT {{limit:UInt32}} BY name", params)


def worst_scores(store: Store, project: str, w: Window, evaluator: str, limit: int = 20,
                 higher_better: bool | None = None, source: str | None = None) -> list[dict[str, Any]]:
    """The traces that scored worst on one evaluator, worst first, with the verdict's rationale."""
    params: dict[str, Any] = {"project": project, **w.params(), "limit": limit}
    better = higher_is_better(evaluator) if higher_better is None else higher_better
    inner = scored_traces(store, params, _score_where([evaluator], source, params),
                          columns=("trace_id", "target_id", "value", "label"))
    # k orders worst first whichever the direction; aliases differ from columns so none shadows another.
    rows = store.query(
        "SELECT trace_id, min(k) AS worst, argMin(v, k) AS value, argMin(l, k) AS label, argMin(tid, k) AS target_id, "
        f"count() AS n FROM (SELECT trace_id, value AS v, label AS l, target_id AS tid, {'v' if better else '-v'} AS k "
        f"FROM ({inner})) GROUP BY trace_id ORDER BY worst, trace_id LIMIT {{limit:UInt32}}", params)
    for r in rows:
        r.pop("worst")
    if not rows:
        return rows
    params = {"project": project, "ids": [r["trace_id"] for r in rows], "name": evaluator}
    why = {(r["trace_id"], r["target_id"]): r["rationale"] for r in store.query(
        "SELECT trace_id, target_id, argMax(rationale, updated_at) AS rationale FROM scores "
        "WHERE project = {project:String} AND trace_id IN {ids:Array(String)} AND name = {name:String} "
        "GROUP BY trace_id, target_id", params)}
    for r in rows:
        r["rationale"] = why.get((r["trace_id"], r["target_id"]), "")
    return rows
