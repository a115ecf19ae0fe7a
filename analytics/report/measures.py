"""The success measures for a week and the week before, each with its week-over-week test.

Values follow analytics/measures.py's definitions (the Overview shows the same numbers). Tests:
- cost per request: Welch z on per-request (per-trace) cost, over a hash sample of at most ~200,000
  requests per week (the value itself is exact);
- latency: Mann–Whitney U on request durations (binned at 1 % on a log scale, so a week of any size is
  a few hundred pairs) — p50/p95 are shown, the test is on the whole distribution;
- error, safety-incident and escalation rates: two-proportion z;
- mean scores (task completion, groundedness, retrieval relevance, user satisfaction): Mann–Whitney U;
- prompt regression rate: two-proportion z over the versions tested (rarely 30 per week: then untested).
All p-values are Holm-corrected together; below 30 samples on either side a measure is not tested.
"""

from __future__ import annotations

import math
from typing import Any

from analytics import regressions, safety, stats
from analytics.alerts.metrics import flag_rate
from analytics.measures import MEASURES
from analytics.segments import ALL_TRAFFIC
from analytics.series import SpanSelect, totals
from analytics.window import Window
from store.client import Store

SCORE_MEASURES = {"task_completion_rate": "task_completion", "grounded_answer_quality": "groundedness",
                  "retrieval_relevance": "context_relevance"}


COST_TEST_SAMPLE = 200_000


def _cost_test(store: Store, project: str, cur: Window, prev: Window, requests: int) -> float | None:
    keep = min(1000, max(1, int(1000 * COST_TEST_SAMPLE / max(requests, 1))))
    params = {"project": project, "f_start": prev.start, "split": cur.start, "f_end": cur.end, "keep": keep}
    rows = store.query(
        "SELECT ts >= {split:DateTime64(6)} AS current, count() AS n, avg(c) AS mean, varSamp(c) AS var FROM ("
        "SELECT trace_id, sum(cost_usd) AS c, min(first_start) AS ts FROM trace_list WHERE project = {project:String} "
        "AND first_start >= {f_start:DateTime64(6)} - INTERVAL 1 DAY "
        "AND first_start < {f_end:DateTime64(6)} + INTERVAL 1 DAY "
        "AND cityHash64(trace_id) % 1000 < {keep:UInt32} GROUP BY trace_id "
        "HAVING ts >= {f_start:DateTime64(6)} AND ts < {f_end:DateTime64(6)}) GROUP BY current", params)
    by = {bool(r["current"]): r for r in rows}
    if not all(k in by and by[k]["n"] >= stats.MIN_SAMPLES for k in (True, False)):
        return None
    a, b = by[False], by[True]
    return stats.welch_z(a["mean"], a["var"], a["n"], b["mean"], b["var"], b["n"])


def _latency_hists(store: Store, project: str, cur: Window, prev: Window) -> dict[bool, stats.Hist]:
    params = {"project": project, "f_start": prev.start, "split": cur.start, "f_end": cur.end}
    rows = store.query_rows(
        "SELECT start_time >= {split:DateTime64(6)} AS current, round(log1p(duration_ms), 2) AS v, count() "
        "FROM spans WHERE project = {project:String} AND start_time >= {f_start:DateTime64(6)} "
        "AND start_time < {f_end:DateTime64(6)} AND parent_span_id = '' GROUP BY current, v", params)
    pairs: dict[bool, dict[float, float]] = {True: {}, False: {}}
    for current, v, n in rows:
        pairs[bool(current)][float(v)] = float(n)
    return {k: stats.Hist.from_pairs(p) for k, p in pairs.items()}


def _merged(hists: dict[tuple[str, str], stats.Hist], name: str, feedback: bool) -> stats.Hist:
    """One histogram over the sources of a score name (judges and people, or only end-user feedback)."""
    pairs: dict[float, float] = {}
    for (n, source), h in hists.items():
        if (source == "user_feedback") != feedback or (not feedback and n != name):
            continue
        scale = feedback and h.n and h.values.max() > 1  # a 1–5 rating reads as 0..1
        for v, c in zip(h.values, h.counts, strict=True):
            key = float((v - 1) / 4 if scale else v)
            pairs[key] = pairs.get(key, 0.0) + float(c)
    return stats.Hist.from_pairs(pairs)


