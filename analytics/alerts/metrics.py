"""The value of a success measure or a score over one window and segment — what threshold and change rules test.

Request measures read raw `spans` (exact for any window, not hour-aligned like the rollup): requests are
root spans; with a segment, the requests of traces that have a matching span (a model or prompt is
a fact of an inner LLM call), and the cost of those traces. Score measures follow analytics/measures.py's
definitions, grouped by trace (analytics/tracefacts.py). Each value comes with its sample size `n`.
"""

from __future__ import annotations

from typing import Any

from analytics import regressions, safety
from analytics.scoresql import SCORE_ROW, latest_scores
from analytics.segments import ALL_TRAFFIC, Segment
from analytics.tracefacts import trace_facts
from analytics.window import Window, clean

SPAN_MEASURES = ("requests", "cost_usd", "cost_per_request", "latency_p50", "latency_p95", "latency_p99", "error_rate")
SCORE_MEANS = {"task_completion_rate": "task_completion", "grounded_answer_quality": "groundedness",
               "retrieval_relevance": "context_relevance"}
COUNT_LIKE = ("requests", "cost_usd")  # no minimum sample: the count is the measure


def _span_values(store: Any, project: str, w: Window, seg: Segment) -> dict[str, tuple[float | None, int]]:
    params: dict[str, Any] = {"project": project, "start": w.start, "end": w.end}
    base = "project = {project:String} AND start_time >= {start:DateTime64(6)} AND start_time < {end:DateTime64(6)}"
    seg_where = seg.span_where(params)
    traces = ""
    if seg_where:
        traces = f" AND trace_id IN (SELECT trace_id FROM spans WHERE {base} AND {' AND '.join(seg_where)})"
    roots = store.query(
        "SELECT count() AS n, countIf(status = 'error') AS errors, quantiles(0.5, 0.95, 0.99)(duration_ms) AS q "
        f"FROM spans WHERE {base} AND parent_span_id = ''{traces}", params)[0]
    cost = float(store.query_rows(f"SELECT sum(cost_usd) FROM spans WHERE {base}{traces}", params)[0][0] or 0.0)
    n = int(roots["n"])
    q = [clean(x) for x in roots["q"]] if n else [None, None, None]
    return {"requests": (float(n), n), "cost_usd": (cost, n), "cost_per_request": (cost / n if n else None, n),
            "latency_p50": (q[0], n), "latency_p95": (q[1], n), "latency_p99": (q[2], n),
            "error_rate": (roots["errors"] / n if n else None, n)}


def score_stats(store: Any, project: str, w: Window, seg: Segment, names: list[str] | None = None) -> list[dict]:
    """Per (name, source): n, mean, max, and how many scores were ≥ 0.5."""
    params: dict[str, Any] = {"project": project, "f_start": w.start, "f_end": w.end}
    where = "project = {project:String} AND created_at >= toDate({f_start:DateTime64(6)}) - 1"
    if names:
        params["names"] = names
        where += " AND name IN {names:Array(String)}"
    return store.query(
        "SELECT s.name AS name, s.source AS source, count() AS n, avg(s.value) AS mean, max(s.value) AS top, "
        f"countIf(s.value >= 0.5) AS high FROM ({latest_scores(where, columns=SCORE_ROW)}) AS s "
        f"INNER JOIN ({trace_facts(None, seg, params, scored=where)}) AS t ON s.trace_id = t.trace_id "
        "GROUP BY name, source",
        params)


def _mean(rows: list[dict], name: str, feedback: bool = False) -> tuple[float | None, int]:
    picked = [r for r in rows if r["name"] == name and (feedback or r["source"] != "user_feedback")]
    n = sum(r["n"] for r in picked)
    return (sum(r["mean"] * r["n"] for r in picked) / n if n else None), n


def flag_rate(store: Any, project: str, w: Window, seg: Segment, name: str) -> tuple[float | None, int]:
    """Share of the traces judged by `name` where it scored ≥ 0.5, and how many were judged."""
    params: dict[str, Any] = {"project": project, "f_start": w.start, "f_end": w.end, "name": name}
    where = ("project = {project:String} AND name = {name:String} "
             "AND created_at >= toDate({f_start:DateTime64(6)}) - 1")
    row = store.query_rows(
        "SELECT count(), countIf(flag) FROM (SELECT s.trace_id, max(s.value >= 0.5) AS flag "
        f"FROM ({latest_scores(where, columns=SCORE_ROW)}) AS s "
        f"INNER JOIN ({trace_facts(None, seg, params, scored=where)}) AS t "
        "ON s.trace_id = t.trace_id GROUP BY s.trace_id)", params)[0]
    return (row[1] / row[0] if row[0] else None), int(row[0])


def _satisfaction(rows: list[dict]) -> tuple[float | None, int]:
    total, n = 0.0, 0
    for r in rows:
        if r["source"] == "user_feedback":
            total += ((r["mean"] - 1) / 4 if r["top"] > 1 else r["mean"]) * r["n"]
            n += r["n"]
    return (total / n if n else None), n


def metric_value(store: Any, project: str, metric: str, w: Window,
                 seg: Segment = ALL_TRAFFIC) -> tuple[float | None, int]:
    """(value, sample size) of one measure or `score:<name>` (the mean of that score) over the window."""
    if metric in SPAN_MEASURES:
        return _span_values(store, project, w, seg)[metric]
    if metric.startswith("score:"):
        return _mean(score_stats(store, project, w, seg, [metric[6:]]), metric[6:], feedback=True)
    if metric in SCORE_MEANS:
        return _mean(score_stats(store, project, w, seg, [SCORE_MEANS[metric]]), SCORE_MEANS[metric])
    if metric == "user_satisfaction":
        return _satisfaction(score_stats(store, project, w, seg))
    if metric == "escalation_rate":
        return flag_rate(store, project, w, seg, "escalation")
    if metric == "safety_incident_rate":
        row = next(c for c in safety.safety_summary(store, project, w, seg)["categories"] if c["category"] == "all")
        return row["rate"], row["judged"]
    if metric == "prompt_regression_rate":
        rate, tested, _ = regressions.prompt_regression_rate(store, project, w)
        return rate, tested
    raise ValueError(f"unknown metric {metric!r}")


def span_count(store: Any, project: str, w: Window, seg: Segment = ALL_TRAFFIC) -> int:
    """Spans of any kind in the window and segment: what a no-data rule watches."""
    params: dict[str, Any] = {"project": project, "start": w.start, "end": w.end}
    where = ["project = {project:String}", "start_time >= {start:DateTime64(6)}", "start_time < {end:DateTime64(6)}",
             *seg.span_where(params)]
    return int(store.query_rows(f"SELECT count() FROM spans WHERE {' AND '.join(where)}", params)[0][0])
