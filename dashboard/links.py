"""Stable dashboard URLs, built from the `public_url` setting, for alerts, reports and the pages themselves.

Import-light on purpose (no Streamlit): alert and report code links into the dashboard with these.
Every page reads the same query parameters, so a link keeps its filters when it moves between pages.
"""

from __future__ import annotations

from urllib.parse import urlencode

# Every page streamlit_app.py registers (page key -> its url_path; the overview is the root), the trend pages
# (analytics/) included: the one list that alert, report and in-dashboard links are built from.
PAGES = {"overview": "", "traces": "traces", "sessions": "sessions", "cost": "cost", "latency": "latency",
         "quality": "quality", "drift": "drift", "safety": "safety", "regressions": "regressions",
         "alerts": "alerts", "reports": "reports", "review": "review"}
# Query parameters shared by every page (time window and segment filters).
FILTER_PARAMS = ("start", "end", "service", "environment", "model", "prompt_version", "days")


def page_url(public_url: str, page: str, **params: object) -> str:
    if page not in PAGES:
        raise ValueError(f"unknown dashboard page {page!r}; pages: {', '.join(PAGES)}")
    base = public_url.rstrip("/") + "/" + PAGES[page]
    # Datetimes (a window's start and end) as ISO 8601, the form every page parses back.
    clean = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()
             if v not in (None, "", [])}
    return f"{base}?{urlencode(clean, doseq=True)}" if clean else base


def trace_url(public_url: str, trace_id: str, **filters: object) -> str:
    return page_url(public_url, "traces", trace=trace_id, **filters)


def session_url(public_url: str, session_id: str, **filters: object) -> str:
    return page_url(public_url, "sessions", session=session_id, **filters)


def traces_search_url(public_url: str, **filters: object) -> str:
    """The Traces page with a search applied, e.g. score='groundedness<0.5', model='gpt-4o'."""
    return page_url(public_url, "traces", **filters)


def quality_url(public_url: str, evaluator: str | None = None, **filters: object) -> str:
    return page_url(public_url, "quality", evaluator=evaluator, **filters)