def weekly_measures(store: Store, project: str, cur: Window, safety_now: dict[str, Any] | None = None,
                    versions_now: tuple[float | None, int] | None = None,
                    hists: dict[str, dict] | None = None) -> list[dict[str, Any]]:
    """`safety_now` (safety_summary of the week), `versions_now` (its prompt regression rate and count) and
    `hists` (regressions.period_hists of the week) can be passed in when the caller has them already."""
    prev = cur.previous()
    req = {w: totals(store, project, w, SpanSelect(root=True)) for w in (cur, prev)}
    spend = {w: totals(store, project, w, SpanSelect()) for w in (cur, prev)}
    hists = hists if hists is not None else regressions.period_hists(store, project, cur)
    scores = {cur: hists.get("current", {}), prev: hists.get("previous", {})}
    lat = _latency_hists(store, project, cur, prev)
    summary = safety_now or safety.safety_summary(store, project, cur)
    both = next(c for c in summary["categories"] if c["category"] == "all")
    safe = {cur: {"rate": both["rate"], "judged": both["judged"]},
            prev: {"rate": both["previous_rate"], "judged": both["previous_judged"]}}
    esc = {w: flag_rate(store, project, w, ALL_TRAFFIC, "escalation") for w in (cur, prev)}
    prr = {cur: versions_now or regressions.prompt_regression_rate(store, project, cur)[:2],
           prev: regressions.prompt_regression_rate(store, project, prev)[:2]}

    def value(key: str, w: Window) -> tuple[float | None, int]:
        r, s = req[w], spend[w]
        if key == "cost_per_request":
            return (s["cost_usd"] / r["requests"] if r["requests"] else None), r["requests"]
        if key in ("latency_p50", "latency_p95", "error_rate"):
            return r[key], r["requests"]
        if key in SCORE_MEASURES or key == "user_satisfaction":
            h = _merged(scores[w], SCORE_MEASURES.get(key, ""), key == "user_satisfaction")
            return (h.mean if h.n else None), h.n
        if key == "safety_incident_rate":
            return safe[w]["rate"], safe[w]["judged"]
        if key == "escalation_rate":
            return esc[w]
        return prr[w]

    def test(key: str) -> tuple[float | None, str]:
        (vc, nc), (vp, np_) = value(key, cur), value(key, prev)
        if vc is None or vp is None or min(nc, np_) < stats.MIN_SAMPLES:
            return None, "not tested (fewer than 30 samples)"
        if key == "cost_per_request":
            return _cost_test(store, project, cur, prev, max(nc, np_)), "Welch z"
        if key.startswith("latency"):
            return stats.mann_whitney(lat[False], lat[True])[1], "Mann-Whitney U"
        if key in SCORE_MEASURES or key == "user_satisfaction":
            a = _merged(scores[prev], SCORE_MEASURES.get(key, ""), key == "user_satisfaction")
            b = _merged(scores[cur], SCORE_MEASURES.get(key, ""), key == "user_satisfaction")
            return stats.mann_whitney(a, b)[1], "Mann-Whitney U"
        return stats.two_proportions(vp * np_, np_, vc * nc, nc), "two-proportion z"

    out = []
    for key, label, unit, better in MEASURES:
        (v, n), (pv, pn) = value(key, cur), value(key, prev)
        p, how = test(key)
        change = v - pv if v is not None and pv is not None else None
        out.append({"key": key, "label": label, "unit": unit, "higher_is_better": better, "value": v, "n": n,
                    "previous": pv, "previous_n": pn, "change": change,
                    "change_pct": change / abs(pv) if change is not None and pv else None,
                    "p_value": None if p is None or math.isnan(p) else p, "test": how})
    for m, adjusted in zip(out, stats.holm([m["p_value"] for m in out]), strict=True):
        m["p_adjusted"] = adjusted
        m["significant"] = adjusted is not None and adjusted < 0.05
        m["improved"] = None if not m["change"] else (m["change"] > 0) == m["higher_is_better"]
    return out
