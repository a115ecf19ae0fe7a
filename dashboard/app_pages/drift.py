"""Drift: the window's traffic against the window before it (or a pinned baseline): features ranked,
topics that grew with example traces, and the trend of the drift score."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import trends_ui as tr
from dashboard import ui

st.title("Drift")
params = tr.segment_params()
reference = st.segmented_control("Reference", ["previous", "baseline"], default=ui.param("reference", "previous"),
                                 key="d_ref") or "previous"
ui.set_param("reference", None if reference == "previous" else reference)
body = ui.fetch("/api/drift", {**params, "reference": reference})
if body is None:
    if reference == "baseline":
        st.info("No baseline is pinned for this segment: pin one below, or compare with the previous window.")
else:
    cur, ref = body["current"], body["reference"]
    st.caption(f"{cur['calls']:,} LLM calls in this window against {ref['calls']:,} in the {ref['kind']} window "
               f"({pd.Timestamp(ref['start']):%d %b %H:%M} – {pd.Timestamp(ref['end']):%d %b %H:%M} UTC). "
               f"Text: {body['method']['vectors']}, up to {body['method']['text_sample']:,} per window.")
    if not cur["calls"]:
        ui.empty("LLM calls")
    c = st.columns(5)
    c[0].metric("Drift score", f"{body['score']:.3f}", help="0 = no significant drift; 1 = the windows are "
                "fully separable. The largest separability among significant components.", border=True)
    c[1].metric("Drifted", "yes" if body["drifted"] else "no", border=True)
    c[2].metric("Input AUC", tr.num(body["input_auc"]), help="domain classifier, 5-fold CV", border=True)
    c[3].metric("Output AUC", tr.num(body["output_auc"]), border=True)
    c[4].metric("Largest PSI", tr.num(body["max_psi"]), help="0.1 moderate, 0.25 major", border=True)

    st.subheader("Features, ranked")
    rows = [{"feature": x["name"], "kind": x["kind"], "score": round(x["score"], 3), "PSI": x.get("psi"),
             "AUC": x.get("auc"), "test": x.get("test", "permutation"), "p (corrected)": tr.pval(x.get("p_adjusted")),
             "drifted": x.get("drifted", False), "note": x.get("note", "")} for x in body["components"]]
    st.dataframe(ui.frame(rows), hide_index=True)
    detail = [x for x in body["components"] if x.get("categories") or x.get("bins")]
    if detail:
        pick = st.selectbox("Distribution of", [x["name"] for x in detail], key="d_feature")
        comp = next(x for x in detail if x["name"] == pick)
        if comp.get("categories"):
            data = [{"value": k["value"], "window": w, "share": k[f"{w}_share"]}
                    for k in comp["categories"] for w in ("reference", "current")]
        else:
            edges = comp["bins"]["edges"]
            names = [f"≤ {edges[0]:.4g}"] + [f"{a:.4g}–{b:.4g}" for a, b in zip(edges, edges[1:], strict=False)] + \
                [f"> {edges[-1]:.4g}" if edges else "all"]
            data = [{"value": names[i], "window": w, "share": comp["bins"][w][i]}
                    for i in range(len(names)) for w in ("reference", "current")]
        chart = alt.Chart(pd.DataFrame(data), title=pick).mark_bar().encode(
            x=alt.X("value:N", sort=None, title=None), xOffset="window:N",
            y=alt.Y("share:Q", axis=alt.Axis(format="%")),
            color=alt.Color("window:N", title=None), tooltip=["value", "window", alt.Tooltip("share:Q", format=".1%")])
        st.altair_chart(chart, width="stretch")

    st.subheader("Topics that grew")
    grown = [(part, k) for part in ("input", "output") for k in body["clusters"][part] if k["grew"]]
    if not grown:
        st.caption("No cluster of inputs or outputs grew significantly.")
    for part, k in grown:
        tag = "new" if k["appeared"] else "grew"
        with st.expander(f"{part}: {', '.join(k['terms'][:5])} — {k['reference_share']:.1%} → "
                         f"{k['current_share']:.1%} ({tag})", expanded=k["appeared"]):
            tr.trace_links(k["examples"])

st.subheader("Drift score over time")
step = st.segmented_control("Step", ["day", "hour"], default="day", key="d_step") or "day"
trend = ui.fetch("/api/drift/trend", {**{k: v for k, v in params.items() if k not in ("start", "end")},
                                      "end": params.get("end"), "points": 7, "step": step, "reference": reference})
if trend is not None and trend["data"]:
    df = ui.frame(trend["data"]).rename(columns={"window_end": "time"})
    df["time"] = pd.to_datetime(df["time"], utc=True)
    base = alt.Chart(df, title="Drift score (each step against the one before)")
    line = base.mark_line().encode(x=alt.X("time:T", title=None), y=alt.Y("score:Q", title=None))
    dots = base.mark_point(filled=True, size=70).encode(
        x="time:T", y="score:Q", color=alt.Color("drifted:N", scale=alt.Scale(range=["#9ca3af", "#dc2626"])),
        tooltip=["time:T", alt.Tooltip("score:Q", format=".3f"), "drifted:N", "top_feature:N", "spans:Q"])
    st.altair_chart(line + dots, width="stretch")

if ui.can("admin"):
    with st.expander("Pin a baseline for this segment"):
        seg = {k: v for k, v in params.items() if k in ("service", "model", "prompt", "environment")}
        with st.form("pin"):
            start = st.date_input("From (UTC)", key="d_pin_start")
            end = st.date_input("To (UTC, exclusive)", key="d_pin_end")
            note = st.text_input("Note", key="d_pin_note")
            if st.form_submit_button("Pin"):
                tr.admin_post("/api/drift/baseline", {"segment": seg, "start": f"{start}T00:00:00Z",
                                                      "end": f"{end}T00:00:00Z", "note": note}, "Baseline pinned.")
        if st.button("Un-pin this segment's baseline", key="d_unpin"):
            query = "&".join(f"{k}={v}" for k, v in seg.items())
            tr.admin_post(f"/api/drift/baseline/unpin?{query}", {}, "Baseline removed.")
tr.permalink("drift")
