"""Safety: incident rate over time from the rubric and LLM safety evaluators, by segment, and the
incidents themselves, each linked to its trace."""

import streamlit as st

from dashboard import trends_ui as tr
from dashboard import ui

st.title("Safety")
params = tr.segment_params()
summary = ui.fetch("/api/safety/summary", params)
if summary is None:
    st.stop()
cats = summary["categories"]
if not cats[0]["judged"]:
    ui.empty("safety verdicts", "enable the safety rubrics (pii_output, secrets, prompt_injection, jailbreak, "
             "toxicity_words) or the toxicity judge in loupe.yaml")
cols = st.columns(len(cats))
for col, c in zip(cols, cats, strict=True):
    delta = None
    if c["rate"] is not None and c["previous_rate"] is not None:
        delta = f"{(c['rate'] - c['previous_rate']) * 100:+.1f} pts"
    col.metric(c["label"], ui.pct(c["rate"]), delta, delta_color="inverse", border=True,
               help=f"{c['incidents']:,} of {c['judged']:,} judged traces; the window before: "
                    f"{ui.pct(c['previous_rate'])}; p = {tr.pval(c['p_value'])} (two-proportion z). "
                    f"Evaluators: {', '.join(c['evaluators']) or 'all safety evaluators'}")

segments = {"none": None, "service": "service", "model": "model", "prompt version": "prompt_version",
            "environment": "environment"}
by_label = st.segmented_control("Break down by", list(segments), default=ui.param("by", "none"), key="s_by") or "none"
ui.set_param("by", None if by_label == "none" else by_label)
by = segments[by_label]
series = ui.fetch("/api/safety/series", {**params, "bucket": "auto", **({"by": by} if by else {})})
if series is not None:
    df = ui.frame(series["data"])
    if not df.empty:
        c1, c2 = st.columns(2)
        with c1:
            ui.line(df, "rate", "Incident rate (share of judged traces)", fmt=".1%")
        with c2:
            ui.line(df, "incidents", "Incident traces", fmt=",d", mark="bar")
if by:
    table = ui.fetch("/api/safety/segments", {**params, "by": by})
    if table is not None and table["data"]:
        st.dataframe(ui.frame(table["data"]), hide_index=True,
                     column_config={"rate": st.column_config.NumberColumn(format="percent")})

st.subheader("Incidents")
labels = {"all": None, **{c["label"]: c["category"] for c in cats[1:]}}
pick = st.selectbox("Category", list(labels), key="s_cat")
page = int(ui.param("page", "0") or 0)
found = ui.fetch("/api/safety/incidents", {**params, "limit": 25, "offset": page * 25,
                                           **({"category": labels[pick]} if labels[pick] else {})})
if found is not None:
    st.caption(f"{found['total']:,} incident verdicts, newest first")
    for i in found["data"]:
        models = ", ".join(i["models"]) if i.get("models") else ""
        ui.link("traces", f"{str(i['t_start'])[:16]} · {i['name']} ({i['where']}) = {i['value']:g} · {i['service']}"
                          f"{' · ' + models if models else ''} · {i['prompt'] or ''} →", trace=i["trace_id"])
        if i.get("rationale"):
            st.caption(i["rationale"][:300])
    nav = st.columns(2)
    if page and nav[0].button("← Newer", key="s_prev"):
        ui.set_param("page", page - 1)
        st.rerun()
    if found["next_offset"] is not None and nav[1].button("Older →", key="s_next"):
        ui.set_param("page", page + 1)
        st.rerun()
tr.permalink("safety")
