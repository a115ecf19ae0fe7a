"""UI pieces every page shares: sign-in state, filters kept in the URL, API calls with spinners and
error states that say what to do, number formats and Altair charts."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import client
from dashboard.links import FILTER_PARAMS, page_url

PAGE_FILES = {"overview": "app_pages/overview.py", "traces": "app_pages/traces.py",
              "sessions": "app_pages/sessions.py", "cost": "app_pages/cost.py", "latency": "app_pages/latency.py",
              "quality": "app_pages/quality.py", "review": "app_pages/review.py"}
WINDOWS = {"24 hours": 1, "7 days": 7, "14 days": 14, "30 days": 30}


# --- keys -------------------------------------------------------------------------------------


def keys() -> dict[str, dict[str, Any]]:
    """Signed-in keys by label ("project · key name"); the secret lives only in this session's state."""
    return st.session_state.setdefault("loupe_keys", {})


def active() -> dict[str, Any] | None:
    held = keys()
    label = st.session_state.get("loupe_active")
    return held.get(label) or (next(iter(held.values())) if held else None)


def sign_in(secret: str) -> str | None:
    """Check a key with the API; returns an error message, or None when signed in."""
    secret = secret.strip()
    if not secret:
        return "Paste an API key with the read scope (ask an admin: `loupe keys create --scopes read`)."
    try:
        who = client.whoami(secret)
    except client.ApiError as exc:
        if exc.status in (401, 403):
            return f"The server refused this key: {exc.message}. Check that it has the read scope."
        return exc.message
    label = f"{who['project']} · {who['key_name']}"
    keys()[label] = {"key": secret, "project": who["project"], "name": who["key_name"], "scopes": who["scopes"]}
    st.session_state["loupe_active"] = label
    return None


def can(scope: str) -> bool:
    me = active()
    return bool(me) and (scope in me["scopes"] or "admin" in me["scopes"])


def public_url() -> str:
    return os.environ.get("LOUPE_PUBLIC_URL", "http://127.0.0.1:8501")


# --- filters in the URL ----------------------------------------------------------------------


def param(name: str, default: str | None = None) -> str | None:
    return st.query_params.get(name, default)


def set_param(name: str, value: Any) -> None:
    if value in (None, "", "(all)"):
        st.query_params.pop(name, None)
    else:
        st.query_params[name] = str(value)


def kept_params(**extra: Any) -> dict[str, str]:
    """The current filters (for links to other pages) plus `extra`."""
    out = {k: st.query_params[k] for k in FILTER_PARAMS if k in st.query_params}
    out.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
    return out


def window() -> dict[str, str]:
    """start/end for the API: explicit start/end parameters, else the last `days` days."""
    if param("start"):
        return {"start": param("start"), "end": param("end") or ""}
    days = int(param("days", "7") or 7)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {"start": (end - timedelta(days=days)).isoformat(), "end": end.isoformat()}


def filter_bar(fields: tuple[str, ...] = ("service", "environment", "model")) -> dict[str, str]:
    """Time window and segment pickers, read from and written to the URL; returns API parameters."""
    facets = fetch("/api/facets", {**window()}, quiet=True) or {}
    cols = st.columns(1 + len(fields))
    labels = list(WINDOWS)
    days = param("days", "7")
    current = next((k for k, v in WINDOWS.items() if str(v) == days), "7 days")
    choice = cols[0].selectbox("Window", labels, index=labels.index(current), key="f_days")
    if str(WINDOWS[choice]) != days:
        set_param("days", WINDOWS[choice])
        st.query_params.pop("start", None)
        st.query_params.pop("end", None)
    values = {"service": facets.get("services", []), "environment": facets.get("environments", []),
              "model": facets.get("models", []), "prompt_version": facets.get("prompts", []),
              "kind": facets.get("kinds", [])}
    out: dict[str, str] = {}
    for col, name in zip(cols[1:], fields, strict=True):
        options = ["(all)", *values.get(name, [])]
        now = param(name)
        if now and now not in options:
            options.append(now)
        picked = col.selectbox(name.replace("_", " ").capitalize(), options,
                               index=options.index(now) if now else 0, key=f"f_{name}")
        set_param(name, picked)
        if picked != "(all)" and name == "prompt_version" and ":" in picked:
            out["prompt_name"], out["prompt_version"] = picked.rsplit(":", 1)  # shown as name:version
        elif picked != "(all)":
            out[name] = picked
    return {**window(), **out}


# --- API calls --------------------------------------------------------------------------------


def fetch(path: str, params: dict | None = None, quiet: bool = False, cache: bool = True) -> Any:
    """Call the read API with a spinner; on failure show what happened and what to do, return None."""
    me = active()
    if me is None:
        st.warning("Sign in with an API key first.")
        return None
    try:
        with st.spinner("Loading…"):
            return client.get(path, me["key"], params, cache=cache)
    except client.ApiError as exc:
        if quiet:
            return None
        if exc.status == 401:
            st.error(f"The server no longer accepts this key ({exc.message}). Sign out and sign in with a valid key.")
        elif exc.status == 403:
            st.error(f"This key may not do that: {exc.message}. Ask an admin for a key with that scope.")
        elif exc.status in (0, 503):
            st.error(f"{exc.message}. Retry in a moment; if it persists, check the server's log.")
        else:
            st.error(f"The request failed ({exc.status}): {exc.message}")
        return None


def empty(what: str, hint: str = "widen the time window or clear a filter") -> None:
    st.info(f"No {what} in this window — {hint}. New data shows up within seconds of being sent.")


# --- formats and charts -----------------------------------------------------------------------


def usd(v: float | None) -> str:
    if v is None:
        return "—"
    return f"${v:,.4f}" if abs(v) < 1 else f"${v:,.2f}"


def ms(v: float | None) -> str:
    return "—" if v is None else (f"{v / 1000:,.2f} s" if v >= 1000 else f"{v:,.0f} ms")


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in ("time", "start_time", "end_time", "first_seen", "last_seen"):
        if col in df:
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601")
    return df


def line(df: pd.DataFrame, y: str, title: str, color: str | None = "group", fmt: str = ",.2f",
         mark: str = "line") -> None:
    if df.empty or y not in df or df[y].dropna().empty:
        st.caption(f"{title}: no data")
        return
    base = alt.Chart(df.dropna(subset=[y]), title=title)
    chart = base.mark_bar() if mark == "bar" else base.mark_line(point=True)
    enc: dict[str, Any] = {"x": alt.X("time:T", title=None),
                           "y": alt.Y(f"{y}:Q", title=None, axis=alt.Axis(format=fmt)),
                           "tooltip": [alt.Tooltip("time:T"), alt.Tooltip(f"{y}:Q", format=fmt)]}
    if color and color in df:
        df = df.assign(**{color: df[color].replace("", "(none)")})  # spans without a model, prompt…
    if color and color in df and df[color].nunique() > 1:
        enc["color"] = alt.Color(f"{color}:N", title=None)
        enc["tooltip"].append(alt.Tooltip(f"{color}:N"))
    st.altair_chart(chart.encode(**enc), width="stretch")


def link(page: str, label: str, **extra: Any) -> None:
    st.page_link(PAGE_FILES[page], label=label, query_params=kept_params(**extra))


def permalink(page: str, **extra: Any) -> None:
    url = page_url(public_url(), page, **kept_params(**extra))
    st.caption(f"Link to this view: [{url}]({url})")
