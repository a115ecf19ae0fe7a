"""Traces: search with filters, a table, export, and the trace view (?trace=<id>)."""

import streamlit as st

from dashboard import trace_view, ui

st.title("Traces")
params = ui.filter_bar(("service", "environment", "model", "prompt_version"))
c1, c2, c3, c4 = st.columns([3, 2, 1, 1])
q = c1.text_input("Search input/output", value=ui.param("q", ""), placeholder="refund, password…")
score = c2.text_input("Score filter", value=ui.param("score", ""), placeholder="groundedness<0.5",
                      help="NAME<op>NUMBER with < <= > >= = !=; several separated by commas")
statuses = ["(all)", "ok", "error"]
status = c3.selectbox("Status", statuses, index=statuses.index(ui.param("status", "(all)")))
sorts = ["newest", "oldest", "duration", "cost", "tokens", "errors"]
sort = c4.selectbox("Sort", sorts, index=sorts.index(ui.param("sort", "newest")))
for name, value in (("q", q), ("score", score), ("status", status), ("sort", None if sort == "newest" else sort)):
    ui.set_param(name, value)
for name in ("session_id", "user_id", "kind"):
    if ui.param(name):
        params[name] = ui.param(name)
        st.caption(f"Filtered by {name.replace('_', ' ')} `{ui.param(name)}` — clear it in the URL to widen.")
if q:
    params["q"] = q
if score:
    params["score"] = [s.strip() for s in score.split(",") if s.strip()]
if status != "(all)":
    params["status"] = status

page = ui.fetch("/api/traces", {**params, "limit": 100, "sort": sort})
selected = ui.param("trace")
if page is not None:
    about = "about " if page.get("total_exact") is False else ""  # very large unfiltered searches are estimated
    st.caption(f"{about}**{page['total']:,}** traces match" + (" (showing the first 100)" if page["total"] > 100
                                                                else ""))
    if not page["data"]:
        ui.empty("traces match these filters")
    else:
        df = ui.frame(page["data"])[["start_time", "name", "trace_id", "duration_ms", "span_count", "error_count",
                                     "total_tokens", "cost_usd", "service_name", "user_id", "session_id",
                                     "input_preview"]]
        event = st.dataframe(df, hide_index=True, on_select="rerun", selection_mode="single-row", key="trace_table",
                             column_config={"cost_usd": st.column_config.NumberColumn("cost", format="$%.5f"),
                                            "duration_ms": st.column_config.NumberColumn("ms", format="%.0f"),
                                            "input_preview": st.column_config.TextColumn("input", width="large")})
        rows = event.selection.rows if event is not None else []
        if rows:
            selected = df.iloc[rows[0]]["trace_id"]
            ui.set_param("trace", selected)
        ex1, ex2, _ = st.columns([1, 1, 4])
        me = ui.active()
        export = {**params, "sort": sort}
        for col, fmt, mime in ((ex1, "jsonl", "application/x-ndjson"), (ex2, "csv", "text/csv")):
            col.download_button(f"Export {fmt.upper()}", file_name=f"traces.{fmt}", mime=mime, key=f"export_{fmt}",
                                data=lambda fmt=fmt: ui.client.text("/api/traces/export", me["key"],
                                                                    {**export, "format": fmt}))

if selected:
    st.divider()
    trace = ui.fetch(f"/api/traces/{selected}")
    if trace is not None:
        trace_view.render(trace)
        ui.permalink("traces", trace=selected)
else:
    ui.permalink("traces")
