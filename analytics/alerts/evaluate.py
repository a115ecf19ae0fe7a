"""One rule over one window: firing, ok, or unknown (not enough data to say), with the link behind it."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from analytics import drift, links, regressions
from analytics.alerts.config import DriftConfig, RuleConfig
from analytics.alerts.metrics import COUNT_LIKE, metric_value, span_count
from analytics.window import Window

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass
class Evaluation:
    status: str  # firing | ok | unknown
    value: float | None
    threshold: float | None
    n: int
    window: Window
    title: str
    message: str
    link: str
    details: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float | None) -> str:
    if value is None:
        return "no value"
    return f"{value:.4g}"


def _threshold(rule: RuleConfig, w: Window, public_url: str, store: Any) -> Evaluation:
    value, n = metric_value(store, rule.project, rule.metric or "", w, rule.seg)
    page, extra = links.measure_page(rule.metric or "")
    link = links.page_url(public_url, page, **links.filters(rule.segment, w.start, w.end), **extra)
    if value is None or (rule.metric not in COUNT_LIKE and n < rule.min_samples):
        return Evaluation("unknown", value, rule.value, n, w, f"{rule.metric}: not enough data",
                          f"{n} samples in the window (minimum {rule.min_samples})", link)
    firing = OPS[rule.op](value, rule.value)
    return Evaluation("firing" if firing else "ok", value, rule.value, n, w,
                      f"{rule.metric} is {_fmt(value)} ({rule.op} {rule.value:g})" if firing else
                      f"{rule.metric} is back to {_fmt(value)}",
                      f"{rule.metric} = {_fmt(value)} over {rule.window} for {rule.seg.describe()} "
                      f"(n = {n}); the rule fires when it is {rule.op} {rule.value:g}.", link)


def _change(rule: RuleConfig, w: Window, public_url: str, store: Any) -> Evaluation:
    cur, n = metric_value(store, rule.project, rule.metric or "", w, rule.seg)
    prev, prev_n = metric_value(store, rule.project, rule.metric or "", w.previous(), rule.seg)
    page, extra = links.measure_page(rule.metric or "")
    link = links.page_url(public_url, page, **links.filters(rule.segment, w.previous().start, w.end), **extra)
    counted = rule.metric in COUNT_LIKE
    if cur is None or prev is None or not prev or (not counted and min(n, prev_n) < rule.min_samples):
        return Evaluation("unknown", None, rule.value, n, w, f"{rule.metric} change: not enough data",
                          f"now {_fmt(cur)} (n = {n}), before {_fmt(prev)} (n = {prev_n})", link)
    change = (cur - prev) / abs(prev)
    firing = OPS[rule.op](change, rule.value)
    return Evaluation("firing" if firing else "ok", change, rule.value, n, w,
                      f"{rule.metric} changed {change:+.1%} ({rule.op} {rule.value:+.0%})" if firing else
                      f"{rule.metric} change is back to {change:+.1%}",
                      f"{rule.metric}: {_fmt(prev)} → {_fmt(cur)} ({change:+.1%}) over {rule.window} vs the "
                      f"{rule.window} before, {rule.seg.describe()}.", link, {"previous": prev, "current": cur})


def _drift(rule: RuleConfig, w: Window, public_url: str, store: Any, cfg: DriftConfig) -> Evaluation:
    link = links.page_url(public_url, "drift", **links.filters(rule.segment, w.start, w.end),
                          reference=rule.reference)
    try:
        result = drift.drift_report(store, rule.project, w, rule.seg, cfg, rule.reference)
    except LookupError as exc:
        return Evaluation("unknown", None, rule.value, 0, w, "drift: no baseline", str(exc), link)
    value = result[rule.metric or "score"]
    n = int(result["current"]["calls"])
    if value is None or n < rule.min_samples:
        return Evaluation("unknown", value, rule.value, n, w, "drift: not enough data", f"{n} LLM calls", link)
    firing = OPS[rule.op](value, rule.value)
    top = [c["name"] for c in result["components"] if c.get("drifted")][:5]
    return Evaluation("firing" if firing else "ok", value, rule.value, n, w,
                      f"drift {rule.metric} {_fmt(value)} ({rule.op} {rule.value:g})" if firing else
                      f"drift {rule.metric} back to {_fmt(value)}",
                      f"Drift of {rule.seg.describe()} over {rule.window} vs the {result['reference']['kind']} "
                      f"window: {rule.metric} = {_fmt(value)}; drifted: {', '.join(top) or 'nothing'}.", link,
                      {"drifted": top, "input_auc": result["input_auc"], "output_auc": result["output_auc"],
                       "max_psi": result["max_psi"]})


def _regression(rule: RuleConfig, w: Window, public_url: str, store: Any) -> Evaluation:
    link = links.page_url(public_url, "regressions", **links.filters(rule.segment, w.start, w.end),
                          compare=rule.compare)
    if rule.compare == "prompt_version":
        pairs = regressions.release_regressions(store, rule.project, w, "prompt_version", rule.seg,
                                                min_samples=rule.min_samples)
        found = [f"{p['group']} vs {p['previous']}: {r['name']} {r['diff']:+.3f}"
                 for p in pairs for r in p["regressions"]]
        tested = sum(p["tested"] for p in pairs)
    else:
        result = regressions.compare_periods(store, rule.project, w, rule.seg, min_samples=rule.min_samples)
        found = [f"{r['name']} ({r['source']}) {r['mean_a']:.3f} → {r['mean_b']:.3f} "
                 f"(95% CI {r['ci_low']:+.3f}..{r['ci_high']:+.3f}, p = {r['p_adjusted']:.2g})"
                 for r in result["regressions"]]
        tested = sum(r["enough"] for r in result["evaluators"])
    if not tested:
        return Evaluation("unknown", None, None, 0, w, "regression: nothing to compare",
                          "no evaluator has enough scores on both sides", link)
    firing = bool(found)
    return Evaluation("firing" if firing else "ok", float(len(found)), 0.0, tested, w,
                      f"{len(found)} significant regression(s)" if firing else "no significant regression",
                      "; ".join(found) if found else f"{tested} comparison(s), none significantly worse.", link,
                      {"regressions": found})


def _no_data(rule: RuleConfig, w: Window, public_url: str, store: Any) -> Evaluation:
    n = span_count(store, rule.project, w, rule.seg)
    link = links.page_url(public_url, "traces", **links.filters(rule.segment, w.start, w.end))
    firing = n == 0
    return Evaluation("firing" if firing else "ok", float(n), 0.0, n, w,
                      f"no data for {rule.window}" if firing else "data is flowing again",
                      f"{n} spans from {rule.seg.describe()} between {w.start:%Y-%m-%d %H:%M} and "
                      f"{w.end:%Y-%m-%d %H:%M} UTC.", link)


def evaluate(rule: RuleConfig, w: Window, store: Any, public_url: str, drift_cfg: DriftConfig) -> Evaluation:
    if rule.kind == "threshold":
        return _threshold(rule, w, public_url, store)
    if rule.kind == "change":
        return _change(rule, w, public_url, store)
    if rule.kind == "drift":
        return _drift(rule, w, public_url, store, drift_cfg)
    if rule.kind == "regression":
        return _regression(rule, w, public_url, store)
    return _no_data(rule, w, public_url, store)
