"""Quality: scores over time by evaluator and segment, distributions, worst traces, judge calibration."""

import altair as alt
import streamlit as st

from dashboard import ui

st.title("Quality")
params = ui.filter_bar(())
summary = ui.fetch("/api/scores/summary", params)
if summary is not None and not summary["data"]:
    ui.empty("scores", "configure judges in loupe.yaml, or send feedback with the SDK")
    st.stop()
if summary is None:
    st.stop()

names = sorted({s["name"] for s in summary["data"]})
st.subheader("Evaluators")
cols = st.columns(min(4, len(names)))
for i, s in enumerate(sorted(summary["data"], key=lambda s: (s["name"], s["source"]))):
    arrow = "↑ better" if s["higher_is_better"] else "↓ better"
    cols[i % len(cols)].metric(f"{s['name']} ({s['source']})", "—" if s["mean"] is None else f"{s['mean']:.3f}",
                               help=f"{s['n']:,} scores · {arrow}", border=True)

series = ui.fetch("/api/scores/series", {**params, "bucket": "auto"})
if series is not None:
    df = ui.frame(series["data"])
    if not df.empty:
        df["group"] = df["name"] + " · " + df["source"]
        ui.line(df, "mean", "Mean score by evaluator", fmt=".2f")

default = ui.param("evaluator") if ui.param("evaluator") in names else names[0]
evaluator = st.selectbox("Evaluator", names, index=names.index(default), key="q_eval")
ui.set_param("evaluator", evaluator)
segments = {"model": "model", "prompt version": "prompt_version", "service": "service", "environment": "environment"}
by = st.segmented_control("Segment", list(segments), default=ui.param("segment", "prompt version"),
                          key="q_seg") or "prompt version"
ui.set_param("segment", by)

c1, c2 = st.columns(2)
with c1:
    seg = ui.fetch("/api/scores/series", {**params, "bucket": "auto", "name": evaluator,
                                          "breakdown": segments[by]})
    if seg is not None:
        ui.line(ui.frame(seg["data"]), "mean", f"{evaluator} by {by}", fmt=".2f")
with c2:
    dist = next((s for s in summary["data"] if s["name"] == evaluator), None)
    if dist:
        chart = alt.Chart(ui.frame(dist["distribution"]), title=f"{evaluator}: distribution").mark_bar().encode(
            x=alt.X("value:O", title="value"), y=alt.Y("count:Q", title="scores"), tooltip=["value", "count"])
        st.altair_chart(chart, width="stretch")
table = ui.fetch("/api/quality/segments", {**params, "by": segments[by], "name": evaluator})
if table is not None and table["data"]:
    st.dataframe(ui.frame(table["data"]), hide_index=True)

st.subheader(f"Worst traces on {evaluator}")
worst = ui.fetch("/api/traces/worst", {**params, "evaluator": evaluator, "limit": 10})
if worst is not None:
    if not worst["data"]:
        ui.empty(f"traces scored on {evaluator}")
    for t in worst["data"]:
        s = t["score"]
        ui.link("traces", f"{s['value']:g} {s['label']} · {t['name']} · {(t['input_preview'] or '')[:80]} →",
                trace=t["trace_id"])
        if s["rationale"]:
            st.caption(s["rationale"])
    bad = f"{evaluator}<0.5" if dist is None or dist["higher_is_better"] else f"{evaluator}>=0.5"
    ui.link("traces", f"All traces with {bad} →", score=bad)

st.subheader("Judge calibration")
me = ui.active()
try:
    calibration = ui.client.get("/api/judges/calibration", me["key"], params)
except ui.client.ApiError as exc:
    calibration = None
    st.info("Calibration appears once people have reviewed samples that judges also scored "
            f"(the server answered: {exc.message}).")
if calibration is not None:
    rows = calibration.get("data") or []
    columns = ["evaluator", "name", "n", "accuracy", "kappa", "spearman", "flagged", "reason"]
    if rows:
        st.caption(f"A judge is flagged when its agreement with reviewers falls below "
                   f"{calibration.get('min_agreement')} over at least {calibration.get('min_pairs')} pairs.")
        st.dataframe(ui.frame([{c: r.get(c) for c in columns} for r in rows]), hide_index=True)
        for r in rows:
            if r.get("flagged"):
                st.warning(f"Judge **{r['evaluator']}** disagrees with reviewers on {r.get('name')} "
                           f"(kappa {r.get('kappa')}, accuracy {r.get('accuracy')}).")
    else:
        st.info("No judge has been compared with human reviews yet: score samples on the Review page.")
ui.permalink("quality", evaluator=evaluator, segment=by)
