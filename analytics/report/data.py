"""Every number of the weekly report, gathered from the same analytics functions the API serves.

An ISO week (UTC, Monday to Monday) against the week before. Deterministic: the same data gives the
same report, byte for byte (fixed seeds, stable orderings, no generation timestamp in the body).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from analytics import drift, explore, links, regressions, safety
from analytics.alerts.config import load_alerts
from analytics.report.measures import weekly_measures
from analytics.segments import ALL_TRAFFIC
from analytics.series import SpanSelect, span_series, totals
from analytics.window import QUALITY, Window
from store.client import Store

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
WORST = 5
INCIDENTS = 10


def week_window(week: str) -> Window:
    """'2026-W48' → [Monday 00:00 UTC, next Monday)."""
    match = _WEEK.match(week or "")
    if not match:
        raise ValueError("week must look like 2026-W48 (ISO year and week)")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError as exc:
        raise ValueError(f"no such ISO week {week}") from exc
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return Window(start, start + timedelta(days=7))


def last_full_week(now: datetime) -> str:
    year, week, _ = (now - timedelta(days=7)).isocalendar()
    return f"{year}-W{week:02d}"


def _daily(store: Store, project: str, w: Window) -> list[dict[str, Any]]:
    roots = {p["time"].date(): p for p in span_series(store, project, w, "day", SpanSelect(root=True))["data"]}
    spend = {p["time"].date(): p for p in span_series(store, project, w, "day", SpanSelect())["data"]}
    out = []
    for i in range(7):
        day = (w.start + timedelta(days=i)).date()
        r, s = roots.get(day, {}), spend.get(day, {})
        out.append({"date": day.isoformat(), "requests": r.get("requests", 0), "errors": r.get("errors", 0),
                    "cost_usd": s.get("cost_usd", 0.0), "latency_p50": r.get("latency_p50"),
                    "latency_p95": r.get("latency_p95")})
    return out


def _calibration(store: Store, project: str, settings: Any) -> list[dict[str, Any]] | None:
    from judges.calibration import calibrate
    from store.calibration import calibration_scores, judge_names

    judged, people = calibration_scores(store, project)
    if not people:
        return None
    cfg = settings.judges or {}
    rows = calibrate(judged, people, judge_names(store, project), cfg.get("calibration_min_agreement", 0.6),
                     cfg.get("calibration_min_pairs", 10))
    return [{k: r.get(k) for k in ("evaluator", "name", "n", "metric", "agreement", "accuracy", "flagged", "reason")}
            for r in rows if r.get("name")]


def _drift(store: Store, project: str, w: Window, settings: Any, base: str) -> dict[str, Any]:
    result = drift.drift_report(store, project, w, ALL_TRAFFIC, load_alerts(settings.alerts).drift)
    grown = [c for part in ("input", "output") for c in result["clusters"][part] if c["grew"]]
    return {"score": result["score"], "drifted": result["drifted"], "input_auc": result["input_auc"],
            "output_auc": result["output_auc"], "max_psi": result["max_psi"], "method": result["method"],
            "components": [{k: c.get(k) for k in ("name", "kind", "score", "psi", "auc", "p_adjusted", "drifted")}
                           for c in result["components"][:8]],
            "grown_clusters": [{"terms": c["terms"], "reference_share": c["reference_share"],
                                "current_share": c["current_share"], "appeared": c["appeared"],
                                "examples": [{**e, "link": links.trace_url(base, e["trace_id"])}
                                             for e in c["examples"][:3]]} for c in grown[:4]],
            "link": links.page_url(base, "drift", **links.filters({}, w.start, w.end))}


def _linked(rows: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    return [{**r, "link": links.trace_url(base, r["trace_id"])} for r in rows]


def build_report_data(store: Store, settings: Any, project: str, week: str) -> dict[str, Any]:
    w = week_window(week)
    prev = w.previous()
    base = settings.public_url
    req = {k: totals(store, project, x, SpanSelect(root=True)) for k, x in (("cur", w), ("prev", prev))}
    spend = {k: totals(store, project, x, SpanSelect()) for k, x in (("cur", w), ("prev", prev))}
    # One pass over the scores of the last three weeks serves the evaluators, the measures and the versions.
    cube = regressions.score_cube(store, project, w)
    hists = regressions.fold(cube[0], 0, keep={"current", "previous"})
    periods = regressions.compare_periods(store, project, w, hists=hists, examples=False)
    # The worst traces of the week and the traces behind its drops: one lookup for both.
    quality_keys = [(r["name"], r["source"]) for r in periods["evaluators"] if r["n_b"] and r["name"] in QUALITY]
    found = regressions.example_traces(store, project, w, None, "", sorted(
        set(quality_keys) | {(r["name"], r["source"]) for r in periods["regressions"]}), ALL_TRAFFIC, limit=WORST)
    for r in periods["evaluators"]:
        r["examples"] = _linked(found.get((r["name"], r["source"]), []) if r["regressed"] else [], base)
    versions = regressions.release_regressions(store, project, w, cube=cube)
    for v in versions:
        for r in v["evaluators"]:
            r["examples"] = _linked(r["examples"], base)
    incidents, incident_total = safety.list_incidents(store, project, w, limit=INCIDENTS)
    safety_now = safety.safety_summary(store, project, w)
    worst = [{"evaluator": name, "source": source, **r, "link": links.trace_url(base, r["trace_id"])}
             for (name, source), rows in sorted(found.items()) if (name, source) in quality_keys for r in rows]
    slowest = [{k: t.get(k) for k in ("trace_id", "name", "root_duration_ms", "start_time")}
               | {"link": links.trace_url(base, t["trace_id"])} for t in explore.slowest_traces(store, project, w,
                                                                                               limit=WORST)]
    window_links = links.filters({}, w.start, w.end)
    return {
        "project": project, "week": week, "start": w.start, "end": w.end, "previous_start": prev.start,
        "volume": {"requests": req["cur"]["requests"], "previous_requests": req["prev"]["requests"],
                   "spans": spend["cur"]["spans"], "errors": req["cur"]["errors"]},
        "cost": {"total": spend["cur"]["cost_usd"], "previous_total": spend["prev"]["cost_usd"],
                 "unpriced_spans": spend["cur"]["unpriced"]},
        "daily": {"current": _daily(store, project, w), "previous": _daily(store, project, prev)},
        "measures": weekly_measures(store, project, w, safety_now, regressions.rate_from_pairs(versions), hists),
        "evaluators": periods["evaluators"],
        "regressions": {"week_over_week": periods["regressions"],
                        "prompt_versions": [v for v in versions if v["tested"]]},
        "safety": {**safety_now, "incidents": _linked(incidents, base),
                   "incident_total": incident_total,
                   "link": links.page_url(base, "safety", **window_links)},
        "drift": _drift(store, project, w, settings, base),
        "calibration": _calibration(store, project, settings),
        "worst_traces": worst, "slowest_traces": slowest,
        "links": {"overview": links.page_url(base, "overview", **window_links),
                  "regressions": links.page_url(base, "regressions", **window_links),
                  "quality": links.page_url(base, "quality", **window_links)},
    }
