"""Regressions: pick two prompt versions (or models, releases…) and see every evaluator side by side,
with the difference, its 95 % interval, the corrected p-value and the traces behind a drop; or compare
the window with the one before; or each prompt version with its predecessor."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import trends_ui as tr
from dashboard import ui

st.title("Regressions")
params = tr.segment_params()
modes = ["Two versions", "Window vs the one before", "Each version vs its predecessor"]
mode = st.segmented_control("Compare", modes, default=modes[0], key="r_mode") or modes[0]


def evaluators(body: dict) -> None:
    rows = body["evaluators"]
    if not rows:
        ui.empty("scores for these groups")
        return
    df = pd.DataFrame([{
        "evaluator": f"{r['name']} ({r['source']})", "A": r["mean_a"], "n A": r["n_a"], "B": r["mean_b"],
        "n B": r["n_b"], "B − A": r["diff"], "CI low": r["ci_low"], "CI high": r["ci_high"], "test": r["test"],
        "p (corrected)": tr.pval(r["p_adjusted"]),
        "verdict": "regressed" if r["regressed"] else "improved" if r["improved"] else
                   "too few scores" if not r["enough"] else "no significant change"} for r in rows])
    st.dataframe(df, hide_index=True, column_config={c: st.column_config.NumberColumn(format="%.3f")
                                                     for c in ("A", "B", "B − A", "CI low", "CI high")})
    plot = df.dropna(subset=["B − A"])
    if not plot.empty:
        base = alt.Chart(plot, title="Difference B − A with its 95 % bootstrap interval")
        bars = base.mark_rule(strokeWidth=2).encode(y=alt.Y("evaluator:N", title=None), x=alt.X("CI low:Q", title=None),
                                                   x2="CI high:Q")
        dots = base.mark_point(filled=True, size=80).encode(
            y="evaluator:N", x="B − A:Q", color=alt.Color("verdict:N", scale=alt.Scale(
                domain=["regressed", "improved", "no significant change", "too few scores"],
                range=["#dc2626", "#16a34a", "#6b7280", "#d1d5db"])), tooltip=list(plot.columns))
        zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
        st.altair_chart(bars + dots + zero, width="stretch")
    for r in body["regressions"]:
        with st.expander(f"Traces behind the drop in {r['name']} ({r['source']})", expanded=True):
            for e in r["examples"]:
                ui.link("traces", f"{r['name']} = {e['value']:g} {e.get('label') or ''} · "
                                  f"{(e.get('rationale') or '')[:80]} →", trace=e["trace_id"])


if mode == modes[0]:
    kinds = {"prompt version": "prompt_version", "model": "model", "release": "release", "service": "service",
             "environment": "environment"}
    by = kinds[st.selectbox("Group by", list(kinds), key="r_by")]
    groups = ui.fetch("/api/regressions/groups", {**params, "by": by})
    names = [g["group"] for g in (groups or {}).get("data", [])]
    if len(names) < 2:
        st.info("Fewer than two groups have traffic in this window: widen the window or change the grouping.")
    else:
        c1, c2 = st.columns(2)
        a = c1.selectbox("A (baseline)", names, index=len(names) - 2, key="r_a")
        b = c2.selectbox("B (candidate)", names, index=len(names) - 1, key="r_b")
        body = ui.fetch("/api/regressions/compare", {**params, "by": by, "a": a, "b": b})
        if body is not None:
            st.caption(f"Mann–Whitney U (two-proportion z for 0/1 scores), {body['correction'].title()}-corrected over "
                       f"the evaluators, α = {body['alpha']}, at least {body['min_samples']} scores per group.")
            evaluators(body)
elif mode == modes[1]:
    body = ui.fetch("/api/regressions/periods", params)
    if body is not None:
        st.caption(f"A = {pd.Timestamp(body['previous_start']):%d %b %H:%M} – {pd.Timestamp(body['start']):%d %b %H:%M}"
                   f", B = the window picked above (UTC).")
        evaluators(body)
else:
    body = ui.fetch("/api/regressions/versions", params)
    if body is not None:
        rate = body.get("prompt_regression_rate")
        if rate:
            st.metric("Prompt regression rate", ui.pct(rate["value"]), border=True,
                      help=f"share of the {rate['tested']} prompt versions tested in this window that scored "
                           "significantly worse than their predecessor on a quality evaluator")
        for pair in body["data"]:
            state = "regressed" if pair["regressed"] else "tested" if pair["tested"] else "too few scores"
            with st.expander(f"{pair['group']} vs {pair['previous']} — {state}", expanded=pair["regressed"]):
                evaluators(pair)
tr.permalink("regressions")
