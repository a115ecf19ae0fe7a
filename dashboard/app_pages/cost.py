"""Cost: spend over time by model, provider, service, user or prompt version; top spenders; unpriced models."""

import streamlit as st

from dashboard import ui

st.title("Cost")
params = ui.filter_bar(("service", "environment", "model"))
breakdowns = {"model": "model", "provider": "provider", "service": "service", "user": "user",
              "prompt version": "prompt_version"}
by = st.segmented_control("Break down by", list(breakdowns), default=ui.param("by", "model"), key="cost_by") or "model"
ui.set_param("by", by)

totals = ui.fetch("/api/series", {**params, "bucket": "week"})
if totals is not None:
    spend = sum(p["cost_usd"] for p in totals["data"])
    requests = sum(p["requests"] for p in totals["data"])
    cols = st.columns(4)
    cols[0].metric("Spend", ui.usd(spend))
    cols[1].metric("Requests", f"{requests:,}")
    cols[2].metric("Cost per request", ui.usd(spend / requests if requests else None))
    cols[3].metric("Tokens", f"{sum(p['total_tokens'] for p in totals['data']):,}")

series = ui.fetch("/api/series", {**params, "bucket": "auto", "breakdown": breakdowns[by], "rank_by": "cost_usd"})
if series is not None:
    df = ui.frame(series["data"])
    if df.empty:
        ui.empty("spend")
    else:
        ui.line(df, "cost_usd", f"Spend by {by} (USD)", fmt="$,.4f", mark="bar")
        ui.line(df, "total_tokens", f"Tokens by {by}", fmt=",d")
        top = df.groupby("group", as_index=False)[["cost_usd", "total_tokens", "spans"]].sum()
        st.subheader(f"Top {by}s by spend")
        st.dataframe(top.sort_values("cost_usd", ascending=False), hide_index=True,
                     column_config={"cost_usd": st.column_config.NumberColumn("spend", format="$%.4f")})

st.subheader("Top spenders")
users = ui.fetch("/api/users", {**ui.window(), "sort": "cost", "limit": 10})
if users is not None:
    if users["data"]:
        st.dataframe(ui.frame(users["data"])[["user_id", "cost_usd", "traces", "sessions", "last_seen"]],
                     hide_index=True,
                     column_config={"cost_usd": st.column_config.NumberColumn("spend", format="$%.4f")})
    else:
        ui.empty("users", "traces name their user with `user.id`")

st.subheader("Unpriced models")
unpriced = ui.fetch("/api/models/unpriced", ui.window())
if unpriced is not None:
    if unpriced["data"]:
        st.warning("These models had calls with no known price: their spend is missing above. Add a "
                   "`price_overrides` entry in loupe.yaml to price them.")
        st.dataframe(ui.frame(unpriced["data"]), hide_index=True)
    else:
        st.success("Every model call in this window had a price.")
ui.permalink("cost", by=by)
