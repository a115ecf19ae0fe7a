"""The seed's success measures for a window, with the previous window of equal length beside them.

Definitions (the dashboard and the weekly report show these words):
- cost per request: all spend in the window / request roots (root spans) in it.
- latency: p50 and p95 of request (root span) duration.
- task completion rate: mean `task_completion` score (complete 1, partial 0.5, incomplete 0).
- grounded answer quality: mean `groundedness`; retrieval relevance: mean `context_relevance`.
- prompt regression rate (a simple version, to be replaced by a proper test): among prompt versions
  with ≥ 20 quality scores in the window whose predecessor (the same prompt's version first seen just
  before it) also has ≥ 20, the share whose mean quality (groundedness, answer relevance, task
  completion, helpfulness) is below the predecessor's by more than 1.96 standard errors (Welch z).
- safety incident rate: share of safety-judged traces where any safety evaluator scored ≥ 0.5.
- user satisfaction: mean end-user feedback scaled to 0..1 (a feedback name whose values exceed 1 is
  read as a 1-5 rating: (v-1)/4; otherwise 0/1 thumbs).
- escalation-to-human rate: share of traces judged by `escalation` where it fired.
"""

from __future__ import annotations

import math
from typing import Any

from analytics.scoresql import scored_traces
from analytics.series import SpanSelect, spend, totals
from analytics.window import QUALITY, SAFETY, Window
from store.client import Store

MIN_SCORES = 20
Z_CRITICAL = 1.96
MEASURES = (  # key, label, unit, higher is better
    ("cost_per_request", "Cost per request", "usd", False),
    ("latency_p50", "Latency p50", "ms", False),
    ("latency_p95", "Latency p95", "ms", False),
    ("error_rate", "Error rate", "ratio", False),
    ("task_completion_rate", "Task completion rate", "ratio", True),
    ("grounded_answer_quality", "Grounded answer quality", "ratio", True),
    ("retrieval_relevance", "Retrieval relevance", "ratio", True),
    ("prompt_regression_rate", "Prompt regression rate", "ratio", False),
    ("safety_incident_rate", "Safety incident rate", "ratio", False),
    ("user_satisfaction", "User satisfaction", "ratio", True),
    ("escalation_rate", "Escalation-to-human rate", "ratio", False),
)


def _both(w: Window, params: dict[str, Any]) -> Window:
    """The window and the one before it, read together: `cur` (a column) tells their rows apart."""
    params["cur"] = w.start
    return Window(w.previous().start, w.end)


def _scores(store: Store, project: str, w: Window) -> dict[bool, dict[str, Any]]:
    """Per window (True: `w`, False: the one before): score means per name and source, and safety and
    escalation counts, from one pass over both windows' scores."""
    params: dict[str, Any] = {"project": project, "safety": list(SAFETY)}
    params.update(_both(w, params).params())
    inner = scored_traces(store, params, columns=("trace_id", "name", "source", "value"))
    is_current = "trace_start >= {cur:DateTime64(6)}"
    out = {current: {"by_name": {}, "safety_traces": 0, "incidents": 0, "esc_traces": 0, "escalations": 0}
           for current in (True, False)}
    for r in store.query(f"SELECT {is_current} AS cur, name, source, count() AS n, avg(value) AS mean, "
                         f"max(value) AS top FROM ({inner}) GROUP BY cur, name, source", params):
        out[bool(r.pop("cur"))]["by_name"][(r["name"], r["source"])] = r
    # Traces with a safety (escalation) verdict, and those where one is at or above 0.5.
    for r in store.query(
            "SELECT cur, uniqExactIf(trace_id, safety) AS safety_traces, uniqExactIf(trace_id, safety AND "
            "value >= 0.5) AS incidents, uniqExactIf(trace_id, NOT safety) AS esc_traces, "
            "uniqExactIf(trace_id, NOT safety AND value >= 0.5) AS escalations FROM (SELECT trace_id, value, "
            f"name IN {{safety:Array(String)}} AS safety, {is_current} AS cur FROM ({inner}) "
            "WHERE name IN {safety:Array(String)} OR name = 'escalation') GROUP BY cur", params):
        out[bool(r.pop("cur"))].update(r)
    return out


def _mean(by_name: dict, name: str) -> tuple[float | None, int]:
    rows = [r for (n, source), r in by_name.items() if n == name and source != "user_feedback"]
    count = sum(r["n"] for r in rows)
    return (sum(r["mean"] * r["n"] for r in rows) / count if count else None), count


