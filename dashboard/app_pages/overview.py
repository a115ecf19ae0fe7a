"""Overview: the success measures for the last week, each beside the week before."""

import streamlit as st

from dashboard import ui

st.title("Overview")
me = ui.active()
st.caption(f"Project **{me['project']}** · the last 7 days compared with the 7 days before")

body = ui.fetch("/api/measures", {"days": 7})
if body is not None:
    measures = body["measures"]
    if all(m["n"] == 0 for m in measures):
        ui.empty("traffic", "send traces to the collector (see the README) or pick another project")
    fmt = {"usd": ui.usd, "ms": ui.ms, "ratio": ui.pct}
    for row in range(0, len(measures), 4):
        cols = st.columns(4)
        for col, m in zip(cols, measures[row:row + 4], strict=False):
            show = fmt[m["unit"]]
            delta = None
            if m["change"] is not None:
                delta = (f"{m['change'] * 100:+.1f} pts" if m["unit"] == "ratio" else
                         f"{m['change_pct'] * 100:+.1f}%" if m["change_pct"] is not None else None)
            note = (f"{m['n']:,} this week, {m['previous_n']:,} the week before; "
                    f"previous value {show(m['previous'])}")
            col.metric(m["label"], show(m["value"]), delta, help=note, border=True,
                       delta_color="normal" if m["higher_is_better"] else "inverse")
    versions = [v for v in body["prompt_versions"] if v["n"]]
    if versions:
        st.subheader("Prompt versions")
        st.caption("Mean quality score per prompt version; a regression is a drop of more than 1.96 standard "
                   "errors from the version before (both with at least 20 scores).")
        st.dataframe(ui.frame([{"prompt": v["prompt_name"], "version": v["prompt_version"], "scores": v["n"],
                                "mean quality": round(v["mean"], 3), "previous": v["previous"],
                                "z": None if v["z"] is None else round(v["z"], 2), "regressed": v["regressed"]}
                               for v in versions]), hide_index=True)

st.subheader("Traffic")
params = {**ui.window(), "bucket": "auto", "root": "true"}
series = ui.fetch("/api/series", params)
if series is not None:
    df = ui.frame(series["data"])
    if df.empty:
        ui.empty("requests")
    else:
        c1, c2 = st.columns(2)
        with c1:
            ui.line(df, "requests", "Requests", fmt=",d", mark="bar")
        with c2:
            ui.line(df, "error_rate", "Error rate", fmt=".1%")
cols = st.columns(5)
for col, (page, label) in zip(cols, [("traces", "Traces →"), ("cost", "Cost →"), ("latency", "Latency →"),
                                     ("quality", "Quality →"), ("sessions", "Sessions →")], strict=True):
    with col:
        ui.link(page, label)
ui.permalink("overview")
