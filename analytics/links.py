"""Dashboard URLs for alerts and reports, over dashboard/links.py's one list of pages (trend pages included).

The trend pages (drift, safety, regressions, alerts) read the same filter parameters as every other page
(start, end, service, environment, model, prompt_version), so a link opens the view behind a number.
dashboard/links.py imports no Streamlit, so the collector and the alert scheduler can use it.
"""

from __future__ import annotations

from typing import Any

from dashboard import links as dash


def page_url(public_url: str, page: str, **params: Any) -> str:
    """A page's URL with its query parameters (None and empty values left out, datetimes as ISO 8601)."""
    return dash.page_url(public_url, page, **params)


def trace_url(public_url: str, trace_id: str) -> str:
    return dash.trace_url(public_url, trace_id)


def filters(segment: dict[str, str], start: Any = None, end: Any = None) -> dict[str, Any]:
    """A segment and window as the dashboard's query parameters (its name for a prompt is prompt_version)."""
    out: dict[str, Any] = {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None}
    for key, value in segment.items():
        out["prompt_version" if key == "prompt" else key] = value
    return out


def measure_page(metric: str) -> tuple[str, dict[str, Any]]:
    """The page that shows a metric, and the extra parameters that focus it."""
    if metric.startswith("score:"):
        return "quality", {"evaluator": metric[6:]}
    if metric.startswith("cost"):
        return "cost", {}
    if metric.startswith("latency"):
        return "latency", {}
    if metric == "safety_incident_rate":
        return "safety", {}
    if metric == "prompt_regression_rate":
        return "regressions", {}
    if metric in ("task_completion_rate", "grounded_answer_quality", "retrieval_relevance", "user_satisfaction",
                  "escalation_rate"):
        return "quality", {}
    return "overview", {}