def _satisfaction(by_name: dict) -> tuple[float | None, int]:
    total, count = 0.0, 0
    for (_, source), r in by_name.items():
        if source != "user_feedback":
            continue
        mean = (r["mean"] - 1) / 4 if r["top"] > 1 else r["mean"]
        total += mean * r["n"]
        count += r["n"]
    return (total / count if count else None), count


def _version_rows(store: Store, params: dict[str, Any]) -> dict[bool, list[dict[str, Any]]]:
    """Quality scores per prompt version, oldest version first, per window (params: the span read and
    `cur`, where the current window starts)."""
    params["names"] = list(QUALITY)
    inner = scored_traces(store, params, " AND name IN {names:Array(String)}", "prompt_version", ("value",))
    out: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for r in store.query(
            "SELECT trace_start >= {cur:DateTime64(6)} AS cur, segment AS prompt, count() AS n, avg(value) AS mean, "
            f"varSamp(value) AS var, min(trace_start) AS first_seen FROM ({inner}) WHERE segment != ':' "
            "GROUP BY cur, prompt ORDER BY first_seen", params):
        out[bool(r.pop("cur"))].append(r)
    return out


def _compare_versions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each prompt version compared with its predecessor (see the module docstring)."""
    by_prompt: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        name, _, version = r["prompt"].rpartition(":")
        r.update(prompt_name=name, prompt_version=version, var=r["var"] if r["var"] == r["var"] else 0.0)
        by_prompt.setdefault(name, []).append(r)
    out = []
    for versions in by_prompt.values():
        for prev, cur in zip([None, *versions], versions, strict=False):
            cur.update(previous=prev["prompt_version"] if prev else None, z=None, regressed=None)
            if prev and prev["n"] >= MIN_SCORES and cur["n"] >= MIN_SCORES:
                se = math.sqrt(prev["var"] / prev["n"] + cur["var"] / cur["n"]) or 1e-9
                cur["z"] = (prev["mean"] - cur["mean"]) / se
                cur["regressed"] = cur["z"] > Z_CRITICAL
            out.append(cur)
    return out


def _values(store: Store, project: str, w: Window, s: dict[str, Any],
            versions: list[dict[str, Any]]) -> dict[str, tuple[float | None, int]]:
    req = totals(store, project, w, SpanSelect(root=True))
    spent = spend(store, project, w)
    compared = [v for v in versions if v["regressed"] is not None]
    return {
        "cost_per_request": (spent / req["requests"] if req["requests"] else None, req["requests"]),
        "latency_p50": (req["latency_p50"], req["requests"]),
        "latency_p95": (req["latency_p95"], req["requests"]),
        "error_rate": (req["error_rate"], req["requests"]),
        "task_completion_rate": _mean(s["by_name"], "task_completion"),
        "grounded_answer_quality": _mean(s["by_name"], "groundedness"),
        "retrieval_relevance": _mean(s["by_name"], "context_relevance"),
        "prompt_regression_rate": (sum(v["regressed"] for v in compared) / len(compared) if compared else None,
                                   len(compared)),
        "safety_incident_rate": (s["incidents"] / s["safety_traces"] if s["safety_traces"] else None,
                                 s["safety_traces"]),
        "user_satisfaction": _satisfaction(s["by_name"]),
        "escalation_rate": (s["escalations"] / s["esc_traces"] if s["esc_traces"] else None, s["esc_traces"]),
    }


def success_measures(store: Store, project: str, w: Window) -> dict[str, Any]:
    scores = _scores(store, project, w)
    params: dict[str, Any] = {"project": project}
    params.update(_both(w, params).params())
    rows = _version_rows(store, params)
    versions = {cur: _compare_versions(rows[cur]) for cur in (True, False)}
    current = _values(store, project, w, scores[True], versions[True])
    previous = _values(store, project, w.previous(), scores[False], versions[False])
    measures = []
    for key, label, unit, better in MEASURES:
        value, n = current[key]
        prev, prev_n = previous[key]
        change = value - prev if value is not None and prev is not None else None
        measures.append({
            "key": key, "label": label, "unit": unit, "higher_is_better": better, "value": value, "n": n,
            "previous": prev, "previous_n": prev_n, "change": change,
            "change_pct": change / abs(prev) if change is not None and prev else None,
            "improved": None if not change else (change > 0) == better,
        })
    return {"start": w.start, "end": w.end, "previous_start": w.previous().start, "measures": measures,
            "prompt_versions": versions[True]}
