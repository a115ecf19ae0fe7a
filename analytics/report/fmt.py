"""Number formatting and the report's tables as plain rows, shared by the HTML and Markdown renderers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "usd":
        return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.4g}" if value else "$0"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return f"{int(value):,}"
    return f"{value:.3f}"


def change(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:+.1f} pts"
    if unit == "usd":
        digits = 2 if abs(value) >= 0.01 else 7  # costs per request are often fractions of a cent
        return f"{'+' if value >= 0 else '−'}${abs(value):,.{digits}f}"
    if unit == "ms":
        return f"{value:+,.0f} ms"
    return f"{value:+.3f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"


def pval(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def period(data: dict[str, Any]) -> str:
    last = data["end"] - timedelta(days=1)
    return f"{data['start']:%a %d %b %Y} – {last:%a %d %b %Y} (UTC)"


def headline_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(label, this week, last week, change) for the summary table."""
    by = {m["key"]: m for m in data["measures"]}
    vol, cost = data["volume"], data["cost"]

    def row(label: str, cur: float | None, prev: float | None, unit: str) -> tuple[str, str, str, str]:
        delta = cur - prev if cur is not None and prev is not None else None
        rel = pct(delta / prev) if delta is not None and prev else "—"
        return label, num(cur, unit), num(prev, unit), rel

    return [
        row("Requests", vol["requests"], vol["previous_requests"], "count"),
        row("Cost", cost["total"], cost["previous_total"], "usd"),
        *[row(by[k]["label"], by[k]["value"], by[k]["previous"], by[k]["unit"])
          for k in ("cost_per_request", "latency_p50", "latency_p95", "error_rate") if k in by],
    ]


def verdict(m: dict[str, Any]) -> str:
    if m.get("p_adjusted") is None:
        return "not tested"
    if not m.get("significant"):
        return "no significant change"
    return "better" if m.get("improved") else "worse"


def evaluator_verdict(r: dict[str, Any]) -> str:
    if not r["enough"]:
        return "too few scores"
    if r["regressed"]:
        return "regressed"
    if r["improved"]:
        return "improved"
    return "no significant change"


def ci(r: dict[str, Any]) -> str:
    if r.get("diff") is None:
        return "—"
    if r.get("ci_low") is None:
        return f"{r['diff']:+.3f}"
    return f"{r['diff']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def method_notes(data: dict[str, Any]) -> list[str]:
    drift = data["drift"]["method"]
    return [
        "Weeks are ISO weeks in UTC; every change compares this week with the week before.",
        "Success measures: Holm-corrected p-values; cost per request by Welch z on per-request cost, latency by "
        "Mann–Whitney U on request durations, rates by two-proportion z, mean scores by Mann–Whitney U; "
        "measures with fewer than 30 samples in either week are not tested.",
        "Evaluators: difference of means with a 95% bootstrap interval (2,000 resamples), Mann–Whitney U "
        "(two-proportion z for 0/1 scores), Holm-corrected over the evaluators; at least 30 scores per week.",
        f"Drift: {drift['vectors']} on up to {drift['text_sample']:,} texts per week, domain-classifier AUC "
        f"(logistic regression, 5-fold CV, up to {drift['permutations']} permutations); PSI with KS / chi-squared "
        f"on up to {drift['feature_sample']:,} calls per week; language: {drift['language']}.",
        "Safety: a trace is an incident when any safety evaluator scored it 0.5 or more.",
    ]
