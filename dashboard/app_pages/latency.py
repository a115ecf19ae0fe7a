"""Latency: request and model-call percentiles, TTFT by model and kind, the slowest traces."""

import streamlit as st

from dashboard import ui

st.title("Latency")
params = ui.filter_bar(("service", "environment", "model"))

requests = ui.fetch("/api/series", {**{k: v for k, v in params.items() if k != "model"}, "bucket": "auto",
                                    "root": "true"})
if requests is not None:
    df = ui.frame(requests["data"])
    if df.empty:
        ui.empty("requests")
    else:
        long = df.melt(id_vars=["time"], value_vars=["latency_p50", "latency_p95", "latency_p99"],
                       var_name="group", value_name="ms")
        ui.line(long, "ms", "Request latency (root spans), ms", fmt=",.0f")

by = st.segmented_control("Model calls by", ["model", "kind"], default=ui.param("by", "model"), key="lat_by") or "model"
ui.set_param("by", by)
calls = ui.fetch("/api/series", {**params, "bucket": "auto", "breakdown": by, "root": "false"})
if calls is not None and calls["data"]:
    df = ui.frame(calls["data"])
    df = df[df["group"] != ""]
    c1, c2 = st.columns(2)
    with c1:
        ui.line(df, "latency_p95", f"p95 latency by {by}, ms", fmt=",.0f")
    with c2:
        ui.line(df, "ttft_p50", f"Time to first token p50 by {by}, ms", fmt=",.0f")
    summary = df.groupby("group", as_index=False).agg(spans=("spans", "sum"), p50=("latency_p50", "median"),
                                                      p95=("latency_p95", "max"), ttft_p50=("ttft_p50", "median"))
    st.dataframe(summary, hide_index=True)

st.subheader("Slowest traces")
slow = ui.fetch("/api/traces/slowest", {k: v for k, v in params.items() if k in ("start", "end", "service",
                                                                                  "environment")} | {"limit": 15})
if slow is not None:
    if not slow["data"]:
        ui.empty("traces")
    for t in slow["data"]:
        ui.link("traces", f"{ui.ms(t['root_duration_ms'])} · {t['name']} · {t['service_name']} · "
                f"{t['start_time'][:19]} →", trace=t["trace_id"])
ui.permalink("latency", by=by)
