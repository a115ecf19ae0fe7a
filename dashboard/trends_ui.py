"""Helpers for the trend pages (drift, safety, regressions, alerts, reports): segment filters in the
trends API's vocabulary, admin calls, and a p-value format. UI only; every number comes from the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import streamlit as st

from dashboard import client, ui

SEGMENT_FIELDS = ("service", "model", "prompt_version", "environment")


def segment_params() -> dict[str, str]:
    """The filter bar's window and segment, with the prompt as `prompt=name:version` (the trends API's form)."""
    params = ui.filter_bar(SEGMENT_FIELDS)
    if "prompt_name" in params:
        params["prompt"] = f"{params.pop('prompt_name')}:{params.pop('prompt_version')}"
    return params


def pval(p: float | None) -> str:
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def admin_post(path: str, body: dict[str, Any], done: str) -> Any:
    """POST with the active key; shows the outcome. Returns the answer, or None when refused."""
    me = ui.active()
    try:
        answer = client.post(path, me["key"], body)
    except client.ApiError as exc:
        st.error(f"The server refused ({exc.status}): {exc.message}")
        return None
    st.success(done)
    st.cache_data.clear()  # lists on this page changed
    return answer


def trace_links(examples: list[dict[str, Any]], text_key: str = "text") -> None:
    for e in examples:
        label = (e.get(text_key) or e.get("label") or "")[:90] or e["trace_id"][:12]
        ui.link("traces", f"{label} →", trace=e["trace_id"])


def permalink(path: str, **extra: Any) -> None:
    """A shareable URL of this view (public_url + the page's filters), like the other pages show."""
    query = {**ui.kept_params(**extra), **{k: st.query_params[k] for k in ("reference", "by", "a", "b")
                                           if k in st.query_params}}
    url = f"{ui.public_url().rstrip('/')}/{path}" + (f"?{urlencode(query)}" if query else "")
    st.caption(f"Link to this view: [{url}]({url})")
